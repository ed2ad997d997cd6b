/*  args.c — argv to cli_args_t, and the check of a parse against a
    command's row (see cli.h).

    There is one table of options for the whole CLI: a name, an optional
    one-letter form, whether it takes a value, and its help line. Parsing
    knows nothing about commands, so options may come before or after the
    command name and between its words, as Juju's gnuflag allows
    (`environs --timeout 500 clouds` and `environs clouds --timeout 500`).
    Whether an option makes sense for a command is decided afterwards, by
    cli_args_check, from the command's option mask. `--` ends options;
    `--x=v`, `--x v`, `-m v` and `-mv` are all accepted. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    char letter; // 0 = long form only
    bool takes_value;
    const char *value_name;
    const char *help;
} option_t;

static const option_t s_options[CLI_OPT_COUNT] = {
    [CLI_OPT_HELP] = {"help", 'h', false, NULL, "show help on a command"},
    [CLI_OPT_TIMEOUT] = {"timeout", 0, true, "MS",
                         "how long to wait for the gateway, in ms (default 30000; \"30s\" works)"},
    [CLI_OPT_FORMAT] = {"format", 0, true, "F", "output format: tabular, yaml or json"},
    [CLI_OPT_MODEL] = {"model", 'm', true, "MODEL",
                       "the model, [CONTROLLER:][OWNER/]NAME (default: the current one)"},
    [CLI_OPT_FILE] = {"file", 'f', true, "FILE", "a file in credentials.yaml format"},
    [CLI_OPT_REPLACE] = {"replace", 0, false, NULL, "overwrite credentials that already exist"},
    [CLI_OPT_NAME] = {"name", 0, true, "NAME", "the credential's name"},
    [CLI_OPT_AUTH_TYPE] = {"auth-type", 0, true, "TYPE", "the credential's auth type"},
    [CLI_OPT_ATTR] = {"attr", 0, true, "K=V", "a credential attribute (repeatable)"},
    [CLI_OPT_CREDENTIAL] = {"credential", 0, true, "NAME", "the credential the model uses"},
    [CLI_OPT_CONFIG] = {"config", 0, true, "K=V", "a model config value (repeatable)"},
    [CLI_OPT_CLOUD] = {"cloud", 0, true, "CLOUD", "save detected credentials for this cloud only"},
    [CLI_OPT_CONSTRAINTS] = {"constraints", 0, true, "C",
                             "constraints, e.g. \"mem=4G cores=2\" (bootstrap: of the model)"},
    [CLI_OPT_BOOTSTRAP_CONSTRAINTS] = {"bootstrap-constraints", 0, true, "C",
                                       "constraints of the controller machine"},
    [CLI_OPT_KEEP_BROKEN] = {"keep-broken", 0, false, NULL,
                             "leave a failed bootstrap's resources for debugging"},
    [CLI_OPT_NUM_MACHINES] = {"num-machines", 'n', true, "N", "how many machines to add"},
    [CLI_OPT_TO] = {"to", 0, true, "PLACEMENT", "where to start the machine, e.g. zone=us-east-1a"},
    [CLI_OPT_DESTROY_ALL_MODELS] = {"destroy-all-models", 0, false, NULL,
                                    "destroy the models that have machines, too"},
    [CLI_OPT_CIDR] = {"cidr", 0, true, "CIDR",
                      "a source the ports are open to (repeatable; default 0.0.0.0/0)"},
    [CLI_OPT_SPACE] = {"space", 0, true, "SPACE", "only the subnets of this space (by name)"},
    [CLI_OPT_ZONE] = {"zone", 0, true, "ZONE", "only the subnets in this availability zone"},
    [CLI_OPT_DIR] = {"dir", 'd', true, "DIR", "the directory the metadata is written to"},
    [CLI_OPT_IMAGE_ID] = {"image-id", 'i', true, "ID", "the cloud's image id"},
    [CLI_OPT_BASE] = {"base", 0, true, "BASE", "the image's base, e.g. ubuntu@22.04"},
    [CLI_OPT_SERIES] = {"series", 's', true, "SERIES", "the image's series, e.g. jammy"},
    [CLI_OPT_RELEASE] = {"release", 0, true, "R", "the Ubuntu release, e.g. 22.04"},
    [CLI_OPT_ARCH] = {"arch", 'a', true, "ARCH", "the architecture, e.g. amd64"},
    [CLI_OPT_REGION] = {"region", 'r', true, "REGION", "the cloud region"},
    [CLI_OPT_ENDPOINT] = {"endpoint", 'u', true, "URL", "the cloud's endpoint"},
    [CLI_OPT_STREAM] = {"stream", 0, true, "S", "the image stream (default released)"},
    [CLI_OPT_VIRT_TYPE] = {"virt-type", 0, true, "V", "the image's virtualisation type, e.g. hvm"},
    [CLI_OPT_STORAGE] = {"storage", 0, true, "S", "the image's root storage type, e.g. ssd"},
    [CLI_OPT_SIGN_KEY] = {"sign-key", 0, true, "FILE",
                          "an armored secret key: also write clear-signed .sjson files"},
    [CLI_OPT_PASSPHRASE] = {"passphrase", 0, true, "P", "the passphrase of --sign-key"},
    [CLI_OPT_PRIORITY] = {"priority", 0, true, "N", "the source's priority (default 50)"},
    [CLI_OPT_REQUIRE_SIGNED] = {"require-signed", 0, false, NULL,
                                "accept only signed (.sjson) metadata from the source"},
    [CLI_OPT_KEYRING] = {"keyring", 0, true, "FILE",
                         "armored public key(s) the source's signatures are checked with"},
    [CLI_OPT_USER] = {"user", 0, false, NULL, "a user source: tried before the cloud's own"},
    [CLI_OPT_VERBOSE] = {"verbose", 0, false, NULL,
                         "show which source matched and why others were skipped"},
    [CLI_OPT_DESCRIPTION] = {"description", 0, true, "D",
                             "what the source is called in lookups (default its id)"},
};

static int
s_find_long(const char *name, size_t len)
{
    for (int i = 0; i < CLI_OPT_COUNT; i++)
        if (strlen(s_options[i].name) == len && strncmp(s_options[i].name, name, len) == 0)
            return i;
    return -1;
}

static int
s_find_letter(char letter)
{
    for (int i = 0; i < CLI_OPT_COUNT; i++)
        if (s_options[i].letter && s_options[i].letter == letter)
            return i;
    return -1;
}

static void
s_add_value(cli_args_t *args, int opt, const char *value, size_t max)
{
    if (!args->values[opt])
        args->values[opt] = calloc(max, sizeof(char *));
    args->values[opt][args->value_count[opt]++] = value;
    args->given |= CLI_OPT(opt);
}

//  One option word at argv[*i]; consumes its value from the next word when
//  it is not attached.
static int
s_option(int argc, char **argv, int *i, cli_args_t *args, en_err_t *err)
{
    const char *word = argv[*i];
    const char *attached = NULL;
    int opt;
    if (word[1] == '-') {
        const char *name = word + 2;
        const char *eq = strchr(name, '=');
        opt = s_find_long(name, eq ? (size_t)(eq - name) : strlen(name));
        attached = eq ? eq + 1 : NULL;
    } else {
        opt = s_find_letter(word[1]);
        attached = word[2] ? word + 2 : NULL;
    }
    if (opt < 0)
        return en_err_set(err, EN_NOT_VALID, "option provided but not defined: %s", word);
    if (!s_options[opt].takes_value) {
        if (attached)
            return en_err_set(err, EN_NOT_VALID, "option does not take a value: %s", word);
        s_add_value(args, opt, "true", (size_t)argc);
        return 0;
    }
    if (!attached) {
        if (*i + 1 >= argc)
            return en_err_set(err, EN_NOT_VALID, "option needs an argument: %s", word);
        attached = argv[++*i];
    }
    s_add_value(args, opt, attached, (size_t)argc);
    return 0;
}

int
cli_args_parse(int argc, char **argv, cli_args_t *args, en_err_t *err)
{
    memset(args, 0, sizeof *args);
    args->words = calloc(argc > 0 ? (size_t)argc : 1, sizeof(char *));
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *word = argv[i];
        if (!options_done && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && word[0] == '-' && word[1]) {
            if (s_option(argc, argv, &i, args, err)) {
                cli_args_clear(args);
                return -1;
            }
            continue;
        }
        if (!args->command)
            args->command = word;
        else
            args->words[args->word_count++] = word;
    }
    return 0;
}

void
cli_args_clear(cli_args_t *args)
{
    free(args->words);
    for (int i = 0; i < CLI_OPT_COUNT; i++)
        free(args->values[i]);
    memset(args, 0, sizeof *args);
}

const char *
cli_args_value(const cli_args_t *args, cli_opt_t opt)
{
    return args->value_count[opt] ? args->values[opt][args->value_count[opt] - 1] : NULL;
}

bool
cli_args_has(const cli_args_t *args, cli_opt_t opt)
{
    return (args->given & CLI_OPT(opt)) != 0;
}

int
cli_timeout_parse(const char *text)
{
    errno = 0;
    char *end;
    long n = strtol(text, &end, 10);
    if (errno || end == text || n <= 0)
        return -1;
    if (strcmp(end, "s") == 0 && n <= 86400)
        return (int)n * 1000;
    if ((strcmp(end, "") == 0 || strcmp(end, "ms") == 0) && n <= 86400000)
        return (int)n;
    return -1;
}

void
cli_options_help(FILE *out, uint64_t mask)
{
    for (int i = 0; i < CLI_OPT_COUNT; i++) {
        if (!(mask & CLI_OPT(i)))
            continue;
        const option_t *o = &s_options[i];
        char form[64];
        const char *value = o->takes_value ? o->value_name : "";
        if (o->letter)
            snprintf(form, sizeof form, "-%c, --%s %s", o->letter, o->name, value);
        else
            snprintf(form, sizeof form, "--%s %s", o->name, value);
        if (strlen(form) > 22) // too wide for the column: help on the next line
            fprintf(out, "    %s\n    %-22s %s\n", form, "", o->help);
        else
            fprintf(out, "    %-22s %s\n", form, o->help);
    }
}

int
cli_timeout_or(const cli_t *cli, const cli_args_t *args, int default_ms)
{
    return cli_args_has(args, CLI_OPT_TIMEOUT) ? cli->timeout_ms : default_ms;
}

int
cli_constraints_arg(const cli_args_t *args, cli_opt_t opt, en_constraints_t *out, en_err_t *err)
{
    size_t n = args->value_count[opt];
    if (!n) {
        en_constraints_reset(out);
        return 0;
    }
    if (en_constraints_parse_args(out, args->values[opt], n, NULL, err) == 0)
        return 0;
    char *given = cli_join((char *const *)args->values[opt], n, " ");
    en_err_t why = *err;
    en_err_set(err, EN_NOT_VALID, "invalid value \"%s\" for option --%s: %s", given,
               s_options[opt].name, why.message);
    free(given);
    return -1;
}

int
cli_args_check(const cli_args_t *args, const cli_command_t *command, cli_t *cli, en_err_t *err)
{
    uint64_t extra = args->given & ~(command->options | CLI_OPTS_COMMON);
    for (int i = 0; i < CLI_OPT_COUNT; i++)
        if (extra & CLI_OPT(i))
            return en_err_set(err, EN_NOT_VALID, "option provided but not defined: --%s",
                              s_options[i].name);
    if ((int)args->word_count < command->min_words)
        return en_err_set(err, EN_NOT_VALID, "missing argument: %s", command->required);
    if (command->max_words >= 0 && (int)args->word_count > command->max_words) {
        char list[512] = "";
        size_t n = 0;
        for (size_t i = (size_t)command->max_words; i < args->word_count && n < sizeof list; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"",
                                  i > (size_t)command->max_words ? " " : "", args->words[i]);
        return en_err_set(err, EN_NOT_VALID, "unrecognized args: [%s]", list);
    }
    cli->format = command->default_format;
    const char *format = cli_args_value(args, CLI_OPT_FORMAT);
    if (format && (cli_format_parse(format, &cli->format) ||
                   (command->no_tabular && cli->format == CLI_FORMAT_TABULAR)))
        return en_err_set(err, EN_NOT_VALID,
                          "invalid value \"%s\" for option --format: unknown format \"%s\"", format,
                          format);
    cli->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    const char *timeout = cli_args_value(args, CLI_OPT_TIMEOUT);
    if (timeout && (cli->timeout_ms = cli_timeout_parse(timeout)) < 0)
        return en_err_set(err, EN_NOT_VALID, "invalid value \"%s\" for option --timeout", timeout);
    return 0;
}
