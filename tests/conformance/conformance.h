/*  conformance.h — what the statement files of the conformance runner
    share: the harness with the processes under test, the failure count,
    CHECK macros and one-call helpers against the gateway. */
#ifndef EN_CONFORMANCE_H
#define EN_CONFORMANCE_H

#include <stdio.h>
#include <string.h>

#include "environ.pb-c.h"
#include "harness.h"

extern harness_t H;
extern int conf_failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            conf_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_ERR(err, k, msg)                                                                     \
    CHECK((err).kind == (k) && strcmp((err).message, (msg)) == 0, "want %s \"%s\", got %s \"%s\"", \
          en_kind_name(k), msg, en_kind_name((err).kind), (err).message)

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

//  One public call; the result (free with FREE) or NULL with err set.
void *conf_call(const char *method, const char *model, const void *req,
                const ProtobufCMessageDescriptor *rd, en_err_t *err);
//  Open a model on a cloud with a JSON config (NULL: {}); NULL with err.
En__Model *conf_open(const char *name, const char *cloud, const char *json, en_err_t *err);

//  Statements of conformance_broker.c (§1 C, D, I).
void s014_instances_empty_ids(void);
void s015_start_instance_gives_id_and_hardware(void);
void s016_instances_order_and_length(void);
void s017_instances_duplicates(void);
void s018_instances_partial(void);
void s019_instances_none_found(void);
void s020_all_instances_only_this_model(void);
void s021_stopped_instances_disappear(void);
void s022_stop_ignores_unknown_and_foreign(void);
void s023_stop_nothing(void);
void s024_missing_nonce(void);
void s026_missing_controller_uuid(void);
void s027_instance_tags(void);
void s028_reserved_tag_prefix(void);
void s029_addresses_appear(void);
void s030_status(void);
void s031_failed_start_removes_instance(void);
void s032_hardware_is_the_instance_types(void);
void s033_maintain_instance_noop(void);
void s035_controller_instances_not_bootstrapped(void);
void s036_controller_instances_only_matching(void);
void s037_controller_instances_stateless(void);
void s088_empty_constraints_pass_precheck(void);
void s089_placement_directives(void);
void s090_instance_type_precheck(void);
void s091_validator(void);
void s092_merge(void);
void s095_zone_allocation(void);
void s097_start_zone_selection(void);

//  Statements of conformance_bootstrap.c (§1 B, E, F, K).
void s008_prepare_validation_order(void);
void s009_bootstrap_twice(void);
void s039_bootstrap_result(void);
void s042_start_instance_status(void);
void s043_bootstrap_zone_loop(void);
void s049_model_constraints_stored(void);
void s044_bootstrap_progress(void);
void s047_bootstrap_needs_controller_uuid(void);
void s053_bootstrap_address_timeout(void);
void s056_destroy_model(void);
void s062_destroy_controller(void);
void s098_api_info(void);
void s099_check_provider_api(void);

//  Statements of conformance_firewall.c (§1 G).
void s064_global_methods_need_global_mode(void);
void s065_instance_methods_need_instance_mode(void);
void s066_nothing_open_initially(void);
void s067_sort_order(void);
void s068_open_is_idempotent(void);
void s069_mixed_open_adds_only_new(void);
void s070_close_absent_is_fine(void);
void s071_several_ranges_in_one_call(void);
void s072_no_crosstalk(void);
void s073_ranges_stored_exactly(void);
void s074_mode_is_fixed_for_the_model(void);
void s075_mode_none(void);
void s076_instance_calls_carry_the_machine_id(void);
void s078_ingress_rules(void);

//  Statements of conformance_network.c (§1 H).
void s079_supports_networking(void);
void s080_supports_spaces(void);
void s081_supports_space_discovery(void);
void s082_subnets(void);
void s083_network_interfaces(void);
void s084_spaces(void);
void s085_container_addresses(void);
void s086_supports_container_addresses(void);
void s087_broken_methods(void);

#endif
