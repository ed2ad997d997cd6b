# A controller's life through the `environs` CLI (bootstrap, add-machine,
# machines, remove-machine, destroy-controller, kill-controller) against a
# real gateway, registry and broker on the sim cloud.
en_test(NAME e2e.machines LABEL e2e TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_machines.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus en_providers)
add_dependencies(e2e.machines environs environs-gateway environs-registry environs-broker
  environs-firewaller)
