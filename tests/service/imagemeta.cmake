# The imagemeta service in process (en_dispatcher_call) against a real
# gateway and registry (harness processes), with simplestreams trees
# served by the loopback test server.
en_test(NAME service.imagemeta LABEL service TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_imagemeta.c ${PROJECT_SOURCE_DIR}/tests/harness.c
  ${PROJECT_SOURCE_DIR}/tests/ss_httpd.c
  LIBS en_imagemeta)
add_dependencies(service.imagemeta environs-gateway environs-registry)
