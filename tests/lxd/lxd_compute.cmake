# The lxd compute driver against the real LXD daemon (lxd_compute.c):
# create/describe/list/tags/limits/terminate/release and 8 parallel creates.
en_lxd_test(NAME lxd.compute LABEL lxd TIMEOUT 600
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_compute.c
  LIBS en_providers PkgConfig::CURL Threads::Threads)
