# Security groups as network ACLs on the model's bridge, against the real
# LXD daemon: names, tags, rules read back exactly, list by tags, delete,
# concurrent ensures from several processes, and real packets to two
# busybox containers (label lxd; after lxd.setup through the fixture).
en_lxd_test(NAME lxd.firewall LABEL lxd TIMEOUT 300
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_firewall.c
  LIBS en_providers)
