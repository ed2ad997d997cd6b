# The lxd provider's network API (lib/providers/lxd/lxd_network.c) against
# the real daemon: a bridge of its own in 10.209.0.0/16 and a busybox
# container with two NICs on it (label lxd).
en_lxd_test(NAME lxd.network LABEL lxd TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_network.c LIBS en_providers en_common)
