/*  bench_select.c — instance-type selection over a 500-type catalogue
    (issue 3): how many selections per second the broker's path makes.

    The catalogue is generated, deterministically, to look like a public
    cloud's: families of general, compute, memory, burstable, storage and
    high-memory shapes over several generations, amd64 and arm64, sizes
    from 1 core / 0.5 GiB to 96 cores / 768 GiB, local disk on the "d"
    variants (the others report no root disk, which satisfies any
    root-disk), costs that follow cores and memory with a discount for
    arm64 and newer generations, a paravirtual first generation that is
    deprecated, and one family whose cpu-power the cloud does not publish.
    The raw list is in family order, not cost order (the sim driver hands
    the broker its catalogue sorted by cost, which flatters the uncached
    path's sort; a real cloud's API need not).

    The constraint sets are drawn, also deterministically, from templates
    a controller sends: nothing (the 1 GiB heuristic), mem, cores, both,
    arch with either, cpu-power, root-disk, virt-type, an instance type by
    name (a current one, a deprecated one, or an unknown one) and sets no
    type satisfies (mem=1T, cores=128, arch=s390x, ...), so the error
    path, which formats Juju's message, is measured too.

    Paths, each timed over every set in turn:
      uncached   en_matching_instance_types on the raw list: match each
                 type, then sort the matches by cost (one malloc'd answer)
      catalogue  en_itype_catalogue_match on a catalogue built once: types
                 pre-sorted by cost and arches interned as bits
      broker     en_find_instance_spec, what StartInstance calls today
                 (services/broker/start.c, s_spec): matching on the raw
                 list plus the choice of image, one image per catalogue
                 arch as s_spec builds them
      broker+cat en_itype_catalogue_find_spec: the same answer from the
                 prepared catalogue
    Rounds alternate the order of the paths and the figure is the median
    over rounds, so noise on the shared machine lands on all of them.
    Before timing, every set is checked to give the same answer on both
    matching paths and on both spec paths; a difference exits 2.

    Exit status: 0 when the broker's path meets the target, 1 when it does
    not, 2 when the benchmark could not run. --quick: 3 rounds of 100 ms. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/constraints.h"
#include "common/instancetype.h"

//  Target (issue 3): selections per second on the broker's path.
#define TARGET_RATE 100000.0

#define BENCH_MAX_TYPES 2000
#define BENCH_MAX_SETS 4096
#define BENCH_MAX_ROUNDS 15
#define BENCH_REGION "sim-east"

typedef struct {
    int types;  // catalogue size
    int sets;   // constraint sets
    int rounds; // timed rounds
    int ms;     // per path and round
} bench_opts_t;

static double
s_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

//  xorshift64: the same catalogue and sets on every run and machine.
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
s_rand(uint64_t n)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng % n;
}

//  --------------------------------------------------------------------------
//  The catalogue

static const char *const s_amd64[] = {"amd64"};
static const char *const s_arm64[] = {"arm64"};

//  A family: name prefix, arch, memory per core (MiB), cpu-power per core
//  (0 = not published), cost per core-hour and per GiB-hour (µ$), virt.
typedef struct {
    const char *prefix;
    bool arm;
    uint64_t mem_per_core;
    uint64_t power_per_core;
    uint64_t core_cost, gib_cost;
    const char *virt;
    bool deprecated;
    bool burst; // nano/micro/small sizes below one core's share
} family_t;

static const family_t s_families[] = {
    {"m1", false, 3840, 100, 22000, 2000, "pv", true, false},
    {"c1", false, 870, 250, 26000, 2000, "pv", true, false},
    {"t1", false, 615, 0, 9000, 1500, "pv", true, true},
    {"m4", false, 4096, 330, 20000, 2600, "hvm", false, false},
    {"c4", false, 1920, 390, 24000, 2600, "hvm", false, false},
    {"r4", false, 7808, 330, 14000, 3300, "hvm", false, false},
    {"t2", false, 2048, 0, 8000, 2300, "hvm", false, true},
    {"m5", false, 4096, 370, 19000, 2500, "hvm", false, false},
    {"c5", false, 2048, 430, 23000, 2500, "hvm", false, false},
    {"r5", false, 8192, 370, 13000, 3200, "hvm", false, false},
    {"t3", false, 2048, 340, 7500, 2200, "hvm", false, true},
    {"i3", false, 7808, 330, 15000, 3500, "hvm", false, false},
    {"m6i", false, 4096, 410, 18500, 2400, "hvm", false, false},
    {"c6i", false, 2048, 470, 22000, 2400, "hvm", false, false},
    {"r6i", false, 8192, 410, 12500, 3100, "hvm", false, false},
    {"x2i", false, 16384, 410, 11000, 3600, NULL, false, false},
    {"m7i", false, 4096, 450, 18000, 2350, "hvm", false, false},
    {"c7i", false, 2048, 510, 21500, 2350, "hvm", false, false},
    {"r7i", false, 8192, 450, 12000, 3000, "hvm", false, false},
    {"m6g", true, 4096, 390, 15000, 2000, "hvm", false, false},
    {"c6g", true, 2048, 440, 17500, 2000, "hvm", false, false},
    {"r6g", true, 8192, 390, 10000, 2600, "hvm", false, false},
    {"t4g", true, 2048, 330, 6000, 1800, "hvm", false, true},
    {"x2g", true, 16384, 390, 9000, 3000, NULL, false, false},
    {"m7g", true, 4096, 430, 14500, 1950, NULL, false, false},
    {"c7g", true, 2048, 480, 17000, 1950, NULL, false, false},
    {"r7g", true, 8192, 430, 9500, 2500, NULL, false, false},
    {"im4gn", true, 4096, 390, 16000, 2800, "hvm", false, false},
};

//  Sizes by cores; burstable families add nano..small (fractions of a core
//  share, memory given directly).
static const struct {
    const char *name;
    uint64_t cores;
} s_sizes[] = {
    {"medium", 1},   {"large", 2},     {"xlarge", 4},    {"2xlarge", 8},   {"4xlarge", 16},
    {"8xlarge", 32}, {"12xlarge", 48}, {"16xlarge", 64}, {"24xlarge", 96}, {"metal", 96},
};

static const struct {
    const char *name;
    uint64_t mem;
} s_burst[] = {{"nano", 512}, {"micro", 1024}, {"small", 2048}};

typedef struct {
    en_instance_type_t types[BENCH_MAX_TYPES];
    char names[BENCH_MAX_TYPES][32];
    size_t count;
    size_t deprecated;
    size_t arm;
} catalogue_t;

static void
s_add_type(catalogue_t *c, const family_t *f, const char *variant, const char *size, uint64_t cores,
           uint64_t mem, bool local_disk)
{
    size_t i = c->count++;
    snprintf(c->names[i], sizeof c->names[i], "%s%s.%s", f->prefix, variant, size);
    uint64_t gib_x1000 = mem * 1000 / 1024;
    //  cost in µ$ per hour, with a jitter so no two types tie by accident
    uint64_t cost = cores * f->core_cost + gib_x1000 * f->gib_cost / 1000 + s_rand(97);
    if (local_disk)
        cost += cost / 5;
    c->types[i] = (en_instance_type_t){
        .id = c->names[i],
        .name = c->names[i],
        .arches = f->arm ? s_arm64 : s_amd64,
        .arch_count = 1,
        .cpu_cores = cores,
        .mem = mem,
        .root_disk = local_disk ? cores * 75 * 1024 : 0,
        .cost = cost,
        .has_cpu_power = f->power_per_core > 0,
        .cpu_power = cores * f->power_per_core,
        .virt_type = f->virt,
        .deprecated = f->deprecated,
    };
    c->deprecated += f->deprecated;
    c->arm += f->arm;
}

//  Families × variants ("", "d" local disk, "n" network, "dn") × sizes,
//  round-robin so the catalogue fills with every family before the
//  variants, until `want` types; memory capped at 768 GiB.
static void
s_catalogue_build(catalogue_t *c, size_t want)
{
    static const char *const variants[] = {"", "d", "n", "dn"};
    const size_t nf = sizeof s_families / sizeof *s_families;
    memset(c, 0, sizeof *c);
    for (size_t v = 0; v < 4 && c->count < want; v++)
        for (size_t fi = 0; fi < nf && c->count < want; fi++) {
            const family_t *f = &s_families[fi];
            if (v > 0 && (f->deprecated || f->burst))
                continue; // old and burstable families come in one variant
            bool disk = strchr(variants[v], 'd') != NULL;
            for (size_t b = 0; f->burst && v == 0 && b < 3 && c->count < want; b++)
                s_add_type(c, f, "", s_burst[b].name, 1 + (b == 2), s_burst[b].mem, false);
            for (size_t s = 0; s < sizeof s_sizes / sizeof *s_sizes && c->count < want; s++) {
                uint64_t cores = s_sizes[s].cores, mem = cores * f->mem_per_core;
                if (mem > 768 * 1024 || (f->deprecated && cores > 8) || (f->burst && cores > 8))
                    continue;
                if (strcmp(s_sizes[s].name, "metal") == 0 && v > 0)
                    continue;
                s_add_type(c, f, variants[v], s_sizes[s].name, cores, mem, disk);
            }
        }
}

//  --------------------------------------------------------------------------
//  The constraint sets

typedef struct {
    en_constraints_t cons[BENCH_MAX_SETS];
    char text[BENCH_MAX_SETS][96];
    size_t count;
} sets_t;

static const char *
s_pick(const char *const *list, size_t n)
{
    return list[s_rand(n)];
}

static void
s_set_text(const catalogue_t *c, char *buf, size_t size)
{
    static const char *const mems[] = {"512M", "1G",   "2G",   "4G",   "8G",   "16G",  "32G",
                                       "64G",  "128G", "256G", "384G", "512G", "768G", "1T"};
    static const char *const cores[] = {"1", "2", "4", "8", "16", "32", "48", "64", "96", "128"};
    static const char *const powers[] = {"100", "400", "800", "2000", "6000", "20000", "60000"};
    static const char *const disks[] = {"8G", "100G", "300G", "1T", "4T", "10T"};
    static const char *const arches[] = {"amd64", "arm64"};
    const size_t nm = sizeof mems / sizeof *mems, nc = sizeof cores / sizeof *cores;
    const size_t np = sizeof powers / sizeof *powers, nd = sizeof disks / sizeof *disks;
    switch (s_rand(16)) {
    case 0:
        snprintf(buf, size, "%s", "");
        break;
    case 1:
        snprintf(buf, size, "mem=%s", s_pick(mems, nm));
        break;
    case 2:
        snprintf(buf, size, "cores=%s", s_pick(cores, nc));
        break;
    case 3:
        snprintf(buf, size, "cores=%s mem=%s", s_pick(cores, nc), s_pick(mems, nm));
        break;
    case 4:
        snprintf(buf, size, "arch=%s mem=%s", s_pick(arches, 2), s_pick(mems, nm));
        break;
    case 5:
        snprintf(buf, size, "arch=%s cores=%s", s_pick(arches, 2), s_pick(cores, nc));
        break;
    case 6:
        snprintf(buf, size, "cpu-power=%s", s_pick(powers, np));
        break;
    case 7:
        snprintf(buf, size, "cpu-power=%s mem=%s", s_pick(powers, np), s_pick(mems, nm));
        break;
    case 8:
        snprintf(buf, size, "root-disk=%s", s_pick(disks, nd));
        break;
    case 9:
        snprintf(buf, size, "arch=%s cores=%s root-disk=%s", s_pick(arches, 2), s_pick(cores, nc),
                 s_pick(disks, nd));
        break;
    case 10:
        snprintf(buf, size, "virt-type=%s mem=%s", s_rand(2) ? "hvm" : "pv", s_pick(mems, nm));
        break;
    case 11:
    case 12:
        snprintf(buf, size, "instance-type=%s", c->names[s_rand(c->count)]);
        break;
    case 13:
        snprintf(buf, size, "instance-type=%s arch=%s", c->names[s_rand(c->count)],
                 s_pick(arches, 2));
        break;
    case 14: {
        //  sets nothing satisfies
        static const char *const none[] = {"mem=1T",
                                           "cores=128",
                                           "arch=s390x",
                                           "instance-type=z9.huge",
                                           "arch=arm64 cores=96 mem=768G",
                                           "virt-type=kvm",
                                           "cpu-power=100000"};
        snprintf(buf, size, "%s", s_pick(none, sizeof none / sizeof *none));
        break;
    }
    default:
        snprintf(buf, size, "arch=%s cores=%s mem=%s cpu-power=%s", s_pick(arches, 2),
                 s_pick(cores, nc), s_pick(mems, nm), s_pick(powers, np));
        break;
    }
}

static int
s_sets_build(sets_t *sets, const catalogue_t *c, size_t want)
{
    sets->count = 0;
    for (size_t i = 0; i < want; i++) {
        s_set_text(c, sets->text[i], sizeof sets->text[i]);
        en_constraints_init(&sets->cons[i]);
        en_err_t err;
        if (en_constraints_parse(&sets->cons[i], sets->text[i], &err) != 0) {
            fprintf(stderr, "bench: constraints \"%s\": %s\n", sets->text[i], err.message);
            return -1;
        }
        sets->count++;
    }
    return 0;
}

static void
s_sets_free(sets_t *sets)
{
    for (size_t i = 0; i < sets->count; i++)
        en_constraints_reset(&sets->cons[i]);
    sets->count = 0;
}

//  --------------------------------------------------------------------------
//  The paths, as a table: one selection each, 0 when a type was chosen.

typedef struct {
    const catalogue_t *cat;
    en_itype_catalogue_t *prepared;
    en_itype_match_t *buf; // room for the whole catalogue
    en_image_t images[16];
    const char *arches[16];
    size_t image_count;
    uint64_t sink; // results folded in, so no call is optimised away
} rig_t;

static int
s_uncached(rig_t *rig, const en_constraints_t *cons)
{
    en_itype_match_t *out = NULL;
    size_t n = 0;
    int rc = en_matching_instance_types(rig->cat->types, rig->cat->count, BENCH_REGION, cons, &out,
                                        &n, NULL);
    rig->sink += n + (n ? out[0].type->cost : 0);
    free(out);
    return rc;
}

static int
s_catalogue(rig_t *rig, const en_constraints_t *cons)
{
    size_t n = 0;
    int rc = en_itype_catalogue_match(rig->prepared, BENCH_REGION, cons, rig->buf, rig->cat->count,
                                      &n, NULL);
    rig->sink += n + (n ? rig->buf[0].type->cost : 0);
    return rc;
}

static en_instance_constraint_t
s_ic(const rig_t *rig, const en_constraints_t *cons)
{
    return (en_instance_constraint_t){
        .region = BENCH_REGION,
        .series = "jammy",
        .arches = rig->arches,
        .arch_count = rig->image_count,
        .cons = cons,
    };
}

static int
s_broker(rig_t *rig, const en_constraints_t *cons)
{
    en_instance_constraint_t ic = s_ic(rig, cons);
    en_instance_spec_t spec;
    int rc = en_find_instance_spec(rig->images, rig->image_count, &ic, rig->cat->types,
                                   rig->cat->count, &spec, NULL);
    rig->sink += rc == 0 ? spec.itype.type->cost : 1;
    return rc;
}

static int
s_broker_catalogue(rig_t *rig, const en_constraints_t *cons)
{
    en_instance_constraint_t ic = s_ic(rig, cons);
    en_instance_spec_t spec;
    int rc = en_itype_catalogue_find_spec(rig->prepared, rig->images, rig->image_count, &ic, &spec,
                                          NULL);
    rig->sink += rc == 0 ? spec.itype.type->cost : 1;
    return rc;
}

typedef struct {
    const char *name;
    const char *what;
    int (*select)(rig_t *rig, const en_constraints_t *cons);
} path_t;

enum { P_UNCACHED, P_CATALOGUE, P_BROKER, P_BROKER_CAT, P_COUNT };
static const path_t s_paths[P_COUNT] = {
    [P_UNCACHED] = {"uncached", "en_matching_instance_types, raw list", s_uncached},
    [P_CATALOGUE] = {"catalogue", "en_itype_catalogue_match", s_catalogue},
    [P_BROKER] = {"broker", "en_find_instance_spec, raw list (StartInstance today)", s_broker},
    [P_BROKER_CAT] = {"broker+cat", "en_itype_catalogue_find_spec", s_broker_catalogue},
};

//  One image per arch of the catalogue, in catalogue order: what s_spec in
//  services/broker/start.c builds for every StartInstance.
static void
s_images(rig_t *rig)
{
    const catalogue_t *c = rig->cat;
    for (size_t i = 0; i < c->count; i++)
        for (size_t a = 0; a < c->types[i].arch_count; a++) {
            const char *arch = c->types[i].arches[a];
            bool seen = false;
            for (size_t k = 0; k < rig->image_count && !seen; k++)
                seen = strcmp(rig->images[k].arch, arch) == 0;
            if (!seen && rig->image_count < 16) {
                rig->images[rig->image_count] = (en_image_t){.id = arch, .arch = arch};
                rig->arches[rig->image_count++] = arch;
            }
        }
}

//  Both matching paths, and both spec paths, give the same answer for
//  every set (same types in the same order, or the same error).
static int
s_check(rig_t *rig, const sets_t *sets, size_t *matched)
{
    *matched = 0;
    for (size_t i = 0; i < sets->count; i++) {
        const en_constraints_t *cons = &sets->cons[i];
        en_itype_match_t *slow = NULL;
        size_t n_slow = 0, n_fast = 0;
        en_err_t e1 = {0}, e2 = {0};
        int r1 = en_matching_instance_types(rig->cat->types, rig->cat->count, BENCH_REGION, cons,
                                            &slow, &n_slow, &e1);
        int r2 = en_itype_catalogue_match(rig->prepared, BENCH_REGION, cons, rig->buf,
                                          rig->cat->count, &n_fast, &e2);
        bool same = r1 == r2 && n_slow == n_fast &&
                    (r1 != 0 || memcmp(slow, rig->buf, n_slow * sizeof *slow) == 0) &&
                    (r1 == 0 || strcmp(e1.message, e2.message) == 0);
        free(slow);
        en_instance_constraint_t ic = s_ic(rig, cons);
        en_instance_spec_t s1, s2;
        r1 = en_find_instance_spec(rig->images, rig->image_count, &ic, rig->cat->types,
                                   rig->cat->count, &s1, &e1);
        r2 = en_itype_catalogue_find_spec(rig->prepared, rig->images, rig->image_count, &ic, &s2,
                                          &e2);
        same = same && r1 == r2 &&
               (r1 != 0 || (s1.itype.type == s2.itype.type && s1.image == s2.image)) &&
               (r1 == 0 || strcmp(e1.message, e2.message) == 0);
        if (!same) {
            fprintf(stderr, "bench: the paths disagree on \"%s\"\n", sets->text[i]);
            return -1;
        }
        *matched += r1 == 0;
    }
    return 0;
}

//  Selections per second of one path over the sets, for about `ms`.
static double
s_rate(rig_t *rig, const path_t *path, const sets_t *sets, int ms)
{
    double t0 = s_now_s(), until = t0 + ms / 1000.0, t = t0;
    size_t done = 0, i = 0;
    while (t < until) {
        for (int k = 0; k < 64; k++) {
            path->select(rig, &sets->cons[i]);
            i = i + 1 == sets->count ? 0 : i + 1;
        }
        done += 64;
        t = s_now_s();
    }
    return (double)done / (t - t0);
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

//  --------------------------------------------------------------------------

static void
s_describe(const catalogue_t *c, const sets_t *sets, size_t matched)
{
    uint64_t min_mem = UINT64_MAX, max_mem = 0, max_cores = 0, no_power = 0, no_disk = 0;
    for (size_t i = 0; i < c->count; i++) {
        const en_instance_type_t *t = &c->types[i];
        min_mem = t->mem < min_mem ? t->mem : min_mem;
        max_mem = t->mem > max_mem ? t->mem : max_mem;
        max_cores = t->cpu_cores > max_cores ? t->cpu_cores : max_cores;
        no_power += !t->has_cpu_power;
        no_disk += t->root_disk == 0;
    }
    printf("catalogue: %zu types, %zu families, %zu arm64, %zu deprecated, %" PRIu64
           " without cpu-power, %" PRIu64 " without root disk; cores 1-%" PRIu64
           ", mem %.1f-%.0f GiB\n",
           c->count, sizeof s_families / sizeof *s_families, c->arm, c->deprecated, no_power,
           no_disk, max_cores, min_mem / 1024.0, max_mem / 1024.0);
    printf("constraint sets: %zu (%zu select a type, %zu match nothing), e.g.\n", sets->count,
           matched, sets->count - matched);
    for (size_t i = 0; i < sets->count && i < 6; i++)
        printf("  \"%s\"\n", sets->text[i]);
}

static int
s_print_usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [--quick] [--rounds R] [--ms MS] [--types N] [--sets K]\n", argv0);
    return 2;
}

int
main(int argc, char **argv)
{
    bench_opts_t o = {.types = 500, .sets = 1000, .rounds = 7, .ms = 600};
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'q'},      {"rounds", required_argument, NULL, 'R'},
        {"ms", required_argument, NULL, 'm'},   {"types", required_argument, NULL, 't'},
        {"sets", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'q':
            o.rounds = 3, o.ms = 100;
            break;
        case 'R':
            o.rounds = atoi(optarg);
            break;
        case 'm':
            o.ms = atoi(optarg);
            break;
        case 't':
            o.types = atoi(optarg);
            break;
        case 's':
            o.sets = atoi(optarg);
            break;
        default:
            return s_print_usage(argv[0]);
        }
    }
    if (o.rounds < 1 || o.rounds > BENCH_MAX_ROUNDS || o.ms < 1 || o.types < 1 ||
        o.types > BENCH_MAX_TYPES || o.sets < 1 || o.sets > BENCH_MAX_SETS)
        return s_print_usage(argv[0]);

    static catalogue_t cat;
    static sets_t sets, blank;
    int rc = 2;
    rig_t rig = {.cat = &cat};
    s_catalogue_build(&cat, (size_t)o.types);
    if (cat.count < (size_t)o.types)
        fprintf(stderr, "bench: the generator makes at most %zu types\n", cat.count);
    if (s_sets_build(&sets, &cat, (size_t)o.sets))
        goto cleanup;
    rig.prepared = en_itype_catalogue_new(cat.types, cat.count);
    rig.buf = malloc(cat.count * sizeof *rig.buf);
    if (!rig.prepared || !rig.buf)
        goto cleanup;
    s_images(&rig);
    size_t matched, blank_matches = 0;
    if (s_check(&rig, &sets, &matched))
        goto cleanup;
    en_constraints_init(&blank.cons[0]);
    blank.count = 1;
    en_itype_catalogue_match(rig.prepared, BENCH_REGION, &blank.cons[0], rig.buf, cat.count,
                             &blank_matches, NULL);
    s_describe(&cat, &sets, matched);
    printf("images: one per catalogue arch (%zu), as StartInstance builds them\n\n",
           rig.image_count);
    fflush(stdout);

    double rates[P_COUNT][BENCH_MAX_ROUNDS];
    for (int r = 0; r < o.rounds; r++) {
        // a different path goes first each round
        for (int k = 0; k < P_COUNT; k++) {
            int p = (r + k) % P_COUNT;
            rates[p][r] = s_rate(&rig, &s_paths[p], &sets, o.ms);
        }
        printf("round %d:", r + 1);
        for (int p = 0; p < P_COUNT; p++)
            printf(" %s %.0f/s%s", s_paths[p].name, rates[p][r], p + 1 < P_COUNT ? ";" : "\n");
        fflush(stdout);
    }
    double med[P_COUNT];
    for (int p = 0; p < P_COUNT; p++)
        med[p] = s_median(rates[p], o.rounds);
    //  The commonest and heaviest set: no constraints at all, where the
    //  1 GiB heuristic keeps nearly the whole catalogue to sort.
    double empty_rates[P_COUNT][BENCH_MAX_ROUNDS], empty[P_COUNT];
    for (int r = 0; r < o.rounds; r++)
        for (int k = 0; k < P_COUNT; k++) {
            int p = (r + k) % P_COUNT;
            empty_rates[p][r] = s_rate(&rig, &s_paths[p], &blank, o.ms / 2 + 1);
        }
    for (int p = 0; p < P_COUNT; p++)
        empty[p] = s_median(empty_rates[p], o.rounds);

    printf("\nSelection: medians of %d rounds of %d ms per path, %zu types, %zu sets\n\n", o.rounds,
           o.ms, cat.count, sets.count);
    printf("| path       | what                                                  | selections/s "
           "| µs/selection | vs uncached |\n");
    printf("|------------|-------------------------------------------------------|-------------:"
           "|-------------:|------------:|\n");
    for (int p = 0; p < P_COUNT; p++)
        printf("| %-10s | %-53s | %12.0f | %12.2f | %10.2f× |\n", s_paths[p].name, s_paths[p].what,
               med[p], 1e6 / med[p], med[p] / med[P_UNCACHED]);
    printf("\nThe same with no constraints (\"\": %zu types match)\n\n", blank_matches);
    printf("| path       | selections/s | µs/selection | vs uncached |\n");
    printf("|------------|-------------:|-------------:|------------:|\n");
    for (int p = 0; p < P_COUNT; p++)
        printf("| %-10s | %12.0f | %12.2f | %10.2f× |\n", s_paths[p].name, empty[p], 1e6 / empty[p],
               empty[p] / empty[P_UNCACHED]);
    printf("\ncatalogue / uncached (matching only)   = %.2f×\n",
           med[P_CATALOGUE] / med[P_UNCACHED]);
    printf("broker+cat / broker (with the image)   = %.2f×\n", med[P_BROKER_CAT] / med[P_BROKER]);
    double ratio = med[P_BROKER] / TARGET_RATE;
    bool ok = ratio >= 1.0;
    printf("\nbroker path (StartInstance today) = %.0f selections/s = %.2f× the target of %.0f/s  "
           "%s\n",
           med[P_BROKER], ratio, TARGET_RATE, ok ? "PASS" : "FAIL");
    printf("catalogue spec path               = %.0f selections/s = %.2f× the target\n",
           med[P_BROKER_CAT], med[P_BROKER_CAT] / TARGET_RATE);
    printf("(checksum %llu)\n", (unsigned long long)(rig.sink & 0xffff));
    rc = ok ? 0 : 1;
cleanup:
    en_itype_catalogue_destroy(&rig.prepared);
    free(rig.buf);
    s_sets_free(&sets);
    s_sets_free(&blank);
    return rc;
}
