/*  lxd e2e: Juju's `localhost` cloud for real, through the `environs` CLI,
    real gateway, registry, broker, firewaller, networking and imagemeta
    processes on loopback, and the LXD daemon scripts/lxd-setup.sh started.

    The tests run in order and share one set of processes and one home:
    - the busybox image the set-up imported (alias environs/busybox) is
      found through simplestreams metadata `metadata generate-image` wrote
      for it; `bootstrap localhost` starts the controller container and
      `add-machine -n 3` three more, each visible in LXD with its user.*
      tags and a DHCP address on the model's bridge that `machines` shows;
    - instance firewall mode with real packets: web servers in machines 1
      and 2, `open-port 8080 1` lets the host reach machine 1 on 8080 only
      (machine 1 on 9090 and machine 2 on 8080 stay unreachable), and
      `close-port` closes it again; then the same in a global-mode model;
    - a broker SIGKILLed during `add-machine -n 5` still ends with exactly
      five containers;
    - `destroy-controller --destroy-all-models` leaves no container, ACL,
      bridge or profile of the controller in LXD.

    Only the containers these tests made are ever contacted, on the bridges
    the driver made for their models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "common/clock.h"
#include "harness.h"
#include "harness_must.h"
#include "providers/lxd/lxd_client.h"

static harness_t H;
static en_lxd_t *LXD;
static int BROKERS[2];
static char CONTROLLER_UUID[64];

static int
setup(void **state)
{
    (void)state;
    setenv("ENVIRONS_RETRY_SCALE", "0.05", 1);
    zsys_handler_set(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    en_err_t err;
    LXD = en_lxd_new(&(en_lxd_config_t){0}, &err);
    if (!LXD) {
        fprintf(stderr, "lxd: %s\n", err.message);
        return -1;
    }
    if (harness_init(&H))
        return -1;
    harness_start(&H, "gateway", 0);
    harness_start(&H, "registry", 0);
    BROKERS[0] = harness_start(&H, "broker", 0);
    BROKERS[1] = harness_start(&H, "broker", 1);
    harness_start(&H, "firewaller", 0);
    harness_start(&H, "networking", 0);
    harness_start(&H, "imagemeta", 0);
    static const char *const services[] = {"registry", "broker", "firewaller", "networking",
                                           "imagemeta"};
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (harness_wait_service(&H, services[i], 20000))
            return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    en_lxd_destroy(&LXD);
    return harness_fini(&H);
}

//  --------------------------------------------------------------------------
//  The CLI

//  What `environs <args>` prints on stdout; asserts exit 0. Caller frees.
static char *
s_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *
s_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = harness_must_vok(&H, false, fmt, ap);
    va_end(ap);
    return out;
}

static json_t *
s_json(const char *args)
{
    return harness_must_json(&H, false, args);
}

static char *
s_model_uuid(const char *model)
{
    json_t *doc = s_json("models");
    char *uuid = NULL;
    json_t *models = json_object_get(doc, "models");
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *u = json_string_value(json_object_get(m, "model-uuid"));
        if (name && u && strcmp(name, model) == 0)
            uuid = strdup(u);
    }
    if (!uuid)
        fail_msg("no model %s in %s", model, json_dumps(doc, JSON_COMPACT));
    json_decref(doc);
    return uuid;
}

//  The first address of each machine of `model` once every machine has
//  one (`machines` polled with a deadline): a JSON object id → address.
static json_t *
s_machine_addresses(const char *model, size_t want)
{
    int64_t deadline = en_mono_ms() + 60000;
    for (;;) {
        char args[256];
        snprintf(args, sizeof args, "machines -m %s", model);
        json_t *doc = s_json(args);
        json_t *machines = json_object_get(doc, "machines");
        json_t *out = json_object();
        const char *id;
        json_t *m;
        json_object_foreach(machines, id, m)
        {
            const char *dns = json_string_value(json_object_get(m, "dns-name"));
            if (dns && *dns)
                json_object_set_new(out, id, json_string(dns));
        }
        size_t listed = json_object_size(machines);
        json_decref(doc);
        if (listed == want && json_object_size(out) == want)
            return out;
        json_decref(out);
        if (en_mono_ms() > deadline)
            fail_msg("machines of %s: %zu listed, not all with addresses after 60 s", model,
                     listed);
        en_sleep_ms(200); // polling the CLI with a deadline, not synchronising
    }
}

//  --------------------------------------------------------------------------
//  LXD, as its operator sees it

//  The instances carrying user.<key> = value.
static json_t *
s_lxd_instances(const char *key, const char *value)
{
    char *v = en_lxd_escape(value);
    char path[1024];
    snprintf(path, sizeof path, "/1.0/instances?recursion=1&filter=config.user.%s%%20eq%%20%s",
             key, v);
    free(v);
    json_t *list = NULL;
    en_err_t err;
    if (en_lxd_call(LXD, "GET", path, NULL, &list, NULL, 0, &err))
        fail_msg("%s: %s", path, err.message);
    return list;
}

//  How many objects at `collection` (network-acls, networks, profiles)
//  carry config user.<key> = value.
static size_t
s_lxd_tagged(const char *collection, const char *key, const char *value)
{
    char path[256];
    snprintf(path, sizeof path, "/1.0/%s?recursion=1", collection);
    json_t *list = NULL;
    en_err_t err;
    if (en_lxd_call(LXD, "GET", path, NULL, &list, NULL, 0, &err))
        fail_msg("%s: %s", path, err.message);
    char full[128];
    snprintf(full, sizeof full, "user.%s", key);
    size_t n = 0, i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *v = json_string_value(json_object_get(json_object_get(item, "config"), full));
        if (v && strcmp(v, value) == 0)
            n++;
    }
    json_decref(list);
    return n;
}

//  Start busybox's web server on each port inside the container.
static void
s_serve(const char *container, const int *ports, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char path[256];
        snprintf(path, sizeof path, "/1.0/instances/%s/exec", container);
        char port[16];
        snprintf(port, sizeof port, "%d", ports[i]);
        json_t *body = json_pack("{s:[s,s,s,s,s,s],s:b,s:b}", "command", "/bin/busybox", "httpd",
                                 "-p", port, "-h", "/www", "wait-for-websocket", 0,
                                 "interactive", 0);
        json_t *md = NULL;
        en_err_t err;
        if (en_lxd_call(LXD, "POST", path, body, &md, NULL, 20000, &err))
            fail_msg("exec httpd in %s: %s", container, err.message);
        json_int_t rc = json_integer_value(json_object_get(md, "return"));
        if (rc != 0)
            fail_msg("httpd -p %s in %s exited %d", port, container, (int)rc);
        json_decref(body);
        json_decref(md);
    }
}

//  Whether an HTTP GET from the host to address:port gets an answer.
static bool
s_reachable(const char *address, int port)
{
    CURL *curl = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d/", address, port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    fclose(sink);
    return rc == CURLE_OK && status == 200;
}

//  Reachability after a firewall change: LXD re-renders the bridge's
//  rules when the ACL changes, so the expected state is polled for with a
//  deadline; then it must hold.
static void
s_expect(const char *address, int port, bool want)
{
    int64_t deadline = en_mono_ms() + 10000;
    while (s_reachable(address, port) != want) {
        if (en_mono_ms() > deadline)
            fail_msg("%s:%d is %s, wanted %s", address, port, want ? "unreachable" : "reachable",
                     want ? "reachable" : "unreachable");
        en_sleep_ms(100);
    }
}

static const char *
s_arch(void)
{
    struct utsname u;
    uname(&u);
    return strcmp(u.machine, "aarch64") == 0 ? "arm64" : "amd64";
}

//  The container of a machine: the broker's juju-<6 of model>-<id>.
static void
s_container(const char *model_uuid, const char *machine, char out[64])
{
    snprintf(out, 64, "juju-%.6s-%s", model_uuid, machine);
}

//  --------------------------------------------------------------------------
//  Tests

static void
bootstrap_localhost_and_three_machines(void **state)
{
    (void)state;
    // the image the set-up imported, found through simplestreams
    free(s_ok("metadata generate-image -d %s/lxdimg -i environs/busybox --release 22.04 "
              "-a %s -r localhost",
              H.home, s_arch()));
    free(s_ok("bootstrap localhost lxc1 --config image-metadata-url=%s/lxdimg", H.home));
    json_t *ctl = s_json("show-controller lxc1");
    const char *uuid = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(ctl, k, v)
    {
        uuid = json_string_value(
            json_object_get(json_object_get(v, "details"), "uuid"));
    }
    if (!uuid)
        fail_msg("no controller uuid in %s", json_dumps(ctl, JSON_COMPACT));
    snprintf(CONTROLLER_UUID, sizeof CONTROLLER_UUID, "%s", uuid);
    json_decref(ctl);

    free(s_ok("add-machine -n 3"));
    json_t *addresses = s_machine_addresses("default", 3);
    char *model = s_model_uuid("default");
    json_t *listed = s_lxd_instances("juju-model-uuid", model);
    assert_int_equal(json_array_size(listed), 3);
    size_t i;
    json_t *inst;
    json_array_foreach(listed, i, inst)
    {
        json_t *config = json_object_get(inst, "config");
        const char *machine = json_string_value(json_object_get(config, "user.juju-machine-id"));
        assert_non_null(machine);
        char name[64];
        s_container(model, machine, name);
        assert_string_equal(json_string_value(json_object_get(inst, "name")), name);
        assert_string_equal(json_string_value(json_object_get(inst, "status")), "Running");
        assert_string_equal(
            json_string_value(json_object_get(config, "user.juju-controller-uuid")),
            CONTROLLER_UUID);
        assert_non_null(json_object_get(config, "user.juju-machine-nonce"));
        // the address `machines` shows is the container's DHCP lease on
        // the model's bridge (10.208.0.0/16 by default)
        const char *address = json_string_value(json_object_get(addresses, machine));
        assert_non_null(address);
        assert_int_equal(strncmp(address, "10.208.", 7), 0);
    }
    json_decref(listed);

    // the networking view: the model's bridge is a subnet, and machine 1's
    // eth0 sits on it with the address `machines` shows
    char bridge[16];
    snprintf(bridge, sizeof bridge, "en%.8s%.3s", model, model + 9);
    json_t *subnets_doc = s_json("subnets");
    json_t *subnets = json_object_get(subnets_doc, "subnets");
    const char *cidr = NULL;
    const char *key;
    json_t *item;
    json_object_foreach(subnets, key, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "provider-id")), bridge) == 0)
            cidr = key;
    }
    if (!cidr)
        fail_msg("no subnet %s in %s", bridge, json_dumps(subnets, JSON_COMPACT));
    json_t *shown = s_json("show-machine 1");
    json_t *eth0 = json_object_get(
        json_object_get(json_object_get(json_object_get(shown, "machines"), "1"),
                        "network-interfaces"),
        "eth0");
    assert_non_null(eth0);
    assert_string_equal(json_string_value(json_object_get(eth0, "cidr")), cidr);
    assert_string_equal(json_string_value(json_object_get(eth0, "provider-subnet-id")), bridge);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(eth0, "ip-addresses"), 0)),
        json_string_value(json_object_get(addresses, "1")));
    json_decref(shown);
    json_decref(subnets_doc);
    // spaces are not an LXD concept
    char *out, *err;
    assert_int_equal(harness_cli(&H, &out, &err, "spaces"), 1);
    assert_non_null(strstr(err, "spaces not supported"));
    free(out);
    free(err);
    json_decref(addresses);
    free(model);
}

static void
instance_mode_ports_with_real_packets(void **state)
{
    (void)state;
    char *model = s_model_uuid("default");
    json_t *addresses = s_machine_addresses("default", 3);
    const char *a1 = json_string_value(json_object_get(addresses, "1"));
    const char *a2 = json_string_value(json_object_get(addresses, "2"));
    char c1[64], c2[64];
    s_container(model, "1", c1);
    s_container(model, "2", c2);
    const int ports[] = {8080, 9090};
    s_serve(c1, ports, 2);
    s_serve(c2, ports, 2);
    // instance mode, nothing open: the model's ACL rejects by default
    s_expect(a1, 8080, false);
    free(s_ok("open-port 8080 1"));
    s_expect(a1, 8080, true);
    assert_false(s_reachable(a1, 9090));
    assert_false(s_reachable(a2, 8080));
    free(s_ok("close-port 8080 1"));
    s_expect(a1, 8080, false);
    assert_false(s_reachable(a2, 8080));
    // a removed machine takes its container and its own ACL with it
    char acl[128];
    snprintf(acl, sizeof acl, "juju-%s-2", model);
    assert_int_equal(s_lxd_tagged("network-acls", "juju-group", acl), 1);
    free(s_ok("remove-machine 2"));
    json_t *gone = s_lxd_instances("juju-model-uuid", model);
    assert_int_equal(json_array_size(gone), 2);
    json_decref(gone);
    assert_int_equal(s_lxd_tagged("network-acls", "juju-group", acl), 0);
    json_decref(addresses);
    free(model);
}

static void
global_mode_ports_with_real_packets(void **state)
{
    (void)state;
    free(s_ok("add-model g --config firewall-mode=global --config image-metadata-url=%s/lxdimg",
              H.home));
    free(s_ok("add-machine -n 2 -m g"));
    char *model = s_model_uuid("g");
    json_t *addresses = s_machine_addresses("g", 2);
    const char *a0 = json_string_value(json_object_get(addresses, "0"));
    const char *a1 = json_string_value(json_object_get(addresses, "1"));
    char c0[64], c1[64];
    s_container(model, "0", c0);
    s_container(model, "1", c1);
    const int ports[] = {8080, 9090};
    s_serve(c0, ports, 2);
    s_serve(c1, ports, 2);
    s_expect(a0, 8080, false);
    free(s_ok("open-port 8080 -m g"));
    s_expect(a0, 8080, true);
    s_expect(a1, 8080, true);
    assert_false(s_reachable(a0, 9090));
    assert_false(s_reachable(a1, 9090));
    free(s_ok("close-port 8080 -m g"));
    s_expect(a0, 8080, false);
    s_expect(a1, 8080, false);
    json_decref(addresses);
    free(model);
}

static void
broker_killed_during_add_machine_gives_exactly_five(void **state)
{
    (void)state;
    free(s_ok("add-model k --config image-metadata-url=%s/lxdimg", H.home));
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "ENVIRONS_GATEWAY=%s ENVIRONS_HOME=%s exec %s add-machine -n 5 -m k --timeout 300s "
             ">%s/add5.out 2>%s/add5.err",
             H.endpoint, H.home, harness_bin("cli/environs"), H.home, H.home);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *model = s_model_uuid("k");
    int am = harness_spawn(&H, "add-machine", 0, argv);
    // the kill lands while creates are in flight: as soon as LXD holds the
    // model's first container, both brokers die at once (their requests
    // go back to the gateway's queue) and start again
    int64_t deadline = en_mono_ms() + 120000;
    size_t seen_first = 0;
    int status = -1;
    while (seen_first == 0 && en_mono_ms() < deadline) {
        json_t *now = s_lxd_instances("juju-model-uuid", model);
        seen_first = json_array_size(now);
        json_decref(now);
        if (seen_first == 0 && (status = harness_wait(&H, am, 20)) != -1)
            break;
    }
    assert_true(seen_first > 0);
    for (int r = 0; r < 2; r++)
        harness_kill(&H, BROKERS[r], SIGKILL);
    for (int r = 0; r < 2; r++)
        BROKERS[r] = harness_start(&H, "broker", r);
    status = harness_wait(&H, am, 300000);
    fprintf(stderr, "add-machine -n 5: both brokers killed with %zu container(s) made\n",
            seen_first);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        char *out = NULL, *err = NULL;
        harness_run(&H, &out, &err, "cat %s/add5.out %s/add5.err", H.home, H.home);
        fail_msg("add-machine -n 5 exited %d: %s", status, out);
    }
    json_t *listed = s_lxd_instances("juju-model-uuid", model);
    assert_int_equal(json_array_size(listed), 5);
    json_t *seen = json_object();
    size_t i;
    json_t *inst;
    json_array_foreach(listed, i, inst)
    {
        const char *machine = json_string_value(
            json_object_get(json_object_get(inst, "config"), "user.juju-machine-id"));
        assert_non_null(machine);
        assert_null(json_object_get(seen, machine)); // one container per machine
        // and each was finished, even one whose create the kill cut short
        assert_string_equal(json_string_value(json_object_get(inst, "status")), "Running");
        json_object_set_new(seen, machine, json_true());
    }
    // and the CLI shows the same five machines
    json_t *doc = s_json("machines -m k");
    assert_int_equal(json_object_size(json_object_get(doc, "machines")), 5);
    json_decref(doc);
    json_decref(seen);
    json_decref(listed);
    free(model);
}

static void
destroy_controller_leaves_nothing_in_lxd(void **state)
{
    (void)state;
    assert_true(*CONTROLLER_UUID);
    assert_true(s_lxd_tagged("networks", "juju-controller-uuid", CONTROLLER_UUID) > 0);
    free(s_ok("destroy-controller lxc1 --destroy-all-models"));
    json_t *left = s_lxd_instances("juju-controller-uuid", CONTROLLER_UUID);
    assert_int_equal(json_array_size(left), 0);
    json_decref(left);
    assert_int_equal(s_lxd_tagged("network-acls", "juju-controller-uuid", CONTROLLER_UUID), 0);
    assert_int_equal(s_lxd_tagged("networks", "juju-controller-uuid", CONTROLLER_UUID), 0);
    assert_int_equal(s_lxd_tagged("profiles", "juju-controller-uuid", CONTROLLER_UUID), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bootstrap_localhost_and_three_machines),
        cmocka_unit_test(instance_mode_ports_with_real_packets),
        cmocka_unit_test(global_mode_ports_with_real_packets),
        cmocka_unit_test(broker_killed_during_add_machine_gives_exactly_five),
        cmocka_unit_test(destroy_controller_leaves_nothing_in_lxd),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
