/*  instancetype.c — MatchingInstanceTypes, FindInstanceSpec and defaults.

    One selection routine, s_select, serves both entry points. It sees the
    catalogue through a view: the types, optionally an order in which they
    are already sorted by cost, and optionally each type's arches as bits of
    an interned arch table. The one-shot en_matching_instance_types passes
    neither (match in input order, then sort); a prepared catalogue passes
    both, so a selection is one pass of integer compares over the types.

    Pre-sorting is only sound when byCost is a total order on the
    catalogue. It is not when types of equal cost and memory mix known and
    unknown cpu-power (cpu-power is then compared for some pairs only, and
    three types can beat each other in a cycle); a catalogue like that
    falls back to sorting each answer, which keeps both paths identical. */
#include "common/instancetype.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The constraints as the matcher needs them, resolved once per call.
typedef struct {
    const char *arch;          //  Go's cons.Arch != nil, even when ""
    const char *instance_type; //  HasInstanceType
    bool has_cores, has_cpu_power, has_mem, has_root_disk;
    uint64_t cores, cpu_power, mem, root_disk;
    const en_cons_list_t *tags; //  set and non-empty
    const char *virt_type;      //  HasVirtType
} s_query_t;

static void
s_query_init(s_query_t *q, const en_constraints_t *cons)
{
    memset(q, 0, sizeof *q);
    if (en_constraints_is_set(cons, EN_CONS_ARCH))
        q->arch = cons->arch;
    if (en_constraints_has(cons, EN_CONS_INSTANCE_TYPE))
        q->instance_type = cons->instance_type;
    q->has_cores = en_constraints_is_set(cons, EN_CONS_CORES);
    q->cores = cons->cores;
    q->has_cpu_power = en_constraints_is_set(cons, EN_CONS_CPU_POWER);
    q->cpu_power = cons->cpu_power;
    q->has_mem = en_constraints_is_set(cons, EN_CONS_MEM);
    q->mem = cons->mem;
    q->has_root_disk = en_constraints_is_set(cons, EN_CONS_ROOT_DISK);
    q->root_disk = cons->root_disk;
    if (cons->tags.count > 0)
        q->tags = &cons->tags;
    if (en_constraints_has(cons, EN_CONS_VIRT_TYPE))
        q->virt_type = cons->virt_type;
}

static bool
s_has_tag(const en_instance_type_t *type, const char *tag)
{
    for (size_t i = 0; i < type->tag_count; i++)
        if (strcmp(type->tags[i], tag) == 0)
            return true;
    return false;
}

//  Every check of §3.1 but the arch filter; the order of the checks does
//  not change the answer, so the cheap integer ones go first.
static bool
s_match_rest(const en_instance_type_t *t, const s_query_t *q)
{
    if ((q->has_mem && t->mem < q->mem) || (q->has_cores && t->cpu_cores < q->cores))
        return false;
    if (q->has_cpu_power && t->has_cpu_power && t->cpu_power < q->cpu_power)
        return false;
    if (q->has_root_disk && t->root_disk > 0 && t->root_disk < q->root_disk)
        return false;
    if (t->deprecated && !q->instance_type)
        return false;
    if (q->instance_type && strcmp(t->name, q->instance_type) != 0)
        return false;
    if (q->virt_type && (!t->virt_type || strcmp(t->virt_type, q->virt_type) != 0))
        return false;
    for (size_t i = 0; q->tags && i < q->tags->count; i++)
        if (!s_has_tag(t, q->tags->items[i]))
            return false;
    return true;
}

//  filterArches: with an arch constraint only that arch is kept (arches of
//  a type are taken to be distinct). False when none is left.
static bool
s_match_arches(const en_instance_type_t *t, const char *arch, en_itype_match_t *m)
{
    m->type = t;
    m->arch_first = 0;
    m->arch_count = (uint32_t)t->arch_count;
    if (!arch)
        return t->arch_count > 0;
    for (size_t i = 0; i < t->arch_count; i++)
        if (strcmp(t->arches[i], arch) == 0) {
            m->arch_first = (uint32_t)i;
            m->arch_count = 1;
            return true;
        }
    return false;
}

bool
en_instance_type_match(const en_instance_type_t *type, const en_constraints_t *cons,
                       en_itype_match_t *match)
{
    s_query_t q;
    s_query_init(&q, cons);
    if (s_match_rest(type, &q) && s_match_arches(type, q.arch, match))
        return true;
    memset(match, 0, sizeof *match);
    return false;
}

//  --------------------------------------------------------------------------
//  byCost, stably

static int
s_cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int
s_by_cost(const en_instance_type_t *a, const en_instance_type_t *b)
{
    if (a->cost != b->cost)
        return s_cmp_u64(a->cost, b->cost);
    if (a->mem != b->mem)
        return s_cmp_u64(a->mem, b->mem);
    if (a->has_cpu_power && b->has_cpu_power && a->cpu_power != b->cpu_power)
        return s_cmp_u64(a->cpu_power, b->cpu_power);
    if (a->cpu_cores != b->cpu_cores)
        return s_cmp_u64(a->cpu_cores, b->cpu_cores);
    return s_cmp_u64(a->root_disk, b->root_disk); //  tags are never compared
}

static void
s_insertion_sort(en_itype_match_t *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        en_itype_match_t item = m[i];
        size_t j = i;
        for (; j > 0 && s_by_cost(item.type, m[j - 1].type) < 0; j--)
            m[j] = m[j - 1];
        m[j] = item;
    }
}

//  Bottom-up merge sort over runs sorted by insertion; a right element
//  passes a left one only when strictly less, which keeps it stable.
static void
s_merge_sort(en_itype_match_t *m, size_t n, en_itype_match_t *tmp)
{
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run)
        s_insertion_sort(m + lo, n - lo < run ? n - lo : run);
    en_itype_match_t *src = m, *dst = tmp;
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = s_by_cost(src[j].type, src[i].type) < 0 ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        en_itype_match_t *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != m)
        memcpy(m, src, n * sizeof *m);
}

//  Sorts; only needs memory beyond the insertion-sorted runs, and falls
//  back to a (slow, still stable) insertion sort without it.
static void
s_sort(en_itype_match_t *m, size_t n)
{
    en_itype_match_t *tmp = n > 16 ? malloc(n * sizeof *tmp) : NULL;
    if (tmp)
        s_merge_sort(m, n, tmp);
    else
        s_insertion_sort(m, n);
    free(tmp);
}

void
en_itype_sort_by_cost(en_itype_match_t *matches, size_t count)
{
    s_sort(matches, count);
}

//  --------------------------------------------------------------------------
//  Selection

//  What s_select knows of a catalogue (see the file comment).
typedef struct {
    const en_instance_type_t *types;
    size_t count;
    const uint32_t *order;   //  byCost order, or NULL: sort each answer
    const char **arch_names; //  interned arches, or NULL: compare strings
    size_t arch_name_count;
    const uint64_t *arch_masks; //  per type, bit i = arch_names[i]
} s_view_t;

//  Does type i survive the arch filter by its interned bits? (The bit of
//  the wanted arch is `want`; 0 when no type has that arch.)
static bool
s_arch_possible(const s_view_t *view, size_t i, const s_query_t *q, uint64_t want)
{
    if (!q->arch || !view->arch_masks)
        return true;
    return (view->arch_masks[i] & want) != 0;
}

static size_t
s_collect(const s_view_t *view, const s_query_t *q, en_itype_match_t *out, size_t cap)
{
    uint64_t want = 0;
    for (size_t i = 0; q->arch && i < view->arch_name_count; i++)
        if (strcmp(view->arch_names[i], q->arch) == 0)
            want = (uint64_t)1 << i;
    size_t n = 0;
    for (size_t k = 0; k < view->count; k++) {
        size_t i = view->order ? view->order[k] : k;
        const en_instance_type_t *t = &view->types[i];
        if (!s_arch_possible(view, i, q, want) || !s_match_rest(t, q))
            continue;
        en_itype_match_t m;
        if (!s_match_arches(t, q->arch, &m))
            continue;
        if (n < cap)
            out[n] = m;
        n++;
    }
    return n;
}

static int
s_no_match(const char *region, const en_constraints_t *cons, en_err_t *err)
{
    char text[EN_ERR_MSG_MAX], quoted[EN_ERR_MSG_MAX];
    en_constraints_format(cons, text, sizeof text);
    en_go_quote(quoted, sizeof quoted, text);
    return en_err_set(err, EN_NOT_FOUND, "no instance types in %s matching constraints %s",
                      region ? region : "", quoted);
}

static int
s_select(const s_view_t *view, const char *region, const en_constraints_t *cons,
         en_itype_match_t *out, size_t cap, size_t *count, en_err_t *err)
{
    *count = 0;
    s_query_t q;
    s_query_init(&q, cons);
    //  Not HasMem: an explicit "mem=" or "mem=0" turns the heuristic off.
    bool heuristic = !q.instance_type && !q.has_mem;
    if (heuristic) {
        q.has_mem = true;
        q.mem = EN_MIN_MEMORY_HEURISTIC;
    }
    size_t n = s_collect(view, &q, out, cap);
    if (n > cap)
        return en_err_set(err, EN_INTERNAL, "%zu matching instance types exceed room for %zu", n,
                          cap);
    if (n == 0 && heuristic) {
        //  Nothing has 1 GiB: take the largest memory that matches the
        //  rest, the cheapest of equals, the first of equal cost.
        q.has_mem = false;
        en_itype_match_t best = {0};
        for (size_t i = 0; i < view->count; i++) {
            const en_instance_type_t *t = &view->types[i];
            en_itype_match_t m;
            if (!s_match_rest(t, &q) || !s_match_arches(t, q.arch, &m))
                continue;
            if (!best.type || t->mem > best.type->mem ||
                (t->mem == best.type->mem && t->cost < best.type->cost))
                best = m;
        }
        if (best.type && cap == 0)
            return en_err_set(err, EN_INTERNAL, "no room for a matching instance type");
        if (best.type)
            out[n++] = best;
    } else if (!view->order)
        s_sort(out, n);
    if (n == 0)
        return s_no_match(region, cons, err);
    *count = n;
    return 0;
}

int
en_matching_instance_types(const en_instance_type_t *types, size_t n_types, const char *region,
                           const en_constraints_t *cons, en_itype_match_t **out, size_t *count,
                           en_err_t *err)
{
    *out = NULL;
    *count = 0;
    en_itype_match_t *matches = malloc((n_types ? n_types : 1) * sizeof *matches);
    if (!matches)
        return en_err_set(err, EN_INTERNAL, "out of memory matching instance types");
    s_view_t view = {.types = types, .count = n_types};
    if (s_select(&view, region, cons, matches, n_types, count, err) != 0) {
        free(matches);
        return -1;
    }
    *out = matches;
    return 0;
}

//  --------------------------------------------------------------------------
//  Prepared catalogue

struct en_itype_catalogue {
    const en_instance_type_t *types;
    size_t count;
    uint32_t *order; //  byCost order of the whole catalogue
    bool presorted;  //  byCost is total here, so `order` may be used
    const char **arch_names;
    size_t arch_name_count;
    uint64_t *arch_masks; //  NULL when there are more than 64 arches
};

//  True when no two types of equal cost and memory differ in whether their
//  cpu-power is known. `order` is sorted, so equal (cost, mem) are adjacent.
static bool
s_cost_order_is_total(const en_itype_catalogue_t *self)
{
    for (size_t k = 1; k < self->count; k++) {
        const en_instance_type_t *a = &self->types[self->order[k - 1]];
        const en_instance_type_t *b = &self->types[self->order[k]];
        if (a->cost != b->cost || a->mem != b->mem)
            continue;
        size_t first = k - 1;
        while (first > 0 && self->types[self->order[first - 1]].cost == a->cost &&
               self->types[self->order[first - 1]].mem == a->mem)
            first--;
        if (self->types[self->order[first]].has_cpu_power != b->has_cpu_power)
            return false;
    }
    return true;
}

//  Give every distinct arch a bit; false when there are more than 64.
static bool
s_intern_arches(en_itype_catalogue_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        const en_instance_type_t *t = &self->types[i];
        for (size_t a = 0; a < t->arch_count; a++) {
            size_t k = 0;
            while (k < self->arch_name_count && strcmp(self->arch_names[k], t->arches[a]) != 0)
                k++;
            if (k == self->arch_name_count) {
                if (k == 64)
                    return false;
                self->arch_names[self->arch_name_count++] = t->arches[a];
            }
            self->arch_masks[i] |= (uint64_t)1 << k;
        }
    }
    return true;
}

en_itype_catalogue_t *
en_itype_catalogue_new(const en_instance_type_t *types, size_t count)
{
    en_itype_catalogue_t *self = calloc(1, sizeof *self);
    en_itype_match_t *sorted = malloc((count ? count : 1) * sizeof *sorted);
    if (!self || !sorted || count > UINT32_MAX)
        goto cleanup;
    self->types = types;
    self->count = count;
    self->order = malloc((count ? count : 1) * sizeof *self->order);
    self->arch_names = calloc(64, sizeof *self->arch_names);
    self->arch_masks = calloc(count ? count : 1, sizeof *self->arch_masks);
    if (!self->order || !self->arch_names || !self->arch_masks)
        goto cleanup;
    //  Stable sort of the whole catalogue; the type's index rides along as
    //  its position, recovered by pointer difference.
    for (size_t i = 0; i < count; i++)
        sorted[i] = (en_itype_match_t){.type = &types[i]};
    s_sort(sorted, count);
    for (size_t k = 0; k < count; k++)
        self->order[k] = (uint32_t)(sorted[k].type - types);
    self->presorted = s_cost_order_is_total(self);
    if (!s_intern_arches(self)) {
        free(self->arch_masks);
        self->arch_masks = NULL;
    }
    free(sorted);
    return self;
cleanup:
    free(sorted);
    en_itype_catalogue_destroy(&self);
    return NULL;
}

void
en_itype_catalogue_destroy(en_itype_catalogue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_itype_catalogue_t *self = *self_p;
    free(self->order);
    free(self->arch_names);
    free(self->arch_masks);
    free(self);
    *self_p = NULL;
}

size_t
en_itype_catalogue_size(const en_itype_catalogue_t *self)
{
    return self->count;
}

int
en_itype_catalogue_match(const en_itype_catalogue_t *self, const char *region,
                         const en_constraints_t *cons, en_itype_match_t *out, size_t cap,
                         size_t *count, en_err_t *err)
{
    s_view_t view = {
        .types = self->types,
        .count = self->count,
        .order = self->presorted ? self->order : NULL,
        .arch_names = self->arch_names,
        .arch_name_count = self->arch_masks ? self->arch_name_count : 0,
        .arch_masks = self->arch_masks,
    };
    return s_select(&view, region, cons, out, cap, count, err);
}

//  --------------------------------------------------------------------------
//  Defaults

void
en_controller_default_constraints(en_constraints_t *cons)
{
    if (!en_constraints_has(cons, EN_CONS_INSTANCE_TYPE) &&
        !en_constraints_has(cons, EN_CONS_CORES) && !en_constraints_has(cons, EN_CONS_CPU_POWER) &&
        !en_constraints_has(cons, EN_CONS_MEM))
        en_constraints_set_uint(cons, EN_CONS_MEM, EN_CONTROLLER_DEFAULT_MEM);
}

//  --------------------------------------------------------------------------
//  FindInstanceSpec

//  juju/arch Info word sizes; an unknown arch has 0 and sorts last.
static int
s_word_size(const char *arch)
{
    static const char *const wide[] = {"amd64", "arm64", "ppc64el", "s390x"};
    static const char *const narrow[] = {"i386", "armhf"};
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        if (strcmp(arch, wide[i]) == 0)
            return 64;
    for (size_t i = 0; i < sizeof narrow / sizeof *narrow; i++)
        if (strcmp(arch, narrow[i]) == 0)
            return 32;
    return 0;
}

//  byArch: wider word first, then arch name. Ties keep the earlier find,
//  which is byArch's last key (insertion order).
static bool
s_arch_before(const en_image_t *a, const en_image_t *b)
{
    int wa = s_word_size(a->arch), wb = s_word_size(b->arch);
    if (wa != wb)
        return wa > wb;
    return strcmp(a->arch, b->arch) < 0;
}

static bool
s_image_arch_ok(const en_itype_match_t *m, const en_image_t *image)
{
    if (!image->arch)
        return false;
    for (uint32_t i = m->arch_first; i < m->arch_first + m->arch_count; i++)
        if (strcmp(m->type->arches[i], image->arch) == 0)
            return true;
    return false;
}

//  Adds the i-th word to a Go-style "[a b c]" list being built in buf.
static void
s_list_add(char *buf, size_t size, size_t *len, size_t i, const char *word)
{
    if (i == 0)
        *len = (size_t)snprintf(buf, size, "[");
    if (*len < size)
        *len += (size_t)snprintf(buf + *len, size - *len, "%s%s", i ? " " : "", word);
}

static void
s_list_end(char *buf, size_t size, size_t len, size_t count)
{
    if (count == 0)
        len = (size_t)snprintf(buf, size, "[");
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

//  The "no images" failure, checked before any matching.
static int
s_no_images(const en_instance_constraint_t *ic, en_err_t *err)
{
    char series[EN_ERR_MSG_MAX / 4], list[EN_ERR_MSG_MAX / 2];
    size_t len = 0;
    en_go_quote(series, sizeof series, ic->series ? ic->series : "");
    for (size_t i = 0; i < ic->arch_count; i++)
        s_list_add(list, sizeof list, &len, i, ic->arches[i]);
    s_list_end(list, sizeof list, len, ic->arch_count);
    return en_err_set(err, EN_NOT_FOUND, "no %s images in %s with arches %s", series,
                      ic->region ? ic->region : "", list);
}

//  FindInstanceSpec's choice among matches already in cost order.
static int
s_choose(const en_image_t *images, size_t n_images, const en_instance_constraint_t *ic,
         const en_itype_match_t *matches, size_t n, en_instance_spec_t *spec, en_err_t *err)
{
    //  The first image in byArch order. Once the exact answer has its
    //  arch, no later pair can displace it (only a strictly better arch
    //  does), and an exact answer beats any partial: the search is over.
    const en_image_t *first = NULL;
    for (size_t i = 0; i < n_images; i++)
        if (images[i].arch && (!first || s_arch_before(&images[i], first)))
            first = &images[i];
    //  Exact virt-type matches beat images that name no virt-type.
    en_instance_spec_t exact = {0}, partial = {0};
    bool settled = false;
    for (size_t k = 0; k < n && !settled; k++) {
        const char *want = matches[k].type->virt_type;
        for (size_t i = 0; i < n_images; i++) {
            const en_image_t *image = &images[i];
            const char *virt = image->virt_type ? image->virt_type : "";
            if (!s_image_arch_ok(&matches[k], image))
                continue;
            en_instance_spec_t *best = NULL;
            if (!want || strcmp(virt, want) == 0)
                best = &exact;
            else if (*virt == '\0')
                best = &partial;
            if (best && (!best->image || s_arch_before(image, best->image)))
                *best = (en_instance_spec_t){matches[k], image};
        }
        settled = exact.image && !s_arch_before(first, exact.image);
    }
    if (exact.image || partial.image) {
        *spec = exact.image ? exact : partial;
        return 0;
    }
    char series[EN_ERR_MSG_MAX / 4], list[EN_ERR_MSG_MAX / 2];
    size_t len = 0;
    en_go_quote(series, sizeof series, ic->series ? ic->series : "");
    for (size_t k = 0; k < n; k++)
        s_list_add(list, sizeof list, &len, k, matches[k].type->name);
    s_list_end(list, sizeof list, len, n);
    return en_err_set(err, EN_NOT_FOUND, "no %s images in %s matching instance types %s", series,
                      ic->region ? ic->region : "", list);
}

int
en_find_instance_spec(const en_image_t *images, size_t n_images, const en_instance_constraint_t *ic,
                      const en_instance_type_t *types, size_t n_types, en_instance_spec_t *spec,
                      en_err_t *err)
{
    memset(spec, 0, sizeof *spec);
    if (n_images == 0)
        return s_no_images(ic, err);
    en_constraints_t none;
    en_constraints_init(&none);
    en_itype_match_t *matches;
    size_t n;
    if (en_matching_instance_types(types, n_types, ic->region ? ic->region : "",
                                   ic->cons ? ic->cons : &none, &matches, &n, err) != 0)
        return -1;
    int rc = s_choose(images, n_images, ic, matches, n, spec, err);
    free(matches);
    return rc;
}

int
en_itype_catalogue_find_spec(const en_itype_catalogue_t *self, const en_image_t *images,
                             size_t n_images, const en_instance_constraint_t *ic,
                             en_instance_spec_t *spec, en_err_t *err)
{
    memset(spec, 0, sizeof *spec);
    if (n_images == 0)
        return s_no_images(ic, err);
    en_constraints_t none;
    en_constraints_init(&none);
    en_itype_match_t *matches = malloc((self->count ? self->count : 1) * sizeof *matches);
    if (!matches)
        return en_err_set(err, EN_INTERNAL, "out of memory matching instance types");
    size_t n;
    int rc = en_itype_catalogue_match(self, ic->region ? ic->region : "",
                                      ic->cons ? ic->cons : &none, matches, self->count, &n, err);
    if (rc == 0)
        rc = s_choose(images, n_images, ic, matches, n, spec, err);
    free(matches);
    return rc;
}
