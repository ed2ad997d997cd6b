en_test(NAME unit.cert LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cert.c LIBS en_common)
