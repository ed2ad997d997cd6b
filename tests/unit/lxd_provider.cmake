en_test(NAME unit.lxd_provider LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_lxd_provider.c LIBS en_providers)
