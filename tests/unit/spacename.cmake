# Juju's ConvertSpaceName (lib/common/spacename.h).
en_test(NAME unit.spacename LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_spacename.c LIBS en_common)
