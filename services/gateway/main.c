/*  environs-gateway — binds the public endpoint(s), routes every call. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "gateway.h"

int
main(int argc, char **argv)
{
    en_signals_block();
    gateway_opts_t opts = {.bind = "tcp://127.0.0.1:7450", .home = getenv("ENVIRONS_HOME"),
                           .composers = 8};
    static const struct option longopts[] = {{"bind", required_argument, NULL, 'b'},
                                             {"home", required_argument, NULL, 'h'},
                                             {"composers", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c == 'b')
            opts.bind = optarg;
        else if (c == 'h')
            opts.home = optarg;
        else if (c == 'c')
            opts.composers = atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [--bind EP[,EP]] [--home DIR] [--composers N]\n", argv[0]);
            return 2;
        }
    }
    en_err_t err;
    gateway_t *gw = gateway_new(&opts, &err);
    if (!gw) {
        en_error("gateway: %s", err.message);
        return 1;
    }
    en_service_opts_t sopts = {.gateways = gateway_inproc(gw), .threads = opts.composers};
    en_info("gateway listening on %s", opts.bind);
    int rc = en_service_run(gateway_composer(gw), &sopts);
    gateway_destroy(&gw);
    return rc == 0 ? 0 : 1;
}
