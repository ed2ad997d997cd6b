/*  consproto.c — see consproto.h.

    One table pairs each attribute with its field in en.Constraints and its
    place in en_constraints_t. Everything else about the wire field — its
    offset, its oneof case, its type — is read from protobuf-c's message
    descriptor, so this file never spells a generated case constant and a
    new attribute is one row. */
#include "common/consproto.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

static const struct {
    en_cons_attr_t attr;
    const char *field; // in en.Constraints
    size_t offset;     // of the value in en_constraints_t
} s_map[] = {
    {EN_CONS_ARCH, "arch", offsetof(en_constraints_t, arch)},
    {EN_CONS_CONTAINER, "container", offsetof(en_constraints_t, container)},
    {EN_CONS_CORES, "cpu_cores", offsetof(en_constraints_t, cores)},
    {EN_CONS_CPU_POWER, "cpu_power", offsetof(en_constraints_t, cpu_power)},
    {EN_CONS_NESTED_VIRTUALIZATION, "nested_virtualization",
     offsetof(en_constraints_t, nested_virtualization)},
    {EN_CONS_INSTANCE_ROLE, "instance_role", offsetof(en_constraints_t, instance_role)},
    {EN_CONS_INSTANCE_TYPE, "instance_type", offsetof(en_constraints_t, instance_type)},
    {EN_CONS_MEM, "mem", offsetof(en_constraints_t, mem)},
    {EN_CONS_ROOT_DISK, "root_disk", offsetof(en_constraints_t, root_disk)},
    {EN_CONS_ROOT_DISK_SOURCE, "root_disk_source", offsetof(en_constraints_t, root_disk_source)},
    {EN_CONS_TAGS, "tags", offsetof(en_constraints_t, tags)},
    {EN_CONS_SPACES, "spaces", offsetof(en_constraints_t, spaces)},
    {EN_CONS_VIRT_TYPE, "virt_type", offsetof(en_constraints_t, virt_type)},
    {EN_CONS_ZONES, "zones", offsetof(en_constraints_t, zones)},
    {EN_CONS_ALLOCATE_PUBLIC_IP, "allocate_public_ip",
     offsetof(en_constraints_t, allocate_public_ip)},
    {EN_CONS_IMAGE_ID, "image_id", offsetof(en_constraints_t, image_id)},
};

#define S_ROWS (sizeof s_map / sizeof s_map[0])

static const ProtobufCFieldDescriptor *
s_wire_field(size_t row)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(
        &en__constraints__descriptor, s_map[row].field);
    assert(f); // the table names fields of types.proto
    return f;
}

//  protobuf-c keeps a oneof's case as a uint32 holding the set field's
//  number (0 = none).
static uint32_t *
s_case(const ProtobufCFieldDescriptor *f, const En__Constraints *msg)
{
    return (uint32_t *)((char *)msg + f->quantifier_offset);
}

static void *
s_wire(const ProtobufCFieldDescriptor *f, const En__Constraints *msg)
{
    return (char *)msg + f->offset;
}

static const void *
s_value(size_t row, const en_constraints_t *c)
{
    return (const char *)c + s_map[row].offset;
}

static En__StringList *
s_list_to(en_arena_t *a, const en_cons_list_t *list)
{
    En__StringList *l = en_arena_alloc(a, sizeof *l);
    en__string_list__init(l);
    l->values = en_arena_array(a, list->count, sizeof(char *));
    for (size_t i = 0; i < list->count; i++)
        l->values[i] = en_arena_strdup(a, list->items[i]);
    l->n_values = list->count;
    return l;
}

En__Constraints *
en_constraints_to_proto(en_arena_t *a, const en_constraints_t *c)
{
    En__Constraints *msg = en_arena_alloc(a, sizeof *msg);
    en__constraints__init(msg);
    for (size_t row = 0; c && row < S_ROWS; row++) {
        if (!en_constraints_is_set(c, s_map[row].attr))
            continue;
        const ProtobufCFieldDescriptor *f = s_wire_field(row);
        void *dst = s_wire(f, msg);
        const void *src = s_value(row, c);
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            *(char **)dst = en_arena_strdup(a, *(char *const *)src);
            break;
        case PROTOBUF_C_TYPE_UINT64:
            *(uint64_t *)dst = *(const uint64_t *)src;
            break;
        case PROTOBUF_C_TYPE_BOOL:
            *(protobuf_c_boolean *)dst = *(const bool *)src;
            break;
        case PROTOBUF_C_TYPE_MESSAGE:
            *(En__StringList **)dst = s_list_to(a, src);
            break;
        default:
            assert(!"en.Constraints field of an unexpected type");
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *s_case(f, msg) = f->id;
    }
    return msg;
}

int
en_constraints_from_proto(const En__Constraints *msg, en_constraints_t *out, en_err_t *err)
{
    en_constraints_reset(out);
    int rc = 0;
    for (size_t row = 0; msg && row < S_ROWS && rc == 0; row++) {
        const ProtobufCFieldDescriptor *f = s_wire_field(row);
        en_cons_attr_t attr = s_map[row].attr;
        const void *src = s_wire(f, msg);
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *s_case(f, msg) != f->id)
            continue;
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
            rc = en_constraints_set_string(out, attr, *(char *const *)src);
            break;
        case PROTOBUF_C_TYPE_UINT64:
            rc = en_constraints_set_uint(out, attr, *(const uint64_t *)src);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            rc = en_constraints_set_bool(out, attr, *(const protobuf_c_boolean *)src != 0);
            break;
        case PROTOBUF_C_TYPE_MESSAGE: {
            const En__StringList *l = *(En__StringList *const *)src;
            if (l)
                rc =
                    en_constraints_set_list(out, attr, (const char *const *)l->values, l->n_values);
            break;
        }
        default:
            rc = -1;
        }
    }
    if (rc) {
        en_constraints_reset(out);
        return en_err_set(err, EN_NOT_VALID, "constraints do not convert");
    }
    return 0;
}
