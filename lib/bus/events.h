/*  events.h — model-change events.

    The registry publishes ModelChanged (topic "model.<uuid>") into every
    gateway's event proxy; services subscribe at the proxy's other side.
    A gateway at tcp://h:p has its proxy at tcp://h:(p+1) (publishers) and
    tcp://h:(p+2) (subscribers); other transports append ".events-in" /
    ".events-out" to the endpoint. */
#ifndef EN_EVENTS_H
#define EN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

//  in/out receive the two endpoints of one gateway; -1 when it has none.
int en_event_endpoints(const char *gateway, char *in, size_t in_size, char *out,
                       size_t out_size);
//  Comma-separated list of one side ("in" or "out") for a gateway list;
//  caller frees.
char *en_event_endpoint_list(const char *gateways, bool publishers);

#endif
