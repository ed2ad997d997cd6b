# The LXD REST client (lib/providers/lxd/lxd_client.h) against the real
# daemon: envelopes, async operations, ETags, projects, the file API and
# HTTPS with client certificates on 127.0.0.1:18443 (label lxd).
en_test(NAME lxd.client LABEL lxd TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_client.c LIBS en_providers en_common)
