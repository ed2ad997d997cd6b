# The firewaller's group calls in process (en_dispatcher_call) against a real
# gateway and registry (harness processes) and the sim cloud under the
# test's home.
en_test(NAME service.firewaller LABEL service TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_firewaller.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_firewaller)
add_dependencies(service.firewaller environs-gateway environs-registry)
