/*  harness_sim.c — the embedded sim cloud of a harness, opened as its
    operator would (see harness.h). Linked only into tests that link the
    providers. */
#include "harness.h"

#include <stdio.h>

#include "common/paths.h"
#include "providers/sim/sim_cloud.h"

en_sim_cloud_t *
harness_sim(harness_t *h, en_err_t *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sim", h->home);
    en_mkdirs(path, 0700); // the broker makes it on first use, maybe not yet
    snprintf(path, sizeof path, "%s/sim/sim.db", h->home);
    return en_sim_cloud_open(path, err);
}
