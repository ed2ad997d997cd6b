# The cloud's networks through the `environs` CLI (spaces, subnets by
# space and zone, show-machine's NICs) against a real gateway, registry,
# broker, firewaller and networking service on the sim cloud; the bus
# fixture's worker actor stands in for a networking service without spaces.
en_test(NAME e2e.cli_network LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_network.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  ${PROJECT_SOURCE_DIR}/tests/service/bus_fixture.c
  LIBS en_bus)
add_dependencies(e2e.cli_network environs environs-gateway environs-registry environs-broker
  environs-firewaller environs-networking)
