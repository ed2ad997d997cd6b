/*  environs-broker — instances, constraints and instance types. */
#include <stdio.h>

#include "broker.h"
#include "common/log.h"

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
    broker_t *broker = broker_new(opts.home, opts.gateways, &err);
    if (!broker) {
        en_error("broker: %s", err.message);
        return 1;
    }
    int rc = en_service_run(broker_service(broker), &opts);
    broker_destroy(&broker);
    return rc == 0 ? 0 : 1;
}
