/*  registry_fixture.h — the registry service in process, for service tests.

    Each test gets a fresh state directory (mkdtemp), a registry over it and
    one dispatcher (= one worker thread of one replica): calls go through
    en_dispatcher_call / en_dispatcher_handle, so decoding, routing, error
    replies and encoding are the real ones, without sockets. Teardown
    removes the directory. */
#ifndef EN_TEST_REGISTRY_FIXTURE_H
#define EN_TEST_REGISTRY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/service.h"
#include "environ.pb-c.h"
#include "registry.h"
#include "registry.pb-c.h"

typedef struct {
    char home[256];
    registry_t *registry;
    en_dispatcher_t *d;
    registry_t *other; // a second replica, once fx_replica made it
    en_dispatcher_t *d2;
} fx_t;

//  cmocka group-less setup/teardown: *state becomes an fx_t.
int fx_setup(void **state);
int fx_teardown(void **state);

//  A second replica over the same home (its own registry and worker
//  thread); made once, destroyed by fx_teardown.
en_dispatcher_t *fx_replica(fx_t *fx);
//  fn(a) and fn(b) on two threads, released together; returns when both
//  are done.
void fx_together(void *(*fn)(void *), void *a, void *b);

//  One call; the result (free with FX_FREE) or NULL with err set.
void *fx_call(fx_t *fx, const char *method, const char *model_uuid, const void *req, en_err_t *err);
//  One call with a fixed request id, as a resend would carry; the result
//  unpacked with desc, or NULL with err set.
void *fx_call_id(en_dispatcher_t *d, const char *method, const char *model_uuid,
                 const char *request_id, const void *req, const ProtobufCMessageDescriptor *desc,
                 en_err_t *err);

//  Write text to <home>/<name> (mode 0600).
void fx_write(fx_t *fx, const char *name, const char *text);
//  The bytes of <home>/<name> (NUL-terminated, malloc'd), or NULL when absent.
char *fx_read(fx_t *fx, const char *name, size_t *size);
//  Whether needle occurs in the bytes of <home>/<name> (absent file: false).
int fx_file_contains(fx_t *fx, const char *name, const char *needle);

//  A Credential message over a fixed attribute table: n key/value pairs
//  from kv (at most 4).
typedef struct {
    En__Credential cred;
    En__Credential__AttributesEntry entries[4];
    En__Credential__AttributesEntry *ptrs[4];
} fx_cred_t;

void fx_cred(fx_cred_t *m, const char *name, const char *auth_type, int n, const char *const *kv);
//  The value of an attribute of a credential, or NULL (also for c NULL).
const char *fx_attr(const En__Credential *c, const char *key);
//  RegisterProvider name with n aliases; 0 or -1 with err.
int fx_register(fx_t *fx, const char *name, int n, char **aliases, en_err_t *err);
//  AddCredential to cloud; 0 or -1 with err.
int fx_add_credential(fx_t *fx, const char *cloud, fx_cred_t *c, bool replace, en_err_t *err);

//  Models
//  Open; config json may be NULL. The result, or NULL with err.
En__OpenResult *fx_open(fx_t *fx, const char *name, const char *owner, const char *cloud,
                        const char *cred, const char *json, en_err_t *err);
//  A model named name on the built-in sim cloud; its uuid into out.
void fx_open_uuid(fx_t *fx, const char *name, char out[64]);
//  Model by uuid; *res is what to free.
En__Model *fx_model(fx_t *fx, const char *uuid, En__ModelResult **res, en_err_t *err);
size_t fx_model_count(fx_t *fx);
uint64_t fx_version(fx_t *fx, const char *uuid);
En__SetConfigResult *fx_set_config(fx_t *fx, const char *uuid, const char *json, en_err_t *err);
//  The model's config JSON (malloc'd).
char *fx_config_json(fx_t *fx, const char *uuid);
//  NextMachineId (malloc'd), or NULL with err.
char *fx_next_id(fx_t *fx, const char *uuid, en_err_t *err);
//  The value of key in a JSON object text, re-encoded (e.g. `"instance"`,
//  `true`); "" when absent. A static buffer, overwritten by the next call.
const char *fx_json_get(const char *json, const char *key);

#define FX_FREE(m) protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL)

//  Juju's §8.2 clouds.yaml example verbatim, plus a personal `sim` cloud
//  (overriding the built-in) whose regions are deliberately not sorted, a
//  cloud with no type and one with an invalid name.
extern const char *FX_CLOUDS_YAML;

#endif
