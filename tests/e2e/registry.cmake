en_test(NAME e2e.registry LABEL e2e TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_registry.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus)
add_dependencies(e2e.registry environs-gateway environs-registry)
