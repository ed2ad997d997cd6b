/*  environs-networking — subnets, spaces, NICs and container addresses. */
#include "networking.h"

static const en_service_def_t *
s_make(const char *home, const char *gateways, en_err_t *err)
{
    networking_t *self = networking_new(home, gateways, err);
    return self ? networking_service(self) : NULL;
}

static void
s_destroy(const en_service_def_t *def)
{
    networking_t *self = def->service;
    networking_destroy(&self);
}

int
main(int argc, char **argv)
{
    return en_service_main(argc, argv, "networking", s_make, s_destroy);
}
