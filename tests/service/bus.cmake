# The bus over real sockets (inproc, tcp loopback, ipc) in one process.
# The failover tests re-execute their binary as worker child processes to
# kill, freeze or drain them.
en_test(NAME service.bus LABEL service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus.c ${CMAKE_CURRENT_LIST_DIR}/bus_fixture.c
  LIBS en_bus TIMEOUT 60)
en_test(NAME service.bus_failover LABEL service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus_failover.c ${CMAKE_CURRENT_LIST_DIR}/bus_fixture.c
  LIBS en_bus TIMEOUT 90)
