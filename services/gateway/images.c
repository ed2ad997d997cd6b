/*  images.c — the image step of StartInstance and StartInstances: the
    imagemeta service finds the images (FindImageMetadata over the model's
    data sources) and the broker gets them in StartInstanceParams
    .image_metadata, where it picks the instance type and image together
    (FindInstanceSpec, §3.3).

    One lookup per distinct (release, arches) of the call: the release is
    the item's series (or the model's default-series, "jammy" when unset)
    as a version ("jammy" → "22.04"), the arches its arch constraint, or
    every arch Juju supports when it has none (the broker then chooses
    among the arches the catalogue has). A batch of a thousand machines of
    one series is one lookup. An item that already carries image metadata
    keeps it.

    No image anywhere is the lookup's NOT_FOUND, naming release, arch and
    region; a series that is not an Ubuntu one is NOT_VALID. A build
    without the imagemeta service answers NOT_IMPLEMENTED from the step,
    and the items go to the broker as they are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/series.h"
#include "environ.pb-c.h"
#include "gateway.h"
#include "registry.pb-c.h"

//  Juju's supported arches (the lookup's default when no arch is asked).
static const char *const s_all_arches[] = {"amd64", "arm64", "ppc64el", "s390x"};

//  The model's default-series, "jammy" when unset.
static const char *
s_default_series(en_call_t *call, const char *model_uuid)
{
    gateway_composer_state_t *state = call->state;
    en_err_t ignored;
    const En__GetModelForServiceResult *m =
        en_modelcache_get(state->models, model_uuid, &ignored);
    const char *out = "jammy";
    if (m && m->model && m->model->config && m->model->config->json) {
        json_t *cfg = json_loads(m->model->config->json, 0, NULL);
        const json_t *v = json_object_get(cfg, "default-series");
        if (json_is_string(v) && *json_string_value(v))
            out = en_arena_strdup(call->arena, json_string_value(v));
        json_decref(cfg);
    }
    return out;
}

typedef struct {
    const char *release; // "22.04"
    const char *arch;    // NULL: all
    En__FindImageMetadataResult *found;
    en_err_t err;
} s_lookup_t;

static int
s_find(en_call_t *call, const char *model_uuid, s_lookup_t *l, en_err_t *err)
{
    En__ImageConstraint c = EN__IMAGE_CONSTRAINT__INIT;
    c.releases = (char **)&l->release;
    c.n_releases = 1;
    c.arches = l->arch ? (char **)&l->arch : (char **)s_all_arches;
    c.n_arches = l->arch ? 1 : sizeof s_all_arches / sizeof s_all_arches[0];
    En__FindImageMetadataRequest q = EN__FIND_IMAGE_METADATA_REQUEST__INIT;
    q.constraint = &c;
    l->found = en_arena_alloc(call->arena, sizeof *l->found);
    en__find_image_metadata_result__init(l->found);
    return gateway_call(call, "imagemeta", "FindImageMetadata", model_uuid, NULL, &q.base,
                        &l->found->base, err);
}

int
gateway_images(en_call_t *call, const char *model_uuid, En__StartInstanceParams *const *params,
               size_t n, En__StartInstanceParams **out, en_err_t *errs, en_err_t *err)
{
    s_lookup_t *lookups = en_arena_array(call->arena, n ? n : 1, sizeof(s_lookup_t));
    size_t nl = 0;
    const char *default_series = NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = (En__StartInstanceParams *)params[i];
        errs[i] = (en_err_t){.kind = EN_OK};
    }
    for (size_t i = 0; i < n; i++) {
        const En__StartInstanceParams *p = params[i];
        if (!p || p->n_image_metadata > 0 || gateway_start_refused(p))
            continue;
        const char *series = p->series && *p->series ? p->series : NULL;
        if (!series)
            series = default_series ? default_series
                                    : (default_series = s_default_series(call, model_uuid));
        const char *release = en_series_version(series);
        if (!release) {
            en_err_set(&errs[i], EN_NOT_VALID, "cannot find images: unknown series \"%s\"",
                       series);
            errs[i].retryable = false;
            continue;
        }
        const char *arch = p->constraints && p->constraints->_arch_case &&
                                   p->constraints->arch && *p->constraints->arch
                               ? p->constraints->arch
                               : NULL;
        s_lookup_t *l = NULL;
        for (size_t k = 0; k < nl && !l; k++)
            if (strcmp(lookups[k].release, release) == 0 &&
                ((!arch && !lookups[k].arch) ||
                 (arch && lookups[k].arch && strcmp(arch, lookups[k].arch) == 0)))
                l = &lookups[k];
        if (!l) {
            l = &lookups[nl++];
            *l = (s_lookup_t){.release = release, .arch = arch};
            if (s_find(call, model_uuid, l, &l->err) < 0) {
                if (l->err.kind == EN_NOT_IMPLEMENTED) {
                    // this build has no imagemeta: the broker picks alone
                    for (size_t k = 0; k < n; k++) {
                        out[k] = (En__StartInstanceParams *)params[k];
                        errs[k] = (en_err_t){.kind = EN_OK};
                    }
                    return 0;
                }
                l->found = NULL;
            }
        }
        if (!l->found) {
            errs[i] = l->err;
            continue;
        }
        En__StartInstanceParams *copy = en_arena_alloc(call->arena, sizeof *copy);
        *copy = *p;
        copy->image_metadata = l->found->images;
        copy->n_image_metadata = l->found->n_images;
        if (!copy->series || !*copy->series)
            copy->series = (char *)series;
        out[i] = copy;
    }
    (void)err;
    return 0;
}
