# simplestreams parsing, selection and writing (lib/simplestreams/ss.h).
# All three match `ctest -R simplestreams`.
en_test(NAME unit.simplestreams_index LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_simplestreams_index.c LIBS en_simplestreams)
en_test(NAME unit.simplestreams_products LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_simplestreams_products.c LIBS en_simplestreams)
en_test(NAME unit.simplestreams_agents LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_simplestreams_agents.c LIBS en_simplestreams)
