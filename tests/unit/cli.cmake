# The CLI's parsing and formatting, linked from cli/ without main.c; the
# format test also runs the built `environs` binary, so it depends on it.
set(EN_CLI_DIR ${PROJECT_SOURCE_DIR}/cli)
set(EN_CLI_SRCS
  ${EN_CLI_DIR}/cli.c ${EN_CLI_DIR}/args.c ${EN_CLI_DIR}/session.c ${EN_CLI_DIR}/format.c
  ${EN_CLI_DIR}/progress.c ${EN_CLI_DIR}/commands_clouds.c
  ${EN_CLI_DIR}/commands_credentials.c ${EN_CLI_DIR}/commands_models.c
  ${EN_CLI_DIR}/commands_bootstrap.c ${EN_CLI_DIR}/commands_machines.c
  ${EN_CLI_DIR}/commands_ports.c ${EN_CLI_DIR}/commands_network.c
  ${EN_CLI_DIR}/commands_metadata.c ${EN_CLI_DIR}/commands_images.c)
en_test(NAME unit.cli_format LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_format.c ${EN_CLI_SRCS}
  LIBS en_bus en_simplestreams)
target_compile_definitions(unit.cli_format PRIVATE EN_VERSION="${PROJECT_VERSION}")
add_dependencies(unit.cli_format environs)
en_test(NAME unit.cli_ports LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_ports.c ${EN_CLI_SRCS}
  LIBS en_bus en_simplestreams)
target_compile_definitions(unit.cli_ports PRIVATE EN_VERSION="${PROJECT_VERSION}")
