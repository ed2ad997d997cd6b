/*  environs-firewaller — port ranges, ingress rules and security groups. */
#include "firewaller.h"

static const en_service_def_t *
s_make(const char *home, const char *gateways, en_err_t *err)
{
    firewaller_t *self = firewaller_new(home, gateways, err);
    return self ? firewaller_service(self) : NULL;
}

static void
s_destroy(const en_service_def_t *def)
{
    firewaller_t *self = def->service;
    firewaller_destroy(&self);
}

int
main(int argc, char **argv)
{
    return en_service_main(argc, argv, "firewaller", s_make, s_destroy);
}
