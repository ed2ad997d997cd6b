en_test(NAME e2e.restart LABEL e2e TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_restart.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus)
add_dependencies(e2e.restart environs-local environs-gateway environs-registry)
