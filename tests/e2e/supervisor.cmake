# environs-local end to end, against a fake service program (the real
# services land separately). The test finds both binaries by the paths baked
# in here, so it does not depend on the build tree's layout.
add_executable(en_fake_service ${CMAKE_CURRENT_LIST_DIR}/fake_service.c)
en_test(NAME e2e.supervisor LABEL e2e SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_supervisor.c
  LIBS en_common en_local TIMEOUT 60)
add_dependencies(e2e.supervisor environs-local en_fake_service)
target_compile_definitions(e2e.supervisor PRIVATE
  EN_SUPERVISOR_BIN="$<TARGET_FILE:environs-local>"
  EN_FAKE_SERVICE_BIN="$<TARGET_FILE:en_fake_service>")
