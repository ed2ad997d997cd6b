/*  environs-registry — providers, clouds, credentials and models. */
#include "registry.h"

static const en_service_def_t *
s_make(const char *home, const char *gateways, en_err_t *err)
{
    registry_t *self = registry_new(home, gateways, err);
    return self ? registry_service(self) : NULL;
}

static void
s_destroy(const en_service_def_t *def)
{
    registry_t *self = def->service;
    registry_destroy(&self);
}

int
main(int argc, char **argv)
{
    return en_service_main(argc, argv, "registry", s_make, s_destroy);
}
