# The same LXD daemon as a remote cloud over HTTPS on 127.0.0.1:18446:
# add-cloud, an interactive credential FinalizeCredential trades for a
# trusted client certificate, bootstrap, machines and destroy-controller,
# through the CLI and every service (label lxd). It changes the daemon's
# core.https_address and core.trust_password (restored at the end), so it
# holds the resource lock lxd_core_config, as lxd.credentials does.
en_lxd_test(NAME lxd.remote LABEL lxd TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_remote.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  LIBS en_bus en_providers PkgConfig::CURL)
set_tests_properties(lxd.remote PROPERTIES RESOURCE_LOCK lxd_core_config)
add_dependencies(lxd.remote environs environs-gateway environs-registry environs-broker
  environs-firewaller environs-networking environs-imagemeta)
