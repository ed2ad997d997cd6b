# LXD set-up for the lxd tests. Named `_setup.cmake` so that the glob in
# tests/CMakeLists.txt (sorted byte-wise: `_` comes before every lower-case
# letter) includes it before any other tests/lxd/*.cmake, which may then call
# en_lxd_test. A file whose name sorts earlier (digit or upper case) must
# include it first itself:
#   include(${CMAKE_CURRENT_LIST_DIR}/_setup.cmake)
# The include guard makes that, and the glob's own include, harmless.
include_guard(GLOBAL)

#   en_lxd_test(NAME <name> LABEL <label> SOURCES <...> LIBS <...> [TIMEOUT s])
# Same arguments as en_test; the test also requires the fixture lxd_ready, so
# it runs after lxd.setup and is not run when the set-up fails.
function(en_lxd_test)
  en_test(${ARGN})
  cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  set_property(TEST ${T_NAME} APPEND PROPERTY FIXTURES_REQUIRED lxd_ready)
endfunction()

# lxd.setup: scripts/lxd-setup.sh --check — starts the daemon if needed,
# makes anything missing (pool, entest0, profile entest, image
# environs/busybox) and proves a container from the image serves HTTP.
# Idempotent, so it passes on every re-run.
add_test(NAME lxd.setup
  COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/lxd-setup.sh --check)
set_tests_properties(lxd.setup PROPERTIES LABELS lxd TIMEOUT 300
  FIXTURES_SETUP lxd_ready)

# lxd.image: the image boots on entest0, takes a DHCP lease within 30 s,
# serves /www through httpd started with exec, refuses a closed port.
add_test(NAME lxd.image
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_lxd_setup.sh)
set_tests_properties(lxd.image PROPERTIES LABELS lxd TIMEOUT 120
  FIXTURES_REQUIRED lxd_ready
  ENVIRONMENT "EN_SOURCE_DIR=${PROJECT_SOURCE_DIR};EN_BUILD_DIR=${PROJECT_BINARY_DIR}")
