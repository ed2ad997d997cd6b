# The network commands' views and filters (spaces, subnets, show-machine)
# built from hand-made wire results; EN_CLI_SRCS comes from cli.cmake,
# which the glob in tests/CMakeLists.txt includes first.
en_test(NAME unit.cli_network LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_network.c ${EN_CLI_SRCS}
  LIBS en_bus en_simplestreams)
target_compile_definitions(unit.cli_network PRIVATE EN_VERSION="${PROJECT_VERSION}")
