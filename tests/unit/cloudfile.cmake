# clouds.yaml, credentials.yaml and controllers.yaml (lib/common/cloudfile.h).
# Both targets match `ctest -R cloud`.
en_test(NAME unit.cloudfile LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cloudfile.c LIBS en_common)
en_test(NAME unit.cloudfile_creds LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_credfile.c LIBS en_common)
