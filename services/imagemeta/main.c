/*  environs-imagemeta — simplestreams image and agent metadata: sources,
    fetch, signature checks, lookup and cache. Options beyond the common
    ones come from the environment (imagemeta.h): ENVIRONS_IMAGEMETA_TTL_MS,
    ENVIRONS_IMAGEMETA_CACHE_MB, ENVIRONS_CLOUDIMAGE_KEYRING,
    ENVIRONS_JUJU_KEYRING, ENVIRONS_IMAGEMETA_CA_FILE. */
#include "imagemeta.h"

static const en_service_def_t *
s_make(const char *home, const char *gateways, en_err_t *err)
{
    imagemeta_t *self = imagemeta_new(home, gateways, err);
    return self ? imagemeta_service(self) : NULL;
}

static void
s_destroy(const en_service_def_t *def)
{
    imagemeta_t *self = def->service;
    imagemeta_destroy(&self);
}

int
main(int argc, char **argv)
{
    return en_service_main(argc, argv, "imagemeta", s_make, s_destroy);
}
