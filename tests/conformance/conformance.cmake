# One CTest test per numbered statement of docs/juju-environs.md §1.
add_executable(conformance ${CMAKE_CURRENT_LIST_DIR}/conformance.c
  ${CMAKE_CURRENT_LIST_DIR}/conformance_broker.c ${CMAKE_CURRENT_LIST_DIR}/conformance_bootstrap.c
  ${CMAKE_CURRENT_LIST_DIR}/conformance_firewall.c ${CMAKE_CURRENT_LIST_DIR}/conformance_network.c
  ${PROJECT_SOURCE_DIR}/tests/harness.c
  ${PROJECT_SOURCE_DIR}/tests/harness_sim.c)
target_include_directories(conformance PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR})
target_link_libraries(conformance PRIVATE en_bus en_providers)
add_dependencies(conformance environs-gateway environs-registry environs-broker
  environs-firewaller environs-networking)
foreach(s
    s001_register_provider_rejects_duplicates
    s002_provider_lookup_resolves_aliases
    s003_registered_providers_excludes_aliases
    s004_open_does_not_touch_the_cloud
    s005_set_config_then_config
    s006_cloud_spec_validate
    s007_make_cloud_spec_regions
    s008_prepare_validation_order
    s009_bootstrap_twice
    s013_prepare_config_deterministic_and_validating
    s014_instances_empty_ids
    s015_start_instance_gives_id_and_hardware
    s016_instances_order_and_length
    s017_instances_duplicates
    s018_instances_partial
    s019_instances_none_found
    s020_all_instances_only_this_model
    s021_stopped_instances_disappear
    s022_stop_ignores_unknown_and_foreign
    s023_stop_nothing
    s024_missing_nonce
    s026_missing_controller_uuid
    s027_instance_tags
    s028_reserved_tag_prefix
    s029_addresses_appear
    s030_status
    s031_failed_start_removes_instance
    s032_hardware_is_the_instance_types
    s033_maintain_instance_noop
    s035_controller_instances_not_bootstrapped
    s036_controller_instances_only_matching
    s037_controller_instances_stateless
    s039_bootstrap_result
    s042_start_instance_status
    s043_bootstrap_zone_loop
    s044_bootstrap_progress
    s047_bootstrap_needs_controller_uuid
    s049_model_constraints_stored
    s053_bootstrap_address_timeout
    s056_destroy_model
    s062_destroy_controller
    s064_global_methods_need_global_mode
    s065_instance_methods_need_instance_mode
    s066_nothing_open_initially
    s067_sort_order
    s068_open_is_idempotent
    s069_mixed_open_adds_only_new
    s070_close_absent_is_fine
    s071_several_ranges_in_one_call
    s072_no_crosstalk
    s073_ranges_stored_exactly
    s074_mode_is_fixed_for_the_model
    s075_mode_none
    s076_instance_calls_carry_the_machine_id
    s078_ingress_rules
    s079_supports_networking
    s080_supports_spaces
    s081_supports_space_discovery
    s082_subnets
    s083_network_interfaces
    s084_spaces
    s085_container_addresses
    s086_supports_container_addresses
    s087_broken_methods
    s088_empty_constraints_pass_precheck
    s089_placement_directives
    s090_instance_type_precheck
    s091_validator
    s092_merge
    s095_zone_allocation
    s097_start_zone_selection
    s098_api_info
    s099_check_provider_api)
  string(SUBSTRING ${s} 0 4 id)
  add_test(NAME conformance.${s} COMMAND conformance ${id})
  set_tests_properties(conformance.${s} PROPERTIES LABELS conformance TIMEOUT 60
    ENVIRONMENT "EN_BUILD_DIR=${PROJECT_BINARY_DIR}")
endforeach()
