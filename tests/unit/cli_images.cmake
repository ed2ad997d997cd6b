# `images` and `metadata sources|add-source|remove-source`: their tables,
# views, --verbose lines and argument checks from hand-built wire results;
# EN_CLI_SRCS comes from cli.cmake, which the glob includes first.
en_test(NAME unit.cli_images LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_images.c ${EN_CLI_SRCS}
  LIBS en_bus en_simplestreams)
target_compile_definitions(unit.cli_images PRIVATE EN_VERSION="${PROJECT_VERSION}")
