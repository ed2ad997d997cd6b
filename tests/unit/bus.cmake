en_test(NAME unit.bus_envelope LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus_envelope.c LIBS en_bus)
en_test(NAME unit.bus_frames LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus_frames.c LIBS en_bus)
