/*  environs-networking — subnets, spaces, NICs and container addresses. */
#include <stdio.h>

#include "common/log.h"
#include "networking.h"

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
    networking_t *nw = networking_new(opts.home, opts.gateways, &err);
    if (!nw) {
        en_error("networking: %s", err.message);
        return 1;
    }
    int rc = en_service_run(networking_service(nw), &opts);
    networking_destroy(&nw);
    return rc == 0 ? 0 : 1;
}
