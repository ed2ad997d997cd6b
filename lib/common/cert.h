/*  cert.h — the controller's certificate authority, and TLS client
    certificates.

    Bootstrap makes one CA per controller (Juju's cert.NewCA): an ECDSA
    P-256 key and a self-signed certificate that may sign certificates and
    nothing else, valid for ten years. Both are PEM text; the key never
    leaves the registry's database.

    A client certificate is what a cloud that authenticates TLS clients by
    the certificate they present (LXD's trust store) is asked to trust: an
    ECDSA P-384 key (what LXD's own clients make) and a self-signed
    certificate for digital signatures and TLS client authentication only.
    Both come from one self-signing routine in cert.c. */
#ifndef EN_CERT_H
#define EN_CERT_H

#include "common/err.h"

#define EN_CA_YEARS 10
#define EN_CLIENT_CERT_YEARS 10

//  A new CA whose subject names the controller. *cert_pem and *key_pem are
//  malloc'd PEM text. EN_INTERNAL when OpenSSL fails.
int en_ca_generate(const char *controller_name, const char *controller_uuid, char **cert_pem,
                   char **key_pem, en_err_t *err);

//  Check that cert_pem is a self-signed CA certificate whose key is key_pem (either may
//  be NULL to check only the other's syntax). EN_NOT_VALID with the reason.
int en_ca_check(const char *cert_pem, const char *key_pem, en_err_t *err);

//  A new self-signed TLS client certificate (subject O=environs,
//  CN=common_name; NULL or "": "environs") and its key, malloc'd PEM text.
//  EN_INTERNAL when OpenSSL fails.
int en_client_cert_generate(const char *common_name, char **cert_pem, char **key_pem,
                            en_err_t *err);

#endif
