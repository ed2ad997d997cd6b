en_test(NAME unit.err LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_err.c LIBS en_common)
