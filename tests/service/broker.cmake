# The broker service in process (en_dispatcher_call) against a real gateway
# and registry (harness processes) and the sim cloud under the test's home.
en_test(NAME service.broker LABEL service TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_broker.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_broker)
add_dependencies(service.broker environs-gateway environs-registry)
