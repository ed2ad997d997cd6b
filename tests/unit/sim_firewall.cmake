# The sim cloud's security groups and the sim provider's firewall driver.
en_test(NAME unit.sim_firewall LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_firewall.c LIBS en_providers)
