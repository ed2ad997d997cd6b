# Container addresses at scale and across restarts: two networking replicas
# behind one gateway, 2 x 500 concurrent allocations (two clients, each an
# AllocateContainerAddressesMany of 500), then release; and a networking
# service SIGKILLed and restarted between allocations.
en_test(NAME e2e.network_alloc LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_network_alloc.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  ${PROJECT_SOURCE_DIR}/tests/harness_sim.c
  LIBS en_bus en_providers)
add_dependencies(e2e.network_alloc environs-gateway environs-registry environs-broker
  environs-networking)
