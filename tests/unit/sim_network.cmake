en_test(NAME unit.sim_network LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_network.c LIBS en_providers)
