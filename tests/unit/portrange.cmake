# network.PortRange and network.IngressRule (lib/common/portrange.h).
en_test(NAME unit.portrange LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_portrange.c LIBS en_common)
