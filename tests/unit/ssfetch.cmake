# Fetching (ssfetch, over the loopback test server tests/ss_httpd.c) and
# clear-signature checks (ssverify, with the real and test keys).
en_test(NAME unit.ssfetch LABEL unit TIMEOUT 120
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ssfetch.c ${PROJECT_SOURCE_DIR}/tests/ss_httpd.c
  LIBS en_simplestreams)
en_test(NAME unit.ssverify LABEL unit TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ssverify.c
  LIBS en_simplestreams)
