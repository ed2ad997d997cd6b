/*  cert.c — see cert.h. OpenSSL 3 EVP and X509 APIs only. */
#include "common/cert.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_ossl_err(en_err_t *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return en_err_set(err, EN_INTERNAL, "%s%s%s", what, *buf ? ": " : "", buf);
}

static char *
s_bio_text(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out = malloc((size_t) n + 1);
    if (!out)
        abort();
    memcpy(out, data, (size_t) n);
    out[n] = '\0';
    return out;
}

static int
s_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int rc = X509_add_ext(cert, ext, -1) ? 0 : -1;
    X509_EXTENSION_free(ext);
    return rc;
}

//  What a self-signed certificate says about itself.
typedef struct {
    const char *curve; // "P-256", "P-384"
    const char *common_name;
    const char *serial_number; // subject serialNumber; NULL or "": none
    long days;
    const char *basic_constraints;
    const char *key_usage;
    const char *ext_key_usage; // NULL: none
    const char *what;          // "CA", "client certificate": for messages
} s_self_signed_t;

//  A new key and a certificate it signs for itself, both PEM.
static int
s_self_signed(const s_self_signed_t *spec, char **cert_pem, char **key_pem, en_err_t *err)
{
    *cert_pem = *key_pem = NULL;
    int rc = -1;
    X509 *cert = NULL;
    BIO *cb = NULL, *kb = NULL;
    char what[64];
    EVP_PKEY *key = EVP_EC_gen(spec->curve);
    if (!key) {
        snprintf(what, sizeof what, "cannot generate %s key", spec->what);
        s_ossl_err(err, what);
        goto cleanup;
    }
    snprintf(what, sizeof what, "cannot generate %s", spec->what);
    cert = X509_new();
    unsigned char serial[16];
    if (!cert || RAND_bytes(serial, sizeof serial) != 1) {
        s_ossl_err(err, what);
        goto cleanup;
    }
    serial[0] &= 0x7f; // a positive serial number
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    X509_NAME *name = X509_get_subject_name(cert);
    const char *uuid = spec->serial_number;
    int ok =
        sn && X509_set_version(cert, 2) && X509_set_serialNumber(cert, sn) &&
        X509_gmtime_adj(X509_getm_notBefore(cert), -300) &&
        X509_gmtime_adj(X509_getm_notAfter(cert), spec->days * 86400) &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"environs", -1,
                                   -1, 0) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)spec->common_name, -1, -1, 0) &&
        (!uuid || !*uuid ||
         X509_NAME_add_entry_by_txt(name, "serialNumber", MBSTRING_UTF8,
                                    (const unsigned char *)uuid, -1, -1, 0)) &&
        X509_set_issuer_name(cert, name) && X509_set_pubkey(cert, key) &&
        s_ext(cert, NID_basic_constraints, spec->basic_constraints) == 0 &&
        s_ext(cert, NID_key_usage, spec->key_usage) == 0 &&
        (!spec->ext_key_usage || s_ext(cert, NID_ext_key_usage, spec->ext_key_usage) == 0) &&
        s_ext(cert, NID_subject_key_identifier, "hash") == 0 &&
        X509_sign(cert, key, strcmp(spec->curve, "P-384") == 0 ? EVP_sha384() : EVP_sha256()) > 0;
    ASN1_INTEGER_free(sn);
    if (!ok) {
        s_ossl_err(err, what);
        goto cleanup;
    }
    cb = BIO_new(BIO_s_mem());
    kb = BIO_new(BIO_s_mem());
    if (!cb || !kb || !PEM_write_bio_X509(cb, cert) ||
        !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)) {
        snprintf(what, sizeof what, "cannot encode %s", spec->what);
        s_ossl_err(err, what);
        goto cleanup;
    }
    *cert_pem = s_bio_text(cb);
    *key_pem = s_bio_text(kb);
    rc = 0;
cleanup:
    BIO_free(cb);
    BIO_free(kb);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int
en_ca_generate(const char *controller_name, const char *controller_uuid, char **cert_pem,
               char **key_pem, en_err_t *err)
{
    char cn[256];
    snprintf(cn, sizeof cn, "environs-generated CA for controller \"%s\"",
             controller_name ? controller_name : "");
    s_self_signed_t spec = {
        .curve = "P-256",
        .common_name = cn,
        .serial_number = controller_uuid,
        .days = (long)EN_CA_YEARS * 365,
        .basic_constraints = "critical,CA:TRUE",
        .key_usage = "critical,keyCertSign,cRLSign",
        .what = "CA",
    };
    return s_self_signed(&spec, cert_pem, key_pem, err);
}

int
en_client_cert_generate(const char *common_name, char **cert_pem, char **key_pem, en_err_t *err)
{
    s_self_signed_t spec = {
        .curve = "P-384",
        .common_name = common_name && *common_name ? common_name : "environs",
        .days = (long)EN_CLIENT_CERT_YEARS * 365,
        .basic_constraints = "critical,CA:FALSE",
        .key_usage = "critical,digitalSignature",
        .ext_key_usage = "clientAuth",
        .what = "client certificate",
    };
    return s_self_signed(&spec, cert_pem, key_pem, err);
}

int
en_ca_check(const char *cert_pem, const char *key_pem, en_err_t *err)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;
    if (cert_pem) {
        BIO *b = BIO_new_mem_buf(cert_pem, -1);
        cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!cert) {
            ERR_clear_error();
            en_err_set(err, EN_NOT_VALID, "CA certificate is not a PEM certificate");
            goto cleanup;
        }
        if (X509_check_ca(cert) == 0) {
            en_err_set(err, EN_NOT_VALID, "certificate is not a CA");
            goto cleanup;
        }
        // a root CA signs itself: any change to what it says breaks that
        EVP_PKEY *own = X509_get0_pubkey(cert);
        if (!own || X509_verify(cert, own) != 1) {
            ERR_clear_error();
            en_err_set(err, EN_NOT_VALID, "CA certificate signature does not verify");
            goto cleanup;
        }
    }
    if (key_pem) {
        BIO *b = BIO_new_mem_buf(key_pem, -1);
        key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!key) {
            ERR_clear_error();
            en_err_set(err, EN_NOT_VALID, "CA key is not a PEM private key");
            goto cleanup;
        }
    }
    if (cert && key && X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        en_err_set(err, EN_NOT_VALID, "CA key does not match the certificate");
        goto cleanup;
    }
    rc = 0;
cleanup:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
