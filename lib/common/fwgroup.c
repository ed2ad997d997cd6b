/*  fwgroup.c — see fwgroup.h. */
#include "common/fwgroup.h"

#include <stdio.h>
#include <string.h>

int
en_fw_mode_parse(const char *text)
{
    if (!text || !*text || strcmp(text, "instance") == 0)
        return EN_FW_INSTANCE;
    if (strcmp(text, "global") == 0)
        return EN_FW_GLOBAL;
    if (strcmp(text, "none") == 0)
        return EN_FW_NONE;
    return -1;
}

const char *
en_fw_mode_name(en_fw_mode_t mode)
{
    return mode == EN_FW_GLOBAL ? "global" : mode == EN_FW_NONE ? "none" : "instance";
}

void
en_fw_group_model(const char *model_uuid, char out[EN_FW_GROUP_MAX])
{
    snprintf(out, EN_FW_GROUP_MAX, "juju-%s", model_uuid);
}

void
en_fw_group_machine(const char *model_uuid, const char *machine_id, char out[EN_FW_GROUP_MAX])
{
    snprintf(out, EN_FW_GROUP_MAX, "juju-%s-%s", model_uuid, machine_id);
    for (char *c = out; *c; c++)
        if (*c == '/')
            *c = '-';
}

void
en_fw_group_global(const char *model_uuid, char out[EN_FW_GROUP_MAX])
{
    snprintf(out, EN_FW_GROUP_MAX, "juju-%s-global", model_uuid);
}

size_t
en_fw_groups_for(en_fw_mode_t mode, const char *model_uuid, const char *machine_id,
                 char out[2][EN_FW_GROUP_MAX])
{
    if (mode == EN_FW_NONE)
        return 0;
    en_fw_group_model(model_uuid, out[0]);
    if (mode == EN_FW_GLOBAL)
        en_fw_group_global(model_uuid, out[1]);
    else
        en_fw_group_machine(model_uuid, machine_id, out[1]);
    return 2;
}
