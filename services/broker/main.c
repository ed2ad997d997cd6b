/*  environs-broker — instances, constraints and instance types. */
#include "broker.h"

static const en_service_def_t *
s_make(const char *home, const char *gateways, en_err_t *err)
{
    broker_t *self = broker_new(home, gateways, err);
    return self ? broker_service(self) : NULL;
}

static void
s_destroy(const en_service_def_t *def)
{
    broker_t *self = def->service;
    broker_destroy(&self);
}

int
main(int argc, char **argv)
{
    return en_service_main(argc, argv, "broker", s_make, s_destroy);
}
