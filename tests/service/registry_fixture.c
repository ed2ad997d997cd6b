/*  registry_fixture.c — see registry_fixture.h. */
#include "service/registry_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bus.pb-c.h"
#include "bus/envelope.h"

const char *FX_CLOUDS_YAML =
    // §8.2, verbatim
    "clouds:\n"
    "  mystack:\n"
    "    type: openstack\n"
    "    auth-types: [userpass, access-key]\n"
    "    endpoint: https://keystone.example.com:5000/v2.0\n"
    "    regions:\n"
    "      RegionOne: {}\n"
    "      RegionTwo:\n"
    "        endpoint: https://keystone2.example.com:5000/v2.0\n"
    "    config:\n"
    "      use-floating-ip: true\n"
    "    region-config:\n"
    "      RegionOne:\n"
    "        network: private-net\n"
    // a personal `sim` over the built-in one: regions out of order, one
    // with its own endpoint, one null
    "  sim:\n"
    "    type: sim\n"
    "    auth-types: [empty, userpass]\n"
    "    endpoint: https://sim.example.com\n"
    "    regions:\n"
    "      zulu:\n"
    "        endpoint: https://zulu.sim.example.com\n"
    "        storage-endpoint: https://store.zulu.sim.example.com\n"
    "      alpha:\n"
    "      mike: {}\n"
    "    config:\n"
    "      logging-config: <root>=DEBUG\n"
    "      development: true\n"
    "      ratio: 2.0\n"
    "      pi: 3.14159265\n"
    "    region-config:\n"
    "      alpha:\n"
    "        logging-config: <root>=TRACE\n";

int
fx_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->home, sizeof fx->home, "%s/en-registry-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fx->home)) {
        free(fx);
        return -1;
    }
    en_err_t err;
    fx->registry = registry_new(fx->home, NULL, &err);
    if (!fx->registry) {
        fprintf(stderr, "registry_new: %s\n", err.message);
        free(fx);
        return -1;
    }
    fx->d = en_dispatcher_new(registry_service(fx->registry), &err);
    if (!fx->d) {
        fprintf(stderr, "en_dispatcher_new: %s\n", err.message);
        registry_destroy(&fx->registry);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int
s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int
fx_teardown(void **state)
{
    fx_t *fx = *state;
    en_dispatcher_destroy(&fx->d2);
    registry_destroy(&fx->other);
    en_dispatcher_destroy(&fx->d);
    registry_destroy(&fx->registry);
    nftw(fx->home, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    *state = NULL;
    return 0;
}

en_dispatcher_t *
fx_replica(fx_t *fx)
{
    en_err_t err;
    if (!fx->d2) {
        fx->other = registry_new(fx->home, NULL, &err);
        assert_non_null(fx->other);
        fx->d2 = en_dispatcher_new(registry_service(fx->other), &err);
        assert_non_null(fx->d2);
    }
    return fx->d2;
}

typedef struct {
    void *(*fn)(void *);
    void *arg;
    pthread_barrier_t *barrier;
} s_starter_t;

static void *
s_start(void *arg)
{
    s_starter_t *s = arg;
    pthread_barrier_wait(s->barrier);
    return s->fn(s->arg);
}

void
fx_together(void *(*fn)(void *), void *a, void *b)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    s_starter_t sa = {fn, a, &barrier}, sb = {fn, b, &barrier};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, s_start, &sa);
    pthread_create(&tb, NULL, s_start, &sb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
}

void *
fx_call(fx_t *fx, const char *method, const char *model_uuid, const void *req, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    if (en_dispatcher_call(fx->d, method, model_uuid, req, &res, err) != 0)
        return NULL;
    return res;
}

void *
fx_call_id(en_dispatcher_t *d, const char *method, const char *model_uuid, const char *request_id,
           const void *req, const ProtobufCMessageDescriptor *desc, en_err_t *err)
{
    en_err_clear(err);
    En__Request env = EN__REQUEST__INIT;
    env.request_id = (char *)request_id;
    env.method = (char *)method;
    env.model_uuid = (char *)(model_uuid ? model_uuid : "");
    size_t size = protobuf_c_message_get_packed_size(req);
    env.body.data = malloc(size ? size : 1);
    env.body.len = protobuf_c_message_pack(req, env.body.data);
    zframe_t *frame = en_frame_pack(&env.base);
    free(env.body.data);
    zframe_t *reply_frame = en_dispatcher_handle(d, frame);
    zframe_destroy(&frame);
    En__Reply *reply = en__reply__unpack(NULL, zframe_size(reply_frame), zframe_data(reply_frame));
    zframe_destroy(&reply_frame);
    assert_non_null(reply);
    void *res = NULL;
    if (reply->error && reply->error->kind != EN__ERROR_KIND__OK)
        en_err_from_wire(err, reply->error);
    else {
        assert_string_equal(reply->request_id, request_id);
        res = protobuf_c_message_unpack(desc, NULL, reply->body.len, reply->body.data);
        assert_non_null(res);
    }
    en__reply__free_unpacked(reply, NULL);
    return res;
}

void
fx_write(fx_t *fx, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx->home, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

char *
fx_read(fx_t *fx, const char *name, size_t *size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx->home, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, (cap *= 2) + 1);
    }
    fclose(f);
    buf[len] = '\0';
    if (size)
        *size = len;
    return buf;
}

int
fx_file_contains(fx_t *fx, const char *name, const char *needle)
{
    size_t size = 0;
    char *data = fx_read(fx, name, &size);
    if (!data)
        return 0;
    size_t nlen = strlen(needle);
    int found = 0;
    for (size_t i = 0; !found && nlen <= size && i <= size - nlen; i++)
        found = memcmp(data + i, needle, nlen) == 0;
    free(data);
    return found;
}

void
fx_cred(fx_cred_t *m, const char *name, const char *auth_type, int n, const char *const *kv)
{
    assert_true(n >= 0 && n <= 4);
    en__credential__init(&m->cred);
    m->cred.name = (char *)name;
    m->cred.auth_type = (char *)auth_type;
    m->cred.n_attributes = (size_t)n;
    m->cred.attributes = m->ptrs;
    for (int i = 0; i < n; i++) {
        en__credential__attributes_entry__init(&m->entries[i]);
        m->entries[i].key = (char *)kv[2 * i];
        m->entries[i].value = (char *)kv[2 * i + 1];
        m->ptrs[i] = &m->entries[i];
    }
}

const char *
fx_attr(const En__Credential *c, const char *key)
{
    for (size_t i = 0; c && i < c->n_attributes; i++)
        if (strcmp(c->attributes[i]->key, key) == 0)
            return c->attributes[i]->value;
    return NULL;
}

int
fx_register(fx_t *fx, const char *name, int n, char **aliases, en_err_t *err)
{
    En__RegisterProviderRequest req = EN__REGISTER_PROVIDER_REQUEST__INIT;
    req.name = (char *)name;
    req.n_aliases = (size_t)n;
    req.aliases = aliases;
    void *res = fx_call(fx, "RegisterProvider", NULL, &req, err);
    FX_FREE(res);
    return res ? 0 : -1;
}

int
fx_add_credential(fx_t *fx, const char *cloud, fx_cred_t *c, bool replace, en_err_t *err)
{
    En__AddCredentialRequest req = EN__ADD_CREDENTIAL_REQUEST__INIT;
    req.cloud_name = (char *)cloud;
    req.credential = &c->cred;
    req.replace = replace;
    void *res = fx_call(fx, "AddCredential", NULL, &req, err);
    FX_FREE(res);
    return res ? 0 : -1;
}

const char *
fx_json_get(const char *json, const char *key)
{
    static char buf[512];
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    free(text);
    json_decref(o);
    return buf;
}

void
fx_open_uuid(fx_t *fx, const char *name, char out[64])
{
    en_err_t err;
    En__OpenResult *o = fx_open(fx, name, "", "sim", "", NULL, &err);
    if (!o)
        fail_msg("Open %s: %s", name, err.message);
    snprintf(out, 64, "%s", o->model->uuid);
    FX_FREE(o);
}

En__OpenResult *
fx_open(fx_t *fx, const char *name, const char *owner, const char *cloud, const char *cred,
        const char *json, en_err_t *err)
{
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *)json;
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    req.name = (char *)name;
    req.owner = (char *)owner;
    req.cloud_name = (char *)cloud;
    req.credential_name = (char *)cred;
    req.config = json ? &cfg : NULL;
    return fx_call(fx, "Open", NULL, &req, err);
}

En__Model *
fx_model(fx_t *fx, const char *uuid, En__ModelResult **res, en_err_t *err)
{
    En__ModelRequest req = EN__MODEL_REQUEST__INIT;
    req.key_case = EN__MODEL_REQUEST__KEY_UUID;
    req.uuid = (char *)uuid;
    *res = fx_call(fx, "Model", NULL, &req, err);
    return *res ? (*res)->model : NULL;
}

size_t
fx_model_count(fx_t *fx)
{
    en_err_t err;
    En__ModelsRequest req = EN__MODELS_REQUEST__INIT;
    En__ModelsResult *res = fx_call(fx, "Models", NULL, &req, &err);
    assert_non_null(res);
    size_t n = res->n_models;
    FX_FREE(res);
    return n;
}

En__SetConfigResult *
fx_set_config(fx_t *fx, const char *uuid, const char *json, en_err_t *err)
{
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = (char *)json;
    En__SetConfigRequest req = EN__SET_CONFIG_REQUEST__INIT;
    req.config = &cfg;
    return fx_call(fx, "SetConfig", uuid, &req, err);
}

uint64_t
fx_version(fx_t *fx, const char *uuid)
{
    en_err_t err;
    En__ModelResult *res;
    En__Model *m = fx_model(fx, uuid, &res, &err);
    assert_non_null(m);
    uint64_t v = m->version;
    FX_FREE(res);
    return v;
}

char *
fx_config_json(fx_t *fx, const char *uuid)
{
    en_err_t err;
    En__ConfigRequest req = EN__CONFIG_REQUEST__INIT;
    En__ConfigResult *res = fx_call(fx, "Config", uuid, &req, &err);
    assert_non_null(res);
    char *json = strdup(res->config->json);
    FX_FREE(res);
    return json;
}

char *
fx_next_id(fx_t *fx, const char *uuid, en_err_t *err)
{
    En__NextMachineIdRequest req = EN__NEXT_MACHINE_ID_REQUEST__INIT;
    En__NextMachineIdResult *res = fx_call(fx, "NextMachineId", uuid, &req, err);
    if (!res)
        return NULL;
    char *id = strdup(res->id);
    FX_FREE(res);
    return id;
}
