en_test(NAME unit.constraints LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_constraints.c LIBS en_common)
en_test(NAME unit.instancetype LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_instancetype.c LIBS en_common)
en_test(NAME unit.consproto LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_consproto.c LIBS en_common)
