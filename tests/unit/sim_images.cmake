# The sim cloud's own image metadata (en_provider_t.image_sources).
en_test(NAME unit.sim_images LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim_images.c LIBS en_providers en_simplestreams)
