en_test(NAME unit.sqlbusy LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sqlbusy.c LIBS en_common)
