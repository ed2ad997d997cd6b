# The batch calls (StartInstances, StopInstances) through a real gateway,
# registry and broker, on the sim cloud.
en_test(NAME e2e.batch LABEL e2e TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_batch.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus en_providers)
add_dependencies(e2e.batch environs-gateway environs-registry environs-broker
  environs-firewaller)
