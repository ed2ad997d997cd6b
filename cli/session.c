/*  session.c — what a command needs from the outside world: where the
    gateway is, one call to it, the current controller and model, and
    printing (see cli.h).

    The client is made on the first call, not before, so help, version and
    usage errors work with no gateway at all.

    Telling "the gateway is down" from "the gateway is slow". A call that
    times out may mean either, and the async client (lib/bus/client.h)
    deliberately keeps a call pending while the gateway is unreachable. So
    only after a TIMEOUT the CLI asks each endpoint the broker's own
    liveness question, `mmi.x-epoch`, on a throw-away socket: no answer from
    any of them means `gateway <ep> not answering`; an answer means the
    timeout is the call's own and is reported unchanged. The healthy path
    pays nothing for this.

    Every call goes through cli_call_long, which picks the request id
    itself before sending, so that a long call's progress lines can be
    watched from their first one (progress.c). A resend after a gateway
    restart reuses that id, and the services answer a request id once. */
#include "cli.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/envelope.h"
#include "bus/mdp.h"
#include "common/clock.h"
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

char *
cli_current_controller(void)
{
    return s_home_line("current-controller");
}

//  Write `value` as the one line of <home>/<name>, or remove the file when
//  value is NULL.
static int
s_home_write(const char *name, const char *value, en_err_t *err)
{
    char home[4096], *path = NULL, *tmp = NULL;
    FILE *f;
    int rc = -1;
    if (en_home(home, sizeof home)) {
        en_err_set(err, EN_NOT_FOUND, "cannot find the environs home: set ENVIRONS_HOME");
        goto cleanup;
    }
    if (asprintf(&path, "%s/%s", home, name) < 0 ||
        asprintf(&tmp, "%s/.%s.%d", home, name, (int)getpid()) < 0)
        goto cleanup;
    if (!value) {
        if (unlink(path) != 0 && errno != ENOENT) {
            en_err_set(err, EN_INTERNAL, "cannot remove %s: %s", path, strerror(errno));
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    //  Through a temporary file and rename(), so a reader never sees half.
    if (en_mkdirs(home, 0700) || !(f = fopen(tmp, "w"))) {
        en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(errno));
        goto cleanup;
    }
    bool written = fprintf(f, "%s\n", value) >= 0;
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

int
cli_set_current_model(const char *name, en_err_t *err)
{
    return s_home_write("current-model", name, err);
}

int
cli_set_current_controller(const char *name, en_err_t *err)
{
    return s_home_write("current-controller", name, err);
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

en_client_t *
cli_client(cli_t *cli, en_err_t *err)
{
    if (!cli->gateway && !(cli->gateway = cli_gateway_find(err)))
        return NULL;
    if (!cli->client)
        cli->client = en_client_new(cli->gateway, err);
    return cli->client;
}

int
cli_call(cli_t *cli, const char *method, const char *model_uuid, const ProtobufCMessage *req,
         const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res, en_err_t *err)
{
    return cli_call_long(cli, method, model_uuid, req, res_desc, res, cli->timeout_ms, false, err);
}

//  Wait for the reply to call `id`, printing its progress lines meanwhile
//  when there is a watcher. The client ends the call itself (TIMEOUT)
//  shortly after its deadline, so the loop always ends.
static int
s_wait(cli_t *cli, const char *id, const char *method, cli_progress_t *watcher,
       const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res, en_err_t *err)
{
    en_result_t r;
    while (true) {
        int got = en_client_wait(cli->client, watcher ? 50 : 1000, &r);
        if (watcher)
            cli_progress_print(watcher, stderr, 0);
        if (got != 0) {
            if (en_client_pending(cli->client) == 0)
                return en_err_set(err, EN_TIMEOUT, "%s: no reply", method);
            continue;
        }
        if (strcmp(r.request_id, id) == 0)
            break;
        en_result_clear(&r); // a late answer to a call given up on
    }
    int rc = -1;
    if (r.err.kind != EN_OK)
        *err = r.err;
    else if (!(*res = protobuf_c_message_unpack(res_desc, NULL, r.size, r.body)))
        en_err_set(err, EN_INTERNAL, "%s: result is not a valid %s", method, res_desc->name);
    else
        rc = 0;
    en_result_clear(&r);
    return rc;
}

int
cli_call_long(cli_t *cli, const char *method, const char *model_uuid, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *res_desc, ProtobufCMessage **res, int timeout_ms,
              bool progress, en_err_t *err)
{
    *res = NULL;
    if (!cli_client(cli, err))
        return -1;
    //  The id is chosen before the call so that the watcher subscribes to
    //  its lines before the first one can be published. Watching is best
    //  effort, like the lines themselves: the reply is the authority.
    char id[33];
    en_request_id_new(id);
    en_err_t ignored;
    cli_progress_t *watcher = progress ? cli_progress_new(cli->gateway, id, &ignored) : NULL;
    int rc = en_client_start(cli->client, EN_PUBLIC_SERVICE, method, model_uuid, req,
                             en_now_ms() + timeout_ms, id, NULL, NULL, err);
    if (rc == 0)
        rc = s_wait(cli, id, method, watcher, res_desc, res, err);
    //  Lines published just before the reply may still be on their way.
    while (watcher && cli_progress_print(watcher, stderr, 100) > 0)
        ;
    cli_progress_destroy(&watcher);
    if (rc && err->kind == EN_TIMEOUT &&
        !s_gateway_answers(cli->gateway, timeout_ms < 1000 ? timeout_ms : 1000))
        en_err_set(err, EN_UNAVAILABLE, "gateway %s not answering", cli->gateway);
    return rc;
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

static En__ModelResult *
s_model_lookup(cli_t *cli, const En__ModelRequest *req, en_err_t *err)
{
    ProtobufCMessage *res = NULL;
    if (cli_call(cli, "Model", NULL, &req->base, &en__model_result__descriptor, &res, err))
        return NULL;
    En__ModelResult *result = (En__ModelResult *)res;
    if (!result->model) {
        en__model_result__free_unpacked(result, NULL);
        en_err_set(err, EN_INTERNAL, "Model returned no model");
        return NULL;
    }
    return result;
}

En__ControllerResult *
cli_controller_find(cli_t *cli, const char *name, en_err_t *err)
{
    En__ControllerRequest req = EN__CONTROLLER_REQUEST__INIT;
    req.name = (char *)name;
    ProtobufCMessage *res;
    if (cli_call(cli, "Controller", NULL, &req.base, &en__controller_result__descriptor, &res, err))
        return NULL;
    En__ControllerResult *result = (En__ControllerResult *)res;
    if (!result->controller) {
        en__controller_result__free_unpacked(result, NULL);
        en_err_set(err, EN_INTERNAL, "Controller returned no controller");
        return NULL;
    }
    return result;
}

//  A controller's uuid by name. Caller frees.
static char *
s_controller_uuid(cli_t *cli, const char *name, en_err_t *err)
{
    En__ControllerResult *result = cli_controller_find(cli, name, err);
    char *uuid = result ? strdup(result->controller->uuid) : NULL;
    if (result)
        en__controller_result__free_unpacked(result, NULL);
    return uuid;
}

En__ModelResult *
cli_model_find(cli_t *cli, const cli_args_t *args, en_err_t *err)
{
    const char *given = cli_args_value(args, CLI_OPT_MODEL);
    char *name = given ? strdup(given) : cli_current_model();
    if (!name) {
        en_err_set(err, EN_NOT_FOUND, "no model selected: use -m MODEL, or add-model to add one");
        return NULL;
    }
    //  [CONTROLLER:][OWNER/]NAME, as Juju's -m takes it
    En__ModelRequest req = EN__MODEL_REQUEST__INIT;
    req.key_case = EN__MODEL_REQUEST__KEY_NAME;
    char *controller = NULL, *model = name, *uuid = NULL;
    char *colon = strchr(name, ':');
    if (colon) {
        *colon = '\0';
        controller = name;
        model = colon + 1;
    }
    char *slash = strchr(model, '/');
    req.name = slash ? slash + 1 : model;
    if (slash) {
        *slash = '\0';
        req.owner = model;
    }
    En__ModelResult *result = NULL;
    if (controller) {
        if ((uuid = s_controller_uuid(cli, controller, err))) {
            req.controller_uuid = uuid;
            result = s_model_lookup(cli, &req, err);
        }
    } else if (!(result = s_model_lookup(cli, &req, err)) && err->kind == EN_NOT_VALID) {
        //  The name is taken on several controllers: the current one decides.
        char *current = cli_current_controller();
        en_err_t ignored;
        if (current && (uuid = s_controller_uuid(cli, current, &ignored))) {
            req.controller_uuid = uuid;
            result = s_model_lookup(cli, &req, err);
        }
        free(current);
    }
    free(uuid);
    free(name);
    return result;
}
