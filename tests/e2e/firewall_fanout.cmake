# Firewalling many machines at once (OpenPortsMany, ClosePortsMany) and the
# lives of their security groups, through a real gateway, registry, broker
# and firewaller on the sim cloud; a firewaller killed mid-call.
en_test(NAME e2e.firewall_fanout LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_firewall_fanout.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus en_providers)
add_dependencies(e2e.firewall_fanout environs-gateway environs-registry environs-broker
  environs-firewaller)
