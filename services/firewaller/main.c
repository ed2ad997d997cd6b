/*  environs-firewaller — port ranges, ingress rules and security groups. */
#include <stdio.h>

#include "common/log.h"
#include "firewaller.h"

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
    firewaller_t *fw = firewaller_new(opts.home, opts.gateways, &err);
    if (!fw) {
        en_error("firewaller: %s", err.message);
        return 1;
    }
    int rc = en_service_run(firewaller_service(fw), &opts);
    firewaller_destroy(&fw);
    return rc == 0 ? 0 : 1;
}
