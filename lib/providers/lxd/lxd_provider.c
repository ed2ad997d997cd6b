/*  lxd_provider.c — the `lxd` provider's registration: credentials,
    regions and the cloud spec, as Juju's LXD provider does them from 2.3
    on (docs/juju-environs.md §8.1, §9.1), for LXD 5.0.

    Where LXD is:
      - endpoint "" or "unix:<absolute path>": the daemon's unix socket
        ("" is $LXD_SOCKET, else $LXD_DIR/unix.socket, else Debian's
        /var/lib/lxd/unix.socket). The socket is its own authentication,
        so an `empty` credential is enough and a `certificate` one is
        accepted and ignored.
      - endpoint "https://host[:port]": LXD's REST API over TLS, which
        needs a `certificate` credential: the client certificate and key
        LXD trusts, and the server certificate to pin.
    Anything else is refused when the spec is validated (PrepareConfig,
    statement 13), with the forms that are accepted in the message.

    Auth types:
      - `empty` {}: the unix socket.
      - `certificate` {server-cert, client-cert, client-key (hidden)}: PEM
        text, or each from a file (`<name>-file`), as Juju reads them.
      - `interactive` {trust-password, token, server-fingerprint}: never
        stored. FinalizeCredential turns it into a `certificate`
        credential against an https endpoint, as `lxc remote add` does: a
        new client certificate, the server's certificate taken from the
        TLS handshake without trusting it first, POST /1.0/certificates
        with the secret, then GET /1.0 must answer auth "trusted". Exactly
        one secret (both hidden): LXD 5.0 takes both in the `password`
        field (a token is the base64 text `lxc config trust add` prints;
        LXD 5.0.2 ignores a `trust_token` field).
        The secret goes only to the server it is meant for: a token names
        the server certificate's fingerprint, and the optional
        server-fingerprint (SHA-256, hex, with or without colons: what
        `lxc info` prints on the server) must match the presented
        certificate too. A trust password without server-fingerprint
        trusts the certificate presented on first use, which `lxc remote
        add` asks its user to confirm; we cannot ask, so we log it.
        When a step after the POST fails, the new client certificate is
        removed from the server's trust store again (best effort, logged):
        a failed FinalizeCredential leaves no trusted key behind.

    DetectCredentials finds what the machine already has: `localhost`
    (empty) when the local socket exists, and one `certificate`
    credential per HTTPS remote of the lxc client's config.yml
    ($LXD_CONF, else ~/.config/lxc) when client.crt and client.key are
    beside it, with the remote's servercerts/<remote>.crt. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/cert.h"
#include "common/log.h"
#include "providers/lxd/lxd_client.h"
#include "providers/lxd/lxd_private.h"
#include "providers/provider.h"

#define S_REGION "localhost"
#define S_DEFAULT_SOCKET "/var/lib/lxd/unix.socket"
//  Files read here (certificates, the lxc config) are small.
#define S_FILE_MAX (1024 * 1024)

//  --------------------------------------------------------------------------
//  Schemas

static const en_cred_attr_t s_certificate_attrs[] = {
    {.name = "server-cert",
     .description = "The LXD server certificate, PEM-encoded.",
     .file_attr = "server-cert-file"},
    {.name = "client-cert",
     .description = "The LXD client certificate, PEM-encoded.",
     .file_attr = "client-cert-file"},
    {.name = "client-key",
     .description = "The LXD client key, PEM-encoded.",
     .hidden = true,
     .file_attr = "client-key-file"},
};

static const en_cred_attr_t s_interactive_attrs[] = {
    {.name = "trust-password",
     .description = "The LXD server's trust password (core.trust_password).",
     .hidden = true,
     .optional = true},
    {.name = "token",
     .description = "A certificate add token (`lxc config trust add` on the server).",
     .hidden = true,
     .optional = true},
    {.name = "server-fingerprint",
     .description = "The LXD server certificate's SHA-256 fingerprint, hex with or without "
                    "colons; without it, the certificate presented on first use is trusted.",
     .optional = true},
};

static const en_cred_schema_t s_schemas[] = {
    {.auth_type = "empty", .attrs = NULL, .attr_count = 0},
    {.auth_type = "certificate", .attrs = s_certificate_attrs, .attr_count = 3},
    {.auth_type = "interactive", .attrs = s_interactive_attrs, .attr_count = 3},
};

//  --------------------------------------------------------------------------
//  Small helpers

static const char *
s_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

//  The whole of a small file, NUL-ended; NULL when it cannot be read.
static char *
s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = malloc(S_FILE_MAX + 1);
    size_t n = data ? fread(data, 1, S_FILE_MAX + 1, f) : 0;
    bool ok = data && !ferror(f) && n <= S_FILE_MAX;
    fclose(f);
    if (!ok) {
        free(data);
        return NULL;
    }
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

static X509 *
s_pem_cert(const char *pem)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return cert;
}

static bool
s_pem_is_key(const char *pem)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    EVP_PKEY_free(key);
    return key != NULL;
}

//  LXD's fingerprint of a certificate: SHA-256 of its DER, lower-case hex.
static int
s_fingerprint(const char *pem, char out[65])
{
    X509 *cert = s_pem_cert(pem);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = cert && X509_digest(cert, EVP_sha256(), md, &n) == 1 && n == 32;
    X509_free(cert);
    if (!ok)
        return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

//  A fingerprint as people write it (hex, any case, with or without colons)
//  in LXD's form, 64 lower-case hex digits.
static int
s_parse_fingerprint(const char *text, char out[65], en_err_t *err)
{
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ':')
            continue;
        if (n == 64 || !isxdigit((unsigned char)*p)) {
            n = 0;
            break;
        }
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    if (n != 64)
        return en_err_set(err, EN_NOT_VALID,
                          "\"server-fingerprint\" is not a SHA-256 fingerprint (64 hex digits, "
                          "colons allowed)");
    return 0;
}

//  The certificate's DER in base64, what POST /1.0/certificates takes.
static char *
s_der_base64(const char *pem)
{
    X509 *cert = s_pem_cert(pem);
    unsigned char *der = NULL;
    int n = cert ? i2d_X509(cert, &der) : -1;
    X509_free(cert);
    if (n <= 0)
        return NULL;
    char *b64 = malloc(4 * (((size_t)n + 2) / 3) + 1);
    if (b64)
        EVP_EncodeBlock((unsigned char *)b64, der, n);
    OPENSSL_free(der);
    return b64;
}

//  --------------------------------------------------------------------------
//  Cloud spec

//  Where and how to reach LXD for a spec: fills cfg with pointers borrowed
//  from spec (the socket path from "unix:<path>", the certificates of a
//  `certificate` credential for https). Errors are the spec's:
//  `validating cloud spec: ...`. Shared with the compute connection.
int
lxd_spec_config(const en_cloud_spec_t *spec, en_lxd_config_t *cfg, en_err_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    const char *endpoint = spec->endpoint ? spec->endpoint : "";
    const en_credential_t *cred = spec->credential;
    const char *auth = cred && cred->auth_type && *cred->auth_type ? cred->auth_type : "empty";
    if (strcmp(auth, "empty") != 0 && strcmp(auth, "certificate") != 0 &&
        strcmp(auth, "interactive") != 0)
        return en_err_set(err, EN_NOT_SUPPORTED,
                          "validating cloud spec: \"%s\" auth-type not supported", auth);
    if (strcmp(auth, "interactive") == 0)
        return en_err_set(err, EN_NOT_VALID,
                          "validating cloud spec: \"interactive\" credential not finalized "
                          "(FinalizeCredential makes it a \"certificate\" credential)");
    if (!*endpoint || strncmp(endpoint, "unix:", 5) == 0) {
        const char *path = *endpoint ? endpoint + 5 : "";
        if (strncmp(path, "//", 2) == 0)
            path += 2; // unix:///var/lib/lxd/unix.socket, the URL form
        if (*endpoint && *path != '/')
            return en_err_set(err, EN_NOT_VALID,
                              "validating cloud spec: endpoint \"%s\" not valid: the socket "
                              "path must be absolute",
                              endpoint);
        cfg->socket_path = *path ? path : NULL;
        return 0; // the socket needs no credential; a certificate is ignored
    }
    const char *host = strncmp(endpoint, "https://", 8) == 0 ? endpoint + 8 : NULL;
    if (!host || !*host || *host == '/' || *host == ':' || strpbrk(endpoint, " \t\r\n?#@"))
        return en_err_set(err, EN_NOT_VALID,
                          "validating cloud spec: endpoint \"%s\" not valid: expected "
                          "\"https://<host>[:<port>]\" or \"unix:<socket path>\"",
                          endpoint);
    if (strcmp(auth, "certificate") != 0)
        return en_err_set(err, EN_NOT_VALID,
                          "validating cloud spec: endpoint \"%s\" needs a \"certificate\" "
                          "credential, got \"%s\"",
                          endpoint, auth);
    const char *server = en_credential_attr(cred, "server-cert");
    const char *client = en_credential_attr(cred, "client-cert");
    const char *key = en_credential_attr(cred, "client-key");
    const char *bad = NULL;
    X509 *c = NULL;
    if (!(c = s_pem_cert(server)))
        bad = "server-cert";
    X509_free(c);
    if (!bad && !(c = s_pem_cert(client)))
        bad = "client-cert";
    X509_free(c);
    if (bad)
        return en_err_set(err, EN_NOT_VALID,
                          "validating cloud spec: certificate credential: \"%s\" is not a PEM "
                          "certificate",
                          bad);
    if (!s_pem_is_key(key))
        return en_err_set(err, EN_NOT_VALID,
                          "validating cloud spec: certificate credential: \"client-key\" is not "
                          "a PEM private key");
    cfg->endpoint = endpoint;
    cfg->server_cert = server;
    cfg->client_cert = client;
    cfg->client_key = key;
    return 0;
}

static int
s_prepare_config(const en_cloud_spec_t *spec, json_t *cfg, en_err_t *err)
{
    (void)cfg;
    en_lxd_config_t where;
    return lxd_spec_config(spec, &where, err);
}

//  --------------------------------------------------------------------------
//  Regions

static int
s_detect_regions(en_region_t **regions, size_t *count, en_err_t *err)
{
    *regions = calloc(1, sizeof(en_region_t));
    if (!*regions || !((*regions)[0].name = strdup(S_REGION))) {
        free(*regions);
        *regions = NULL;
        *count = 0;
        return en_err_set(err, EN_INTERNAL, "detecting regions: out of memory");
    }
    *count = 1;
    return 0;
}

//  --------------------------------------------------------------------------
//  DetectCredentials

//  The local socket, as the client finds it.
static void
s_socket_path(char *buf, size_t size)
{
    if (s_env("LXD_SOCKET"))
        snprintf(buf, size, "%s", s_env("LXD_SOCKET"));
    else if (s_env("LXD_DIR"))
        snprintf(buf, size, "%s/unix.socket", s_env("LXD_DIR"));
    else
        snprintf(buf, size, "%s", S_DEFAULT_SOCKET);
}

//  The lxc client's configuration directory; false when none can be named.
static bool
s_conf_dir(char *buf, size_t size)
{
    if (s_env("LXD_CONF"))
        return (size_t)snprintf(buf, size, "%s", s_env("LXD_CONF")) < size;
    if (s_env("HOME"))
        return (size_t)snprintf(buf, size, "%s/.config/lxc", s_env("HOME")) < size;
    return false;
}

static int
s_add(en_cloud_credentials_t *cc, en_credential_t **cred_p, en_err_t *err)
{
    char label[300];
    snprintf(label, sizeof label, "LXD credential \"%s\"", (*cred_p)->name);
    if (en_cloudfile_set_string(&(*cred_p)->label, label) ||
        en_cloud_credentials_add(cc, cred_p, err)) {
        en_credential_destroy(cred_p);
        return en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
    }
    return 0;
}

static const char *
s_yaml_scalar(yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

//  The value of key in a mapping node, or NULL.
static yaml_node_t *
s_yaml_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = s_yaml_scalar(yaml_document_get_node(doc, p->key));
        if (k && strcmp(k, key) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

//  One `certificate` credential for an HTTPS remote of config.yml, or
//  nothing (0) when the remote is not one LXD answers over HTTPS or its
//  server certificate was never recorded.
static int
s_detect_remote(en_cloud_credentials_t *cc, const char *dir, const char *name,
                const char *client_cert, const char *client_key, yaml_document_t *doc,
                yaml_node_t *remote, en_err_t *err)
{
    const char *addr = s_yaml_scalar(s_yaml_get(doc, remote, "addr"));
    const char *protocol = s_yaml_scalar(s_yaml_get(doc, remote, "protocol"));
    if (!addr || strncmp(addr, "https://", 8) != 0 ||
        (protocol && *protocol && strcmp(protocol, "lxd") != 0))
        return 0; // unix://, or an image server (simplestreams)
    if (strchr(name, '/') || strcmp(name, "..") == 0)
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/servercerts/%s.crt", dir, name);
    char *server_cert = s_read_file(path, NULL);
    if (!server_cert) {
        en_debug("lxd: remote \"%s\" skipped: no %s", name, path);
        return 0;
    }
    en_credential_t *cred = en_credential_new(name, "certificate");
    int rc = 0;
    if (!cred || en_credential_set_attr(cred, "server-cert", server_cert) ||
        en_credential_set_attr(cred, "client-cert", client_cert) ||
        en_credential_set_attr(cred, "client-key", client_key)) {
        en_credential_destroy(&cred);
        rc = en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
    } else
        rc = s_add(cc, &cred, err);
    free(server_cert);
    return rc;
}

//  The certificate credentials of the lxc client's config.yml. A file that
//  is not there, or not YAML, gives none (logged): the socket may still do.
static int
s_detect_remotes(en_cloud_credentials_t *cc, char **default_remote, en_err_t *err)
{
    char dir[2048], path[4096];
    if (!s_conf_dir(dir, sizeof dir))
        return 0;
    snprintf(path, sizeof path, "%s/config.yml", dir);
    size_t len = 0;
    char *text = s_read_file(path, &len);
    snprintf(path, sizeof path, "%s/client.crt", dir);
    char *client_cert = text ? s_read_file(path, NULL) : NULL;
    snprintf(path, sizeof path, "%s/client.key", dir);
    char *client_key = client_cert ? s_read_file(path, NULL) : NULL;
    int rc = 0;
    if (!client_key)
        goto cleanup;
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        en_warn("lxd: %s/config.yml skipped: yaml: line %zu: %s", dir, parser.problem_mark.line + 1,
                parser.problem ? parser.problem : "error");
        yaml_parser_delete(&parser);
        goto cleanup;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *remotes = s_yaml_get(&doc, root, "remotes");
    const char *def = s_yaml_scalar(s_yaml_get(&doc, root, "default-remote"));
    if (def && !(*default_remote = strdup(def)))
        rc = en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
    if (remotes && remotes->type == YAML_MAPPING_NODE)
        for (yaml_node_pair_t *p = remotes->data.mapping.pairs.start;
             rc == 0 && p < remotes->data.mapping.pairs.top; p++) {
            const char *name = s_yaml_scalar(yaml_document_get_node(&doc, p->key));
            if (name && *name)
                rc = s_detect_remote(cc, dir, name, client_cert, client_key, &doc,
                                     yaml_document_get_node(&doc, p->value), err);
        }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
cleanup:
    free(text);
    free(client_cert);
    free(client_key);
    return rc;
}

static int
s_detect_credentials(en_cloud_credentials_t **out, en_err_t *err)
{
    *out = NULL;
    en_cloud_credentials_t *cc = en_cloud_credentials_new(S_REGION);
    if (!cc)
        return en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
    char *default_remote = NULL;
    if (s_detect_remotes(cc, &default_remote, err))
        goto fail;
    char socket[4096];
    s_socket_path(socket, sizeof socket);
    struct stat st;
    if (stat(socket, &st) == 0 && S_ISSOCK(st.st_mode)) {
        en_credential_t *local = en_credential_new(S_REGION, "empty");
        if (!local) {
            en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
            goto fail;
        }
        if (s_add(cc, &local, err))
            goto fail;
    }
    if (cc->count == 0) {
        en_err_set(err, EN_NOT_FOUND, "credentials not found");
        goto fail;
    }
    // lxc's default remote, when it is one of ours ("local" is the socket)
    const char *def =
        default_remote && strcmp(default_remote, "local") == 0 ? S_REGION : default_remote;
    if (def && en_cloud_credentials_find(cc, def) &&
        en_cloudfile_set_string(&cc->default_credential, def)) {
        en_err_set(err, EN_INTERNAL, "detecting credentials: out of memory");
        goto fail;
    }
    free(default_remote);
    *out = cc;
    return 0;
fail:
    free(default_remote);
    en_cloud_credentials_destroy(&cc);
    return -1;
}

//  --------------------------------------------------------------------------
//  FinalizeCredential

static size_t
s_discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

//  The certificate the server presents, taken from a TLS handshake that
//  trusts nothing (`lxc remote add` does the same), PEM.
static int
s_server_cert(const char *endpoint, char **pem, en_err_t *err)
{
    *pem = NULL;
    CURL *curl = curl_easy_init();
    if (!curl)
        return en_err_set(err, EN_INTERNAL, "lxd: cannot start libcurl");
    char url[2048];
    snprintf(url, sizeof url, "%s/1.0", endpoint);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    CURLcode code = curl_easy_perform(curl);
    int rc = -1;
    if (code != CURLE_OK) {
        en_lxd_classify(0, (int)code, 0, *errbuf ? errbuf : curl_easy_strerror(code), url, err);
        goto cleanup;
    }
    struct curl_certinfo *info = NULL;
    if (curl_easy_getinfo(curl, CURLINFO_CERTINFO, &info) == CURLE_OK && info &&
        info->num_of_certs > 0)
        for (struct curl_slist *s = info->certinfo[0]; s; s = s->next)
            if (strncmp(s->data, "Cert:", 5) == 0 && !(*pem = strdup(s->data + 5))) {
                en_err_set(err, EN_INTERNAL, "lxd: out of memory");
                goto cleanup;
            }
    if (!*pem) {
        en_err_set(err, EN_NOT_VALID, "lxd: %s presented no certificate", endpoint);
        goto cleanup;
    }
    rc = 0;
cleanup:
    curl_easy_cleanup(curl);
    return rc;
}

//  The server certificate fingerprint a `lxc config trust add` token names
//  (base64 of {"client_name","fingerprint","addresses","secret",...}).
static int
s_token_fingerprint(const char *token, char out[65], en_err_t *err)
{
    size_t n = strlen(token);
    char *b64 = malloc(n + 4);
    unsigned char *raw = malloc(n + 4);
    json_t *doc = NULL;
    int rc = -1;
    if (!b64 || !raw)
        goto cleanup;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) // URL-safe alphabet, and no line breaks
        if (!strchr(" \t\r\n", token[i]))
            b64[k++] = token[i] == '-' ? '+' : token[i] == '_' ? '/' : token[i];
    while (k % 4)
        b64[k++] = '=';
    b64[k] = '\0';
    size_t pad = k >= 2 && b64[k - 2] == '=' ? 2 : k >= 1 && b64[k - 1] == '=' ? 1 : 0;
    int len = k ? EVP_DecodeBlock(raw, (unsigned char *)b64, (int)k) : -1;
    if (len > (int)pad)
        doc = json_loadb((const char *)raw, (size_t)len - pad, 0, NULL);
    const char *fp = json_string_value(json_object_get(doc, "fingerprint"));
    if (fp && strlen(fp) == 64) {
        memcpy(out, fp, 65);
        rc = 0;
    }
cleanup:
    if (rc)
        en_err_set(err, EN_NOT_VALID, "token is not an LXD certificate add token");
    json_decref(doc);
    free(b64);
    free(raw);
    return rc;
}

//  Ask the server to trust client_cert with secret: a client pinned to the
//  presented certificate that has POSTed it, or NULL.
static en_lxd_t *
s_trust(const char *endpoint, const char *pinned, const char *name, const char *secret,
        const char *client_cert, const char *client_key, en_err_t *err)
{
    en_lxd_config_t cfg = {.endpoint = endpoint,
                           .client_cert = client_cert,
                           .client_key = client_key,
                           .server_cert = pinned};
    en_lxd_t *lxd = en_lxd_new(&cfg, err);
    if (!lxd)
        return NULL;
    char *der = s_der_base64(client_cert);
    json_t *body = json_pack("{s:s, s:s, s:s?, s:s}", "type", "client", "name", name, "certificate",
                             der, "password", secret);
    int rc = -1;
    if (!der || !body)
        en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    else if ((rc = en_lxd_call(lxd, "POST", "/1.0/certificates", body, NULL, NULL, 0, err)) &&
             err && err->kind == EN_UNAUTHORIZED)
        en_err_annotate(err, "the server refused the token or trust password");
    json_decref(body);
    free(der);
    if (rc)
        en_lxd_destroy(&lxd);
    return lxd;
}

//  After the POST: GET /1.0 must answer auth "trusted" and name the
//  certificate the server presented (fingerprint got). *server_pem is that
//  certificate as GET /1.0 gives it.
static int
s_check_trusted(en_lxd_t *lxd, const char *endpoint, const char *pinned, const char *got,
                char **server_pem, en_err_t *err)
{
    const json_t *server = NULL;
    if (en_lxd_server(lxd, &server, err))
        return -1;
    const char *auth = json_string_value(json_object_get(server, "auth"));
    if (!auth || strcmp(auth, "trusted") != 0)
        return en_err_set(err, EN_UNAUTHORIZED,
                          "lxd: %s still answers auth \"%s\" after the certificate was added",
                          endpoint, auth ? auth : "");
    const char *cert =
        json_string_value(json_object_get(json_object_get(server, "environment"), "certificate"));
    if (!(*server_pem = strdup(cert && *cert ? cert : pinned)))
        return en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    char said[65] = "";
    if (s_fingerprint(*server_pem, said) || strcmp(said, got) != 0)
        return en_err_set(err, EN_NOT_VALID, "lxd: %s says its certificate is %s, it presented %s",
                          endpoint, said, got);
    return 0;
}

//  Best effort, after a failure that followed the POST: take the new
//  client certificate out of the server's trust store again, so that a
//  failed FinalizeCredential leaves no key trusted that nobody keeps.
static void
s_untrust(en_lxd_t *lxd, const char *client_cert)
{
    char fp[65], path[128];
    en_err_t err;
    if (s_fingerprint(client_cert, fp)) {
        en_warn("lxd: %s: cannot remove the new client certificate from the trust store: it "
                "does not parse",
                en_lxd_where(lxd));
        return;
    }
    snprintf(path, sizeof path, "/1.0/certificates/%s", fp);
    if (en_lxd_call(lxd, "DELETE", path, NULL, NULL, NULL, 0, &err))
        en_warn("lxd: %s: the new client certificate %s stays trusted: %s", en_lxd_where(lxd), fp,
                err.message);
    else
        en_info("lxd: %s: removed the new client certificate %s from the trust store",
                en_lxd_where(lxd), fp);
}

static int
s_finalize_interactive(const en_credential_t *cred, const char *endpoint, en_credential_t **out,
                       en_err_t *err)
{
    const char *password = en_credential_attr(cred, "trust-password");
    const char *token = en_credential_attr(cred, "token");
    const char *fingerprint = en_credential_attr(cred, "server-fingerprint");
    password = password && *password ? password : NULL;
    token = token && *token ? token : NULL;
    fingerprint = fingerprint && *fingerprint ? fingerprint : NULL;
    if (!endpoint || strncmp(endpoint, "https://", 8) != 0)
        return en_err_set(err, EN_NOT_VALID,
                          "the \"interactive\" auth-type needs an https:// endpoint, got \"%s\" "
                          "(the unix socket needs no credential: use \"empty\")",
                          endpoint ? endpoint : "");
    if (password && token)
        return en_err_set(err, EN_NOT_VALID,
                          "specifying both \"token\" and \"trust-password\" not valid");
    if (!password && !token)
        return en_err_set(err, EN_NOT_VALID,
                          "either \"token\" or \"trust-password\" must be "
                          "specified");
    char want[65] = "", want_server[65] = "", got[65] = "";
    if (token && s_token_fingerprint(token, want, err))
        return -1;
    if (fingerprint && s_parse_fingerprint(fingerprint, want_server, err))
        return -1;
    char *pinned = NULL, *client_cert = NULL, *client_key = NULL, *server_pem = NULL;
    en_lxd_t *lxd = NULL;
    en_credential_t *c = NULL;
    int rc = -1;
    if (s_server_cert(endpoint, &pinned, err))
        goto cleanup;
    if (s_fingerprint(pinned, got)) {
        en_err_set(err, EN_NOT_VALID, "lxd: %s presented a certificate that does not parse",
                   endpoint);
        goto cleanup;
    }
    // both checks before the secret is sent anywhere
    if (fingerprint && strcmp(want_server, got) != 0) {
        en_err_set(err, EN_NOT_VALID, "lxd: server certificate fingerprint %s does not match %s",
                   got, want_server);
        goto cleanup;
    }
    if (token && strcmp(want, got) != 0) {
        en_err_set(err, EN_UNAUTHORIZED, "lxd: %s presented certificate %s, the token names %s",
                   endpoint, got, want);
        goto cleanup;
    }
    if (!token && !fingerprint)
        en_info("lxd: %s presents certificate %s, trusted on first use (no server-fingerprint "
                "to check it against)",
                endpoint, got);
    en_info("lxd: %s presents certificate %s; asking it to trust a new client certificate",
            endpoint, got);
    char host[256] = "", cn[300];
    gethostname(host, sizeof host - 1);
    snprintf(cn, sizeof cn, "environs@%s", *host ? host : "localhost");
    char name[300];
    snprintf(name, sizeof name, "environs-%s", cred->name);
    if (en_client_cert_generate(cn, &client_cert, &client_key, err) ||
        !(lxd = s_trust(endpoint, pinned, name, token ? token : password, client_cert, client_key,
                        err)))
        goto cleanup;
    // from here on the server trusts client_cert (lxd is set only after
    // the POST): a failure takes the trust back, at cleanup
    if (s_check_trusted(lxd, endpoint, pinned, got, &server_pem, err))
        goto cleanup;
    c = en_credential_new(cred->name, "certificate");
    if (!c || en_cloudfile_set_string(&c->label, cred->label) ||
        en_credential_set_attr(c, "server-cert", server_pem) ||
        en_credential_set_attr(c, "client-cert", client_cert) ||
        en_credential_set_attr(c, "client-key", client_key)) {
        en_credential_destroy(&c);
        en_err_set(err, EN_INTERNAL, "lxd: out of memory");
        goto cleanup;
    }
    *out = c;
    rc = 0;
cleanup:
    if (rc && lxd)
        s_untrust(lxd, client_cert);
    en_lxd_destroy(&lxd);
    free(pinned);
    free(client_cert);
    free(client_key);
    free(server_pem);
    return rc;
}

//  Juju's FinalizeCredential for LXD: `interactive` becomes `certificate`
//  (the file comment says how); any other auth-type is already final.
static int
s_finalize_credential(const en_credential_t *cred, const char *endpoint, en_credential_t **out,
                      en_err_t *err)
{
    *out = NULL;
    if (strcmp(cred->auth_type, "interactive") != 0) {
        *out = en_credential_dup(cred);
        return *out ? 0 : en_err_set(err, EN_INTERNAL, "lxd: out of memory");
    }
    if (s_finalize_interactive(cred, endpoint, out, err))
        return en_err_annotate(err, "finalizing credential \"%s\"", cred->name);
    return 0;
}

const en_provider_t en_lxd_provider = {
    .name = "lxd",
    .aliases = (const char *const[]){NULL},
    .schemas = s_schemas,
    .schema_count = sizeof s_schemas / sizeof s_schemas[0],
    .detect_credentials = s_detect_credentials,
    .detect_regions = s_detect_regions,
    .finalize_credential = s_finalize_credential,
    .prepare_config = s_prepare_config,
    .compute = &lxd_compute_ops,
    .firewall = &lxd_firewall_ops,
    .network = &lxd_network_ops,
};
