/*  cert.h — the controller's certificate authority.

    Bootstrap makes one CA per controller (Juju's cert.NewCA): an ECDSA
    P-256 key and a self-signed certificate that may sign certificates and
    nothing else, valid for ten years. Both are PEM text; the key never
    leaves the registry's database. */
#ifndef EN_CERT_H
#define EN_CERT_H

#include "common/err.h"

#define EN_CA_YEARS 10

//  A new CA whose subject names the controller. *cert_pem and *key_pem are
//  malloc'd PEM text. EN_INTERNAL when OpenSSL fails.
int en_ca_generate(const char *controller_name, const char *controller_uuid, char **cert_pem,
                   char **key_pem, en_err_t *err);

//  Check that cert_pem is a self-signed CA certificate whose key is key_pem (either may
//  be NULL to check only the other's syntax). EN_NOT_VALID with the reason.
int en_ca_check(const char *cert_pem, const char *key_pem, en_err_t *err);

#endif
