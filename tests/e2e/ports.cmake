# The firewall through the `environs` CLI (open-port, close-port, ports at
# model and machine level, wrong modes refused) against a real gateway,
# registry, broker and firewaller on the sim cloud.
en_test(NAME e2e.ports LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ports.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus)
add_dependencies(e2e.ports environs environs-gateway environs-registry environs-broker
  environs-firewaller)
