# The registry service in process (en_dispatcher_call, no sockets): one
# temp state directory per test. Providers, clouds and cloud specs here;
# credentials and regions in service.registry_credentials; models in
# service.registry_models; exactly-once replays in service.registry_replay.
en_test(NAME service.registry LABEL service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_registry.c ${CMAKE_CURRENT_LIST_DIR}/registry_fixture.c
  LIBS en_registry)
en_test(NAME service.registry_models LABEL service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_registry_models.c ${CMAKE_CURRENT_LIST_DIR}/registry_fixture.c
  LIBS en_registry)
en_test(NAME service.registry_credentials LABEL service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_registry_credentials.c ${CMAKE_CURRENT_LIST_DIR}/registry_fixture.c
  LIBS en_registry)
en_test(NAME service.registry_replay LABEL service
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_registry_replay.c ${CMAKE_CURRENT_LIST_DIR}/registry_fixture.c
  LIBS en_registry)
