# `metadata generate-image`: flags, the tree it writes, merging, signing,
# and the built binary's exit codes. EN_CLI_SRCS comes from cli.cmake.
en_test(NAME unit.cli_metadata LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_metadata.c ${EN_CLI_SRCS}
  LIBS en_bus en_simplestreams)
target_compile_definitions(unit.cli_metadata PRIVATE EN_VERSION="${PROJECT_VERSION}")
add_dependencies(unit.cli_metadata environs)
