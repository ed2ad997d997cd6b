/*  events.c — see events.h. */
#include "bus/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
en_event_endpoints(const char *gateway, char *in, size_t in_size, char *out, size_t out_size)
{
    const char *colon = strrchr(gateway, ':');
    if (strncmp(gateway, "tcp://", 6) == 0 && colon && colon > gateway + 5) {
        int port = atoi(colon + 1);
        if (port <= 0 || port > 65533)
            return -1;
        int host_len = (int) (colon - gateway);
        snprintf(in, in_size, "%.*s:%d", host_len, gateway, port + 1);
        snprintf(out, out_size, "%.*s:%d", host_len, gateway, port + 2);
        return 0;
    }
    if (strncmp(gateway, "inproc://", 9) != 0 && strncmp(gateway, "ipc://", 6) != 0)
        return -1;
    snprintf(in, in_size, "%s.events-in", gateway);
    snprintf(out, out_size, "%s.events-out", gateway);
    return 0;
}

char *
en_event_endpoint_list(const char *gateways, bool publishers)
{
    size_t cap = strlen(gateways) * 2 + 64;
    char *list = calloc(1, cap);
    char *gws = strdup(gateways), *save = NULL;
    for (char *g = strtok_r(gws, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
        char in[512], out[512];
        if (en_event_endpoints(g, in, sizeof in, out, sizeof out) != 0)
            continue;
        size_t used = strlen(list);
        snprintf(list + used, cap - used, "%s%s", used ? "," : "", publishers ? in : out);
    }
    free(gws);
    return list;
}
