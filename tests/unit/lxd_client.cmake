# The LXD REST client's pure parts (lib/providers/lxd/lxd_client.h): the
# error classifier's table, escaping and config validation. No sockets.
en_test(NAME unit.lxd_client LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_client.c
  LIBS en_providers en_common)
