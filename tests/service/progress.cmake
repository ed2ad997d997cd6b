# Progress lines through a real gateway process's event proxy.
en_test(NAME service.progress LABEL service TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_progress.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus)
add_dependencies(service.progress environs-gateway)
