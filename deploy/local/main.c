/*  main.c — environs-local: parse the command line, then either report
    (--help, --status) or supervise until signalled. */
#include "supervisor.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
    sup_options_t opts;
    char err[512];
    int rc = SUP_EXIT_OK;
    if (sup_options_parse(&opts, argc, argv, err, sizeof err)) {
        fprintf(stderr, "environs-local: %s\n%s", err, sup_usage());
        rc = SUP_EXIT_USAGE;
    } else if (opts.help)
        fputs(sup_usage(), stdout);
    else if (opts.status)
        rc = sup_status(opts.home);
    else {
        sup_t *sup = sup_new(&opts);
        rc = sup ? sup_run(sup) : SUP_EXIT_FAIL;
        sup_destroy(&sup);
    }
    sup_options_clear(&opts);
    return rc;
}
