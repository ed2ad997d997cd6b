/*  cli.c — dispatch: the list of command tables, `help`, `version` and
    cli_main (see cli.h).

    Dispatch is data. Each topic file exports its table of commands; this
    file only lists the tables, finds the row for argv's command, checks the
    words against the row and calls its handler. Help is generated from the
    same rows and the option table, so a new command is one row in one
    table and shows up in `environs help` by itself. A row may name a
    command of two words (`metadata generate-image`, as Juju's
    supercommands): argv's command and its first word are tried together
    before the command alone. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static int s_help(cli_t *cli, const cli_args_t *args);
static int s_version(cli_t *cli, const cli_args_t *args);

static const cli_command_t s_core_commands[] = {
    {.name = "help",
     .handler = s_help,
     .usage = "[COMMAND]",
     .summary = "Shows help on a command, or lists the commands.",
     .max_words = 2},
    {.name = "version",
     .handler = s_version,
     .summary = "Prints the version of environs.",
     .max_words = 0},
    {.name = NULL},
};

static const cli_command_t *const s_tables[] = {
    cli_cloud_commands,
    cli_credential_commands,
    cli_model_commands,
    cli_controller_commands,
    cli_machine_commands,
    cli_port_commands,
    cli_network_commands,
    cli_metadata_commands,
    cli_image_commands,
    s_core_commands,
    NULL,
};

const cli_command_t *
cli_command_find(const char *name)
{
    for (size_t t = 0; s_tables[t]; t++)
        for (const cli_command_t *c = s_tables[t]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

const cli_command_t *
cli_command_find2(const char *name, const char *next)
{
    char both[128];
    if (next && (size_t)snprintf(both, sizeof both, "%s %s", name, next) < sizeof both) {
        const cli_command_t *c = cli_command_find(both);
        if (c)
            return c;
    }
    return cli_command_find(name);
}

static int
s_compare_commands(const void *a, const void *b)
{
    return strcmp((*(const cli_command_t *const *)a)->name,
                  (*(const cli_command_t *const *)b)->name);
}

static void
s_help_all(FILE *out)
{
    fprintf(out, "Usage: environs [options] COMMAND [args...]\n\n"
                 "environs manages clouds, credentials, controllers, models, machines,\n"
                 "their open ports, their networks (spaces, subnets, NICs) and image\n"
                 "metadata through an environs gateway: $ENVIRONS_GATEWAY, else the\n"
                 "endpoint environs-local wrote to $ENVIRONS_HOME/gateway.endpoint.\n"
                 "\nCommands:\n");
    const cli_command_t *rows[128];
    size_t n = 0;
    for (size_t t = 0; s_tables[t]; t++)
        for (const cli_command_t *c = s_tables[t]; c->name && n < 128; c++)
            rows[n++] = c;
    qsort(rows, n, sizeof rows[0], s_compare_commands);
    int width = 22; // the widest name sets the column
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(rows[i]->name) > width)
            width = (int)strlen(rows[i]->name);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "    %-*s %s\n", width, rows[i]->name, rows[i]->summary);
    fprintf(out, "\nOptions every command takes:\n");
    cli_options_help(out, CLI_OPTS_COMMON);
    fprintf(out, "\nSee 'environs help COMMAND' for the options of a command.\n");
}

static void
s_help_command(FILE *out, const cli_command_t *c)
{
    fprintf(out, "Usage: environs %s [options]%s%s\n\n%s\n", c->name, c->usage ? " " : "",
            c->usage ? c->usage : "", c->summary);
    if (c->details)
        fprintf(out, "\n%s\n", c->details);
    fprintf(out, "\nOptions:\n");
    cli_options_help(out, c->options | CLI_OPTS_COMMON);
    if (c->options & CLI_OPT(CLI_OPT_FORMAT))
        fprintf(out, "\nThe default format is %s.\n", cli_format_name(c->default_format));
}

static int
s_help(cli_t *cli, const cli_args_t *args)
{
    (void)cli;
    if (!args->word_count) {
        s_help_all(stdout);
        return CLI_EXIT_OK;
    }
    const cli_command_t *c = cli_command_find2(args->words[0],
                                               args->word_count > 1 ? args->words[1] : NULL);
    if (!c || (args->word_count > 1 && !strchr(c->name, ' ')))
        return cli_usage("unknown command or topic for %s", args->words[0]);
    s_help_command(stdout, c);
    return CLI_EXIT_OK;
}

static int
s_version(cli_t *cli, const cli_args_t *args)
{
    (void)cli;
    (void)args;
    printf("%s\n", EN_VERSION);
    return CLI_EXIT_OK;
}

int
cli_main(int argc, char **argv)
{
    //  Client warnings (failover, resends) are noise on a terminal; the
    //  error that matters is printed once, as ERROR.
    if (!getenv("ENVIRONS_DEBUG"))
        en_log_set_level(EN_LOG_ERROR);
    cli_args_t args;
    cli_t cli = {0};
    en_err_t err;
    if (cli_args_parse(argc, argv, &args, &err))
        return cli_usage("%s", err.message);
    int rc;
    if (!args.command) {
        s_help_all(stdout);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    const cli_command_t *command =
        cli_command_find2(args.command, args.word_count ? args.words[0] : NULL);
    if (command && strchr(command->name, ' ')) { // two words: shift the second off
        args.command = command->name;
        memmove(args.words, args.words + 1, (args.word_count - 1) * sizeof *args.words);
        args.word_count--;
    }
    if (!command) {
        rc = cli_usage("unrecognized command: environs %s", args.command);
        goto cleanup;
    }
    if (cli_args_has(&args, CLI_OPT_HELP)) {
        s_help_command(stdout, command);
        rc = CLI_EXIT_OK;
        goto cleanup;
    }
    if (cli_args_check(&args, command, &cli, &err)) {
        rc = cli_usage("%s", err.message);
        goto cleanup;
    }
    rc = command->handler(&cli, &args);
cleanup:
    cli_close(&cli);
    cli_args_clear(&args);
    return rc;
}
