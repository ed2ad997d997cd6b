# One CTest test per numbered statement of docs/juju-environs.md §1.
add_executable(conformance ${CMAKE_CURRENT_LIST_DIR}/conformance.c ${PROJECT_SOURCE_DIR}/tests/harness.c)
target_include_directories(conformance PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR})
target_link_libraries(conformance PRIVATE en_bus)
add_dependencies(conformance environs-gateway environs-registry)
foreach(s
    s001_register_provider_rejects_duplicates
    s002_provider_lookup_resolves_aliases
    s003_registered_providers_excludes_aliases
    s004_open_does_not_touch_the_cloud
    s005_set_config_then_config
    s006_cloud_spec_validate
    s007_make_cloud_spec_regions
    s013_prepare_config_deterministic_and_validating)
  string(SUBSTRING ${s} 0 4 id)
  add_test(NAME conformance.${s} COMMAND conformance ${id})
  set_tests_properties(conformance.${s} PROPERTIES LABELS conformance TIMEOUT 60
    ENVIRONMENT "EN_BUILD_DIR=${PROJECT_BINARY_DIR}")
endforeach()
