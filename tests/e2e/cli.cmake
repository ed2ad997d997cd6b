en_test(NAME e2e.cli LABEL e2e TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus)
add_dependencies(e2e.cli environs environs-gateway environs-registry)
