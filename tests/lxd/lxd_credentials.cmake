# The lxd provider's FinalizeCredential (lib/providers/lxd/lxd_provider.c)
# against the real daemon: trust password and `lxc config trust add` token
# traded for a trusted client certificate over HTTPS on 127.0.0.1:18444
# (label lxd). It changes the daemon's core.https_address and
# core.trust_password (restored at the end), so it holds the resource lock
# lxd_core_config; lxd.client, which changes core.https_address too, is
# given the same lock here so that CTest never runs the two at once.
en_lxd_test(NAME lxd.credentials LABEL lxd TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_credentials.c LIBS en_providers en_common)
set_tests_properties(lxd.credentials PROPERTIES RESOURCE_LOCK lxd_core_config)
if(TEST lxd.client)
  set_property(TEST lxd.client APPEND PROPERTY RESOURCE_LOCK lxd_core_config)
endif()
