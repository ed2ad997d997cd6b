en_test(NAME e2e.cluster LABEL e2e TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cluster.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus)
add_dependencies(e2e.cluster environs-gateway environs-registry)
