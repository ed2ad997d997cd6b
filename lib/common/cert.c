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

int
en_ca_generate(const char *controller_name, const char *controller_uuid, char **cert_pem,
               char **key_pem, en_err_t *err)
{
    *cert_pem = *key_pem = NULL;
    int rc = -1;
    X509 *cert = NULL;
    BIO *cb = NULL, *kb = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) {
        s_ossl_err(err, "cannot generate CA key");
        goto cleanup;
    }
    cert = X509_new();
    unsigned char serial[16];
    if (!cert || RAND_bytes(serial, sizeof serial) != 1) {
        s_ossl_err(err, "cannot generate CA certificate");
        goto cleanup;
    }
    serial[0] &= 0x7f; // a positive serial number
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    BN_free(bn);
    char cn[256];
    snprintf(cn, sizeof cn, "environs-generated CA for controller \"%s\"",
             controller_name ? controller_name : "");
    X509_NAME *name = X509_get_subject_name(cert);
    int ok = sn && X509_set_version(cert, 2) && X509_set_serialNumber(cert, sn) &&
             X509_gmtime_adj(X509_getm_notBefore(cert), -300) &&
             X509_gmtime_adj(X509_getm_notAfter(cert), (long) EN_CA_YEARS * 365 * 86400) &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *) "environs",
                                        -1, -1, 0) &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1,
                                        -1, 0) &&
             (!controller_uuid || !*controller_uuid ||
              X509_NAME_add_entry_by_txt(name, "serialNumber", MBSTRING_UTF8,
                                         (const unsigned char *) controller_uuid, -1, -1, 0)) &&
             X509_set_issuer_name(cert, name) && X509_set_pubkey(cert, key) &&
             s_ext(cert, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
             s_ext(cert, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             s_ext(cert, NID_subject_key_identifier, "hash") == 0 &&
             X509_sign(cert, key, EVP_sha256()) > 0;
    ASN1_INTEGER_free(sn);
    if (!ok) {
        s_ossl_err(err, "cannot generate CA certificate");
        goto cleanup;
    }
    cb = BIO_new(BIO_s_mem());
    kb = BIO_new(BIO_s_mem());
    if (!cb || !kb || !PEM_write_bio_X509(cb, cert) ||
        !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)) {
        s_ossl_err(err, "cannot encode CA");
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
