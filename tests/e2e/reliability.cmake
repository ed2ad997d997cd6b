en_test(NAME e2e.reliability LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_reliability.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  ${PROJECT_SOURCE_DIR}/tests/harness_sim.c
  LIBS en_bus en_providers)
add_dependencies(e2e.reliability environs environs-gateway environs-registry environs-broker
  environs-firewaller)
