en_test(NAME unit.sim_cloud LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_cloud.c LIBS en_providers)
en_test(NAME unit.sim_compute LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_compute.c LIBS en_providers)
