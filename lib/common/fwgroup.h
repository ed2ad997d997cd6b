/*  fwgroup.h — names of a model's security groups (EC2's scheme, §4.4):
    the model group `juju-<model-uuid>` every instance is in, plus the
    machine's own group `juju-<model-uuid>-<machine-id>` in instance mode
    or the shared `juju-<model-uuid>-global` in global mode. Machine ids
    of containers ("0/lxd/1") have '/' turned into '-'. The broker puts an
    instance in these groups at create; the firewaller makes them first. */
#ifndef EN_FWGROUP_H
#define EN_FWGROUP_H

#include <stddef.h>

#define EN_FW_GROUP_MAX 128

typedef enum { EN_FW_INSTANCE = 0, EN_FW_GLOBAL, EN_FW_NONE } en_fw_mode_t;

//  "instance" (also "" and NULL: the default), "global", "none"; -1 for
//  anything else.
int en_fw_mode_parse(const char *text);
const char *en_fw_mode_name(en_fw_mode_t mode);

void en_fw_group_model(const char *model_uuid, char out[EN_FW_GROUP_MAX]);
void en_fw_group_machine(const char *model_uuid, const char *machine_id,
                         char out[EN_FW_GROUP_MAX]);
void en_fw_group_global(const char *model_uuid, char out[EN_FW_GROUP_MAX]);

//  The groups an instance of this machine is created in: none in mode
//  none, else the model group and the machine's (or the global) group.
//  Returns how many were written (0..2).
size_t en_fw_groups_for(en_fw_mode_t mode, const char *model_uuid, const char *machine_id,
                        char out[2][EN_FW_GROUP_MAX]);

#endif
