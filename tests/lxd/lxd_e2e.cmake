# Juju's localhost cloud end to end: bootstrap, machines, ports with real
# packets, a broker killed mid-way and destroy-controller, through the CLI
# and every service against the real LXD daemon (label lxd).
en_lxd_test(NAME lxd.e2e LABEL lxd TIMEOUT 900
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_e2e.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus en_providers PkgConfig::CURL)
add_dependencies(lxd.e2e environs environs-gateway environs-registry environs-broker
  environs-firewaller environs-networking environs-imagemeta)
