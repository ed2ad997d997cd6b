/*  progress.c — the progress lines of one long call (see cli.h).

    Services publish en.Progress messages under "progress.<request id>"
    into every gateway's event proxy (lib/bus/progress.h). A watcher is a
    SUB socket connected to the subscriber side of the proxy of every
    gateway the CLI knows, subscribed to one call's topic. The caller picks
    the request id before sending, and the watcher waits — bounded — for
    its connections to come up, so that its subscription is in place before
    the call can publish a first line. Lines remain best effort (one
    published before the subscription reached its publisher is lost); the
    reply is the authority.

    A publisher sends each line to every proxy, so a watcher of several
    gateways hears it once per gateway; and each publishing thread numbers
    its own lines, so two publishers of one call may both send a seq 1. A
    line is therefore known by (seq, status, message) and printed the first
    time only. */
#include "cli.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "bus/events.h"
#include "bus/progress.h"
#include "common/clock.h"
#include "types.pb-c.h"

//  How long a watcher waits for its connections before the call is sent.
#define CLI_PROGRESS_CONNECT_MS 1000

struct cli_progress {
    zsock_t *sub; // NULL: judge lines only
    char *request_id;
    zhash_t *seen; // "seq|status|message" of every line accepted
    char *line;    // the last line accepted
};

//  Connect sub to every endpoint of the list and wait until as many
//  connections are up, or the deadline passes; a socket monitor reports
//  each connection as it is made.
static void
s_connect(zsock_t *sub, const char *endpoints)
{
    char monitor[64];
    snprintf(monitor, sizeof monitor, "inproc://cli-progress-%p", (void *)sub);
    bool watching = zmq_socket_monitor(zsock_resolve(sub), monitor, ZMQ_EVENT_CONNECTED) == 0;
    zsock_t *events = watching ? zsock_new_pair(monitor) : NULL;
    char *list = strdup(endpoints), *save = NULL;
    int expected = 0;
    for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        expected += zsock_connect(sub, "%s", ep) == 0;
    free(list);
    int64_t until = en_mono_ms() + CLI_PROGRESS_CONNECT_MS;
    for (int up = 0; events && up < expected;) {
        int64_t left = until - en_mono_ms();
        zmq_pollitem_t item = {zsock_resolve(events), 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&item, 1, left) <= 0)
            break;
        zmsg_t *event = zmsg_recv(events); // [event id + value][endpoint]
        up += event != NULL;
        zmsg_destroy(&event);
    }
    if (watching)
        zmq_socket_monitor(zsock_resolve(sub), NULL, 0);
    zsock_destroy(&events);
}

cli_progress_t *
cli_progress_new(const char *gateways, const char *request_id, en_err_t *err)
{
    cli_progress_t *self = calloc(1, sizeof *self);
    self->request_id = strdup(request_id);
    self->seen = zhash_new();
    if (!gateways || !*gateways)
        return self;
    char *endpoints = en_event_endpoint_list(gateways, false);
    if (endpoints && *endpoints)
        self->sub = zsock_new(ZMQ_SUB);
    if (!self->sub) {
        en_err_set(err, EN_NOT_VALID, "cannot watch progress at %s", gateways);
        free(endpoints);
        cli_progress_destroy(&self);
        return NULL;
    }
    char topic[256];
    snprintf(topic, sizeof topic, EN_PROGRESS_TOPIC_PREFIX "%s", request_id);
    zsock_set_subscribe(self->sub, topic);
    zsock_set_linger(self->sub, 0);
    s_connect(self->sub, endpoints);
    free(endpoints);
    return self;
}

void
cli_progress_destroy(cli_progress_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_progress_t *self = *self_p;
    zsock_destroy(&self->sub);
    zhash_destroy(&self->seen);
    free(self->request_id);
    free(self->line);
    free(self);
    *self_p = NULL;
}

const char *
cli_progress_line(cli_progress_t *self, const void *body, size_t size)
{
    En__Progress *ev = en__progress__unpack(NULL, size, body);
    const char *line = NULL;
    if (!ev || strcmp(ev->request_id, self->request_id) != 0)
        goto cleanup;
    char *key = NULL;
    if (asprintf(&key, "%u|%s|%s", ev->seq, ev->status, ev->message) < 0)
        goto cleanup;
    if (!zhash_lookup(self->seen, key)) {
        zhash_insert(self->seen, key, self);
        free(self->line);
        self->line = strdup(*ev->message ? ev->message : ev->status);
        line = self->line;
    }
    free(key);
cleanup:
    if (ev)
        en__progress__free_unpacked(ev, NULL);
    return line;
}

size_t
cli_progress_print(cli_progress_t *self, FILE *out, int wait_ms)
{
    if (!self->sub)
        return 0;
    zmq_pollitem_t item = {zsock_resolve(self->sub), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, wait_ms) <= 0)
        return 0;
    size_t printed = 0;
    while (zsock_events(self->sub) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(self->sub); // [topic][packed en.Progress]
        zframe_t *body = msg && zmsg_size(msg) == 2 ? zmsg_last(msg) : NULL;
        const char *line =
            body ? cli_progress_line(self, zframe_data(body), zframe_size(body)) : NULL;
        if (line) {
            fprintf(out, "%s\n", line);
            printed++;
        }
        zmsg_destroy(&msg);
    }
    fflush(out);
    return printed;
}
