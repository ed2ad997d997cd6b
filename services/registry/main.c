/*  environs-registry — providers, clouds, credentials and models. */
#include <stdio.h>

#include "common/log.h"
#include "registry.h"

int
main(int argc, char **argv)
{
    en_signals_block();
    en_service_opts_t opts;
    en_err_t err;
    if (en_service_opts_parse(&opts, argc, argv, &err)) {
        fprintf(stderr, "ERROR %s\n", err.message);
        return 2;
    }
    registry_t *registry = registry_new(opts.home, opts.gateways, &err);
    if (!registry) {
        en_error("registry: %s", err.message);
        return 1;
    }
    int rc = en_service_run(registry_service(registry), &opts);
    registry_destroy(&registry);
    return rc == 0 ? 0 : 1;
}
