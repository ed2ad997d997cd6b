/*  e2e: container addresses under load and across a restart.

    Real processes on loopback: a gateway, a registry, a broker (the
    cloud's concurrency limit, which paces the gateway's fan-out) and two
    networking replicas; the sim cloud is <home>/sim/sim.db. Hosts are
    made with the cloud's own API, each with its primary NIC in a
    different subnet, and the tests read the container NICs the cloud
    holds through the operator's console.

    The service is stateless (the cloud records each allocation under its
    host, container tag and interface), so what is checked here is what
    that design promises: concurrent allocations from two clients through
    two replicas never hand out an address twice, every address lies in
    its subnet, a restarted service answers an allocation it made before
    with the same addresses, and release frees everything. */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "environ.pb-c.h"
#include "harness.h"
#include "providers/sim/sim_cloud.h"

#define REGION "sim-east"
#define HOSTS 4
#define PER_CLIENT 500
#define CALL_MS 120000

static harness_t H;
static char *s_model_uuid;
static char *s_hosts[HOSTS];
static int s_nw[2]; // harness indexes of the networking replicas

#define FREE(m)                                                                                    \
    do {                                                                                           \
        if (m)                                                                                     \
            protobuf_c_message_free_unpacked((ProtobufCMessage *)(m), NULL);                       \
    } while (0)

static void *
s_call_on(en_client_t *client, const char *method, const void *req,
          const ProtobufCMessageDescriptor *rd, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    en_err_clear(err);
    en_client_call(client, EN_PUBLIC_SERVICE, method, s_model_uuid, req, rd, &res, CALL_MS, err);
    return res;
}

static bool
s_in_cidr(const char *addr, const char *cidr)
{
    char net[64];
    snprintf(net, sizeof net, "%s", cidr);
    char *slash = strchr(net, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int prefix = atoi(slash + 1);
    struct in_addr a, n;
    if (inet_pton(AF_INET, addr, &a) != 1 || inet_pton(AF_INET, net, &n) != 1)
        return false;
    uint32_t mask = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
    return (a.s_addr & mask) == (n.s_addr & mask);
}

static int
s_setup(void **state)
{
    (void)state;
    assert_int_equal(harness_init(&H), 0);
    harness_start(&H, "gateway", 0);
    harness_start(&H, "registry", 0);
    harness_start(&H, "broker", 0);
    s_nw[0] = harness_start(&H, "networking", 0);
    s_nw[1] = harness_start(&H, "networking", 1);
    assert_int_equal(harness_wait_service(&H, "registry", 20000), 0);
    assert_int_equal(harness_wait_service(&H, "broker", 20000), 0);
    assert_int_equal(harness_wait_service(&H, "networking", 20000), 0);
    En__OpenRequest req = EN__OPEN_REQUEST__INIT;
    En__ConfigAttrs cfg = EN__CONFIG_ATTRS__INIT;
    cfg.json = "{}";
    req.name = "containers";
    req.cloud_name = "sim";
    req.config = &cfg;
    en_err_t err;
    En__OpenResult *r = s_call_on(H.client, "Open", &req, &en__open_result__descriptor, &err);
    if (!r)
        fail_msg("Open: %s", err.message);
    s_model_uuid = strdup(r->model->uuid);
    FREE(r);
    en_sim_cloud_t *sim = harness_sim(&H, &err);
    assert_non_null(sim);
    const char *primary[HOSTS] = {"subnet-" REGION "-a-internal", "subnet-" REGION "-b-internal",
                                  "subnet-" REGION "-c-internal", "subnet-" REGION "-b-dmz"};
    for (int i = 0; i < HOSTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "host-%d", i);
        en_sim_instance_t inst;
        if (en_sim_cloud_create_placed(sim, REGION, NULL, "s1.small", name, NULL, 0, NULL, 0,
                                       &primary[i], 1, &inst, &err))
            fail_msg("create %s: %s", name, err.message);
        s_hosts[i] = strdup(inst.id);
        en_sim_instance_clear(&inst);
    }
    en_sim_cloud_close(&sim);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < HOSTS; i++)
        free(s_hosts[i]);
    free(s_model_uuid);
    return harness_fini(&H);
}

//  The cloud's container NICs (console); caller frees.
static en_sim_nic_t *
s_container_nics(size_t *n)
{
    en_err_t err;
    en_sim_cloud_t *sim = harness_sim(&H, &err);
    assert_non_null(sim);
    en_sim_nic_t *nics = NULL;
    assert_int_equal(en_sim_cloud_container_nics(sim, REGION, &nics, n, &err), 0);
    en_sim_cloud_close(&sim);
    return nics;
}

static En__InterfaceInfo s_eth0 = EN__INTERFACE_INFO__INIT;
static En__InterfaceInfo *s_prepared[] = {&s_eth0};

static void
s_item(En__AllocateContainerAddressesItem *item, char *tag, size_t tag_size, const char *kind,
       size_t i)
{
    en__allocate_container_addresses_item__init(item);
    snprintf(tag, tag_size, "machine-%zu-%s-%zu", i % HOSTS, kind, i);
    item->host_instance_id = s_hosts[i % HOSTS];
    item->container_tag = tag;
    item->prepared = s_prepared;
    item->n_prepared = 1;
}

//  One client's batch: PER_CLIENT containers of one kind (lxd or kvm).
typedef struct {
    const char *kind;
    En__AllocateContainerAddressesManyResult *res;
    en_err_t err;
} s_batch_t;

static void *
s_batch(void *arg)
{
    s_batch_t *b = arg;
    en_client_t *client = en_client_new(H.endpoint, &b->err);
    if (!client)
        return NULL;
    En__AllocateContainerAddressesItem *items = calloc(PER_CLIENT, sizeof *items);
    En__AllocateContainerAddressesItem **ptrs = calloc(PER_CLIENT, sizeof *ptrs);
    char(*tags)[64] = calloc(PER_CLIENT, sizeof *tags);
    for (size_t i = 0; i < PER_CLIENT; i++) {
        s_item(&items[i], tags[i], sizeof tags[i], b->kind, i);
        ptrs[i] = &items[i];
    }
    En__AllocateContainerAddressesManyRequest req =
        EN__ALLOCATE_CONTAINER_ADDRESSES_MANY_REQUEST__INIT;
    req.items = ptrs;
    req.n_items = PER_CLIENT;
    b->res = s_call_on(client, "AllocateContainerAddressesMany", &req,
                       &en__allocate_container_addresses_many_result__descriptor, &b->err);
    free(tags);
    free(ptrs);
    free(items);
    en_client_destroy(&client);
    return NULL;
}

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

//  Release the NICs by provider id, in one call.
static void
s_release(char **ids, size_t n)
{
    En__ProviderInterfaceInfo *refs = calloc(n ? n : 1, sizeof *refs);
    En__ProviderInterfaceInfo **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        en__provider_interface_info__init(&refs[i]);
        refs[i].interface_name = "eth0";
        refs[i].provider_id = ids[i];
        ptrs[i] = &refs[i];
    }
    En__ReleaseContainerAddressesRequest req = EN__RELEASE_CONTAINER_ADDRESSES_REQUEST__INIT;
    req.interfaces = ptrs;
    req.n_interfaces = n;
    en_err_t err;
    En__ReleaseContainerAddressesResult *r =
        s_call_on(H.client, "ReleaseContainerAddresses", &req,
                  &en__release_container_addresses_result__descriptor, &err);
    if (!r)
        fail_msg("ReleaseContainerAddresses: %s", err.message);
    FREE(r);
    free(ptrs);
    free(refs);
}

static void
concurrent_allocations_never_share_an_address(void **state)
{
    (void)state;
    s_eth0.interface_name = "eth0";
    s_batch_t batches[2] = {{.kind = "lxd"}, {.kind = "kvm"}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, s_batch, &batches[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);

    char **addrs = calloc(2 * PER_CLIENT, sizeof *addrs);
    char **ids = calloc(2 * PER_CLIENT, sizeof *ids);
    size_t n = 0;
    for (int b = 0; b < 2; b++) {
        if (!batches[b].res)
            fail_msg("batch %s: %s", batches[b].kind, batches[b].err.message);
        assert_int_equal(batches[b].res->n_items, PER_CLIENT);
        for (size_t i = 0; i < PER_CLIENT; i++) {
            const En__AllocateContainerAddressesItemResult *it = batches[b].res->items[i];
            if (it->error)
                fail_msg("%s item %zu: %s", batches[b].kind, i, it->error->message);
            assert_int_equal(it->n_interfaces, 1);
            const En__InterfaceInfo *nic = it->interfaces[0];
            assert_non_null(nic->address);
            assert_true(s_in_cidr(nic->address->value, nic->cidr));
            addrs[n] = nic->address->value;
            ids[n++] = nic->provider_id;
        }
    }
    qsort(addrs, n, sizeof *addrs, s_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(addrs[i - 1], addrs[i]) == 0)
            fail_msg("address %s handed out twice", addrs[i]);

    // the cloud holds exactly these, each in its subnet
    size_t cn = 0;
    en_sim_nic_t *cloud = s_container_nics(&cn);
    assert_int_equal(cn, 2 * PER_CLIENT);
    for (size_t i = 0; i < cn; i++)
        assert_true(s_in_cidr(cloud[i].address, cloud[i].subnet.cidr));
    free(cloud);

    s_release(ids, n);
    cloud = s_container_nics(&cn);
    assert_int_equal(cn, 0);
    free(cloud);
    free(ids);
    free(addrs);
    for (int b = 0; b < 2; b++)
        FREE(batches[b].res);
}

//  Single allocations of containers first..first+n of kind; the addresses
//  and provider ids (malloc'd copies) into out arrays.
static void
s_allocate_each(const char *kind, size_t first, size_t n, char **addrs, char **ids)
{
    s_eth0.interface_name = "eth0";
    for (size_t i = 0; i < n; i++) {
        char tag[64];
        En__AllocateContainerAddressesItem item;
        s_item(&item, tag, sizeof tag, kind, first + i);
        En__AllocateContainerAddressesRequest req = EN__ALLOCATE_CONTAINER_ADDRESSES_REQUEST__INIT;
        req.host_instance_id = item.host_instance_id;
        req.container_tag = tag;
        req.prepared = s_prepared;
        req.n_prepared = 1;
        en_err_t err;
        En__AllocateContainerAddressesResult *r =
            s_call_on(H.client, "AllocateContainerAddresses", &req,
                      &en__allocate_container_addresses_result__descriptor, &err);
        if (!r)
            fail_msg("allocate %s: %s", tag, err.message);
        assert_int_equal(r->n_interfaces, 1);
        assert_true(s_in_cidr(r->interfaces[0]->address->value, r->interfaces[0]->cidr));
        addrs[i] = strdup(r->interfaces[0]->address->value);
        ids[i] = strdup(r->interfaces[0]->provider_id);
        FREE(r);
    }
}

static void
a_restarted_service_answers_the_same_addresses(void **state)
{
    (void)state;
    enum { N = 24 };
    char *before[N], *before_ids[N], *again[N], *again_ids[N], *fresh[N], *fresh_ids[N];
    s_allocate_each("lxd", 1000, N, before, before_ids);

    // both replicas die at once, without draining; one comes back
    harness_kill(&H, s_nw[0], SIGKILL);
    harness_kill(&H, s_nw[1], SIGKILL);
    s_nw[0] = harness_start(&H, "networking", 2);
    assert_int_equal(harness_wait_service(&H, "networking", 20000), 0);

    s_allocate_each("lxd", 1000, N, again, again_ids);
    for (size_t i = 0; i < N; i++) {
        assert_string_equal(again[i], before[i]);
        assert_string_equal(again_ids[i], before_ids[i]);
    }
    s_allocate_each("kvm", 1000, N, fresh, fresh_ids);
    char *all[2 * N];
    for (size_t i = 0; i < N; i++) {
        all[i] = before[i];
        all[N + i] = fresh[i];
    }
    qsort(all, 2 * N, sizeof *all, s_cmp);
    for (size_t i = 1; i < 2 * N; i++)
        if (strcmp(all[i - 1], all[i]) == 0)
            fail_msg("address %s handed out twice", all[i]);
    size_t cn = 0;
    en_sim_nic_t *cloud = s_container_nics(&cn);
    assert_int_equal(cn, 2 * N);
    free(cloud);

    s_release(before_ids, N);
    s_release(fresh_ids, N);
    cloud = s_container_nics(&cn);
    assert_int_equal(cn, 0);
    free(cloud);
    for (size_t i = 0; i < N; i++) {
        free(before[i]);
        free(before_ids[i]);
        free(again[i]);
        free(again_ids[i]);
        free(fresh[i]);
        free(fresh_ids[i]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_allocations_never_share_an_address),
        cmocka_unit_test(a_restarted_service_answers_the_same_addresses),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
