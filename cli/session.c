/*  session.c — what a command needs from the outside world: where the
    gateway is, one call to it, the current model, and printing (see cli.h).

    The client is made on the first call, not before, so help, version and
    usage errors work with no gateway at all.

    Telling "the gateway is down" from "the gateway is slow". A call that
    times out may mean either, and the async client (lib/bus/client.h)
    deliberately keeps a call pending while the gateway is unreachable. So
    only after a TIMEOUT the CLI asks each endpoint the broker's own
    liveness question, `mmi.x-epoch`, on a throw-away socket: no answer from
    any of them means `gateway <ep> not answering`; an answer means the
    timeout is the call's own and is reported unchanged. The healthy path
    pays nothing for this. */
#include "cli.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/mdp.h"
#include "common/paths.h"

//  --------------------------------------------------------------------------
//  Files under the environs home (common/paths.h says where it is)

//  The first line of <home>/<name>, trimmed; NULL when absent or blank.
static char *
s_home_line(const char *name)
{
    char home[4096], *path = NULL, *line = NULL;
    FILE *f = NULL;
    if (en_home(home, sizeof home) || asprintf(&path, "%s/%s", home, name) < 0)
        goto cleanup;
    f = fopen(path, "r");
    size_t size = 0;
    if (!f || getline(&line, &size, f) < 0) {
        free(line);
        line = NULL;
        goto cleanup;
    }
    char *start = line + strspn(line, " \t");
    size_t n = strcspn(start, "\r\n");
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        n--;
    memmove(line, start, n);
    line[n] = '\0';
    if (!*line) {
        free(line);
        line = NULL;
    }
cleanup:
    if (f)
        fclose(f);
    free(path);
    return line;
}

char *
cli_gateway_find(en_err_t *err)
{
    const char *env = getenv("ENVIRONS_GATEWAY");
    if (env && *env)
        return strdup(env);
    char *line = s_home_line("gateway.endpoint");
    if (!line)
        en_err_set(err, EN_NOT_FOUND,
                   "cannot find the gateway: set ENVIRONS_GATEWAY or start environs-local");
    return line;
}

char *
cli_current_model(void)
{
    return s_home_line("current-model");
}

int
cli_set_current_model(const char *name, en_err_t *err)
{
    char home[4096], *path = NULL, *tmp = NULL;
    FILE *f;
    int rc = -1;
    if (en_home(home, sizeof home)) {
        en_err_set(err, EN_NOT_FOUND, "cannot find the environs home: set ENVIRONS_HOME");
        goto cleanup;
    }
    if (asprintf(&path, "%s/current-model", home) < 0 ||
        asprintf(&tmp, "%s/.current-model.%d", home, (int)getpid()) < 0)
        goto cleanup;
    //  Through a temporary file and rename(), so a reader never sees half.
    if (en_mkdirs(home, 0700) || !(f = fopen(tmp, "w"))) {
        en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(errno));
        goto cleanup;
    }
    bool written = fprintf(f, "%s\n", name) >= 0;
    written = fclose(f) == 0 && written;
    if (!written || rename(tmp, path) != 0) {
        en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(tmp);
    free(path);
    return rc;
}

//  --------------------------------------------------------------------------
//  Calls

void
cli_close(cli_t *cli)
{
    en_client_destroy(&cli->client);
    free(cli->gateway);
    cli->gateway = NULL;
}

//  Does any endpoint answer the broker's liveness ping within timeout_ms?
static bool
s_gateway_answers(const char *endpoints, int timeout_ms)
{
    char *list = strdup(endpoints), *save = NULL;
    bool alive = false;
    for (char *ep = strtok_r(list, ",", &save); ep && !alive; ep = strtok_r(NULL, ",", &save)) {
        zsock_t *s = zsock_new(ZMQ_DEALER);
        if (!s)
            break;
        zsock_set_linger(s, 0);
        zsock_set_immediate(s, 1); // a send waits for a connection, not a queue
        zsock_set_sndtimeo(s, timeout_ms);
        zsock_set_rcvtimeo(s, timeout_ms);
        if (zsock_connect(s, "%s", ep) == 0 &&
            zsock_send(s, "ssss", "", MDPC_CLIENT, "mmi.x-epoch", "") == 0) {
            zmsg_t *reply = zmsg_recv(s);
            alive = reply != NULL;
            zmsg_destroy(&reply);
        }
        zsock_destroy(&s);
    }
    free(list);
    return alive;
}

int
cli_call(cli_t *cli, const char *method, const char *model_uuid, const ProtobufCMessage *req,
         const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res, en_err_t *err)
{
    *res = NULL;
    if (!cli->gateway && !(cli->gateway = cli_gateway_find(err)))
        return -1;
    if (!cli->client && !(cli->client = en_client_new(cli->gateway, err)))
        return -1;
    if (en_client_call(cli->client, EN_PUBLIC_SERVICE, method, model_uuid, req, res_desc, res,
                       cli->timeout_ms, err) == 0)
        return 0;
    if (err->kind == EN_TIMEOUT &&
        !s_gateway_answers(cli->gateway, cli->timeout_ms < 1000 ? cli->timeout_ms : 1000))
        en_err_set(err, EN_UNAVAILABLE, "gateway %s not answering", cli->gateway);
    return -1;
}

int
cli_fail(const en_err_t *err)
{
    fprintf(stderr, "ERROR %s\n", err->message);
    return CLI_EXIT_FAILURE;
}

int
cli_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ERROR ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int
cli_print(cli_t *cli, json_t *view, cli_table_t *table, const char *empty_note)
{
    char *text = NULL;
    if (cli->format == CLI_FORMAT_JSON)
        text = cli_json_render(view);
    else if (cli->format == CLI_FORMAT_YAML)
        text = cli_yaml_render(view);
    else if (table && cli_table_rows(table) == 0 && empty_note)
        fprintf(stderr, "%s\n", empty_note);
    else if (table)
        text = cli_table_render(table);
    int rc = CLI_EXIT_OK;
    if (text)
        fputs(text, stdout);
    else if (cli->format != CLI_FORMAT_TABULAR) {
        fprintf(stderr, "ERROR cannot format the output as %s\n", cli_format_name(cli->format));
        rc = CLI_EXIT_FAILURE;
    }
    free(text);
    json_decref(view);
    cli_table_destroy(&table);
    return rc;
}

//  --------------------------------------------------------------------------
//  Models

En__ModelResult *
cli_model_find(cli_t *cli, const cli_args_t *args, en_err_t *err)
{
    const char *given = cli_args_value(args, CLI_OPT_MODEL);
    char *name = given ? strdup(given) : cli_current_model();
    if (!name) {
        en_err_set(err, EN_NOT_FOUND, "no model selected: use -m MODEL, or add-model to add one");
        return NULL;
    }
    En__ModelRequest req = EN__MODEL_REQUEST__INIT;
    char *slash = strchr(name, '/');
    req.key_case = EN__MODEL_REQUEST__KEY_NAME;
    req.name = slash ? slash + 1 : name;
    if (slash) {
        *slash = '\0';
        req.owner = name;
    }
    ProtobufCMessage *res = NULL;
    cli_call(cli, "Model", NULL, &req.base, &en__model_result__descriptor, &res, err);
    free(name);
    En__ModelResult *result = (En__ModelResult *)res;
    if (result && !result->model) {
        en__model_result__free_unpacked(result, NULL);
        en_err_set(err, EN_INTERNAL, "Model returned no model");
        return NULL;
    }
    return result;
}
