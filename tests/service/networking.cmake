# The networking service in process (en_dispatcher_call) against a real
# gateway and registry (harness processes) and the sim cloud under the
# test's home.
en_test(NAME service.networking LABEL service TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_networking.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  ${PROJECT_SOURCE_DIR}/tests/harness_sim.c
  LIBS en_networking)
add_dependencies(service.networking environs-gateway environs-registry)
