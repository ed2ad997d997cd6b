/*  main.c — the `environs` command. Everything but process-wide set-up is
    in cli.c and the commands_*.c tables, where the tests can reach it. */
#include <czmq.h>

#include "cli.h"

int
main(int argc, char **argv)
{
    //  Before the first socket: leave SIGINT/SIGTERM to the default action so
    //  Ctrl-C ends the command at once, and let a request that is queued when
    //  the client closes still go out (czmq's default linger drops it).
    zsys_handler_set(NULL);
    zsys_set_linger(1000);
    return cli_main(argc, argv);
}
