/*  ssverify.c — see ssverify.h.

    Both classes sit on a "private home": a mkdtemp directory with a
    gpg.conf that turns off every way gpg could reach outside it (key
    servers, auto key retrieval, the trust database) and a gpgme context
    bound to it with gpgme_ctx_set_engine_info. The verifier never needs
    gpg-agent (public keys only; gpg.conf says no-autostart); the signer
    does, so its destroy asks gpgconf to kill that agent before the
    directory goes.

    Verification cuts the first clear-signed block out of the document
    itself (the same rule as Go's clearsign.Decode: the BEGIN line at
    offset 0 or after a newline) and gives gpg only that block, so what
    precedes or follows it can neither be verified nor returned. gpg's
    own verdict per signature is then checked against the fingerprints
    collected from the keyring at import time: a GOOD signature from a key
    that is somehow not in that set is still refused. */
#include "simplestreams/ssverify.h"
#include "simplestreams/ss.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gpgme.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define S_FPR_LEN 40

static const char S_BEGIN_SIGNED[] = "-----BEGIN PGP SIGNED MESSAGE-----";
static const char S_BEGIN_SIG[] = "\n-----BEGIN PGP SIGNATURE-----";
static const char S_END_SIG[] = "\n-----END PGP SIGNATURE-----";

// ---------------------------------------------------------------------------
//  Private GnuPG homes

static pthread_once_t s_gpgme_once = PTHREAD_ONCE_INIT;

static void
s_gpgme_init(void)
{
    gpgme_check_version(NULL);
}

//  The gpgme context of a fresh private home (made in home, which must
//  hold PATH_MAX bytes) with gpg.conf holding conf.
static gpgme_ctx_t
s_home_new(const char *prefix, const char *conf, char *home, size_t size, en_err_t *err)
{
    pthread_once(&s_gpgme_once, s_gpgme_init);
    if (gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) != 0) {
        en_err_set(err, EN_NOT_SUPPORTED,
                   "OpenPGP engine (gpg) not available: install the gnupg package");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(home, size, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix);
    if (!mkdtemp(home)) {
        en_err_set(err, EN_INTERNAL, "cannot create a GnuPG home in %s: %s", home, strerror(errno));
        home[0] = '\0';
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/gpg.conf", home);
    FILE *f = fopen(path, "w");
    if (!f || fputs(conf, f) < 0 || fclose(f) != 0) {
        if (f)
            fclose(f);
        en_err_set(err, EN_INTERNAL, "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    gpgme_ctx_t ctx = NULL;
    gpgme_error_t ge = gpgme_new(&ctx);
    if (!ge)
        ge = gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP);
    if (!ge)
        ge = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, home);
    if (ge) {
        en_err_set(err, EN_INTERNAL, "cannot create a gpgme context: %s", gpgme_strerror(ge));
        if (ctx)
            gpgme_release(ctx);
        return NULL;
    }
    gpgme_set_armor(ctx, 1);
    return ctx;
}

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path); //  best effort: keep going
    return 0;
}

//  Run gpgconf --homedir home <args> and wait for it; best effort.
static void
s_gpgconf(const char *home, const char *a1, const char *a2)
{
    char *argv[] = {"gpgconf", "--homedir", (char *)home, (char *)a1, (char *)a2, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "gpgconf", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

static void
s_home_remove(char *home)
{
    if (home[0])
        nftw(home, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    home[0] = '\0';
}

//  Uppercase hex digits of s without blanks into out (S_FPR_LEN+1 bytes);
//  false when that is not 40 hex digits.
static bool
s_fpr_normalise(const char *s, char *out)
{
    size_t n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '\t')
            continue;
        if (!isxdigit((unsigned char)*s) || n == S_FPR_LEN)
            return false;
        out[n++] = (char)toupper((unsigned char)*s);
    }
    out[n] = '\0';
    return n == S_FPR_LEN;
}

// ---------------------------------------------------------------------------
//  Verifier

typedef struct {
    char fpr[S_FPR_LEN + 1];     //  a primary key or subkey fingerprint
    char primary[S_FPR_LEN + 1]; //  its primary key's
} s_allowed_t;

struct en_ssverify {
    char *source;
    char home[4096];
    gpgme_ctx_t ctx;
    pthread_mutex_t mutex;
    s_allowed_t *allowed;
    size_t allowed_count;
    char (*primaries)[S_FPR_LEN + 1];
    const char **primary_ptrs;
    size_t primary_count;
};

static const char S_VERIFY_CONF[] = "no-autostart\n"
                                    "no-auto-key-retrieve\n"
                                    "no-auto-key-locate\n"
                                    "trust-model always\n"
                                    "no-greeting\n";

static bool
s_listed(const char *const *fprs, size_t count, const char *fpr)
{
    char want[S_FPR_LEN + 1];
    for (size_t i = 0; i < count; i++)
        if (s_fpr_normalise(fprs[i], want) && strcmp(want, fpr) == 0)
            return true;
    return false;
}

//  Is key (any of its fingerprints) in the allow list?
static bool
s_key_listed(gpgme_key_t key, const char *const *fprs, size_t count)
{
    for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
        if (sk->fpr && s_listed(fprs, count, sk->fpr))
            return true;
    return false;
}

//  Record the accepted fingerprints from the imported keyring.
static int
s_collect_keys(en_ssverify_t *self, const char *const *fprs, size_t count, en_err_t *err)
{
    gpgme_error_t ge = gpgme_op_keylist_start(self->ctx, NULL, 0);
    gpgme_key_t key;
    while (!ge && !(ge = gpgme_op_keylist_next(self->ctx, &key))) {
        if (count == 0 || s_key_listed(key, fprs, count)) {
            const char *primary = key->subkeys ? key->subkeys->fpr : NULL;
            void *p = realloc(self->primaries, (self->primary_count + 1) * sizeof *self->primaries);
            if (p)
                self->primaries = p;
            if (p && primary) {
                snprintf(self->primaries[self->primary_count++], S_FPR_LEN + 1, "%s", primary);
                for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next) {
                    void *q = sk->fpr ? realloc(self->allowed,
                                                (self->allowed_count + 1) * sizeof *self->allowed)
                                      : NULL;
                    if (!q)
                        continue;
                    self->allowed = q;
                    s_allowed_t *a = &self->allowed[self->allowed_count++];
                    snprintf(a->fpr, sizeof a->fpr, "%s", sk->fpr);
                    snprintf(a->primary, sizeof a->primary, "%s", primary);
                }
            }
        }
        gpgme_key_unref(key);
    }
    gpgme_op_keylist_end(self->ctx);
    if (gpgme_err_code(ge) != GPG_ERR_EOF)
        return en_err_set(err, EN_INTERNAL, "source \"%s\": cannot list keys: %s", self->source,
                          gpgme_strerror(ge));
    self->primary_ptrs = calloc(self->primary_count + 1, sizeof *self->primary_ptrs);
    if (!self->primary_ptrs)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; i < self->primary_count; i++)
        self->primary_ptrs[i] = self->primaries[i];
    //  every listed fingerprint must name a key we now hold
    for (size_t i = 0; i < count; i++) {
        char want[S_FPR_LEN + 1];
        if (!s_fpr_normalise(fprs[i], want))
            return en_err_set(err, EN_NOT_VALID, "source \"%s\": \"%s\" is not a key fingerprint",
                              self->source, fprs[i]);
        bool found = false;
        for (size_t j = 0; j < self->allowed_count && !found; j++)
            found = strcmp(self->allowed[j].fpr, want) == 0;
        if (!found)
            return en_err_set(err, EN_NOT_VALID, "source \"%s\": key %s is not in its keyring",
                              self->source, want);
    }
    if (self->primary_count == 0)
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": keyring holds no OpenPGP public key",
                          self->source);
    return 0;
}

en_ssverify_t *
en_ssverify_new(const char *source, const char *keyring_armored, const char *const *fingerprints,
                size_t fingerprint_count, en_err_t *err)
{
    en_ssverify_t *self = calloc(1, sizeof *self);
    if (!self) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&self->mutex, NULL);
    self->source = strdup(source ? source : "");
    gpgme_data_t keys = NULL;
    if (!self->source) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto fail;
    }
    self->ctx = s_home_new("en-ssverify", S_VERIFY_CONF, self->home, sizeof self->home, err);
    if (!self->ctx)
        goto fail;
    const char *kr = keyring_armored ? keyring_armored : "";
    gpgme_error_t ge = gpgme_data_new_from_mem(&keys, kr, strlen(kr), 0);
    if (!ge)
        ge = gpgme_op_import(self->ctx, keys);
    if (ge) {
        en_err_set(err, EN_NOT_VALID, "source \"%s\": cannot import keyring: %s", self->source,
                   gpgme_strerror(ge));
        goto fail;
    }
    if (s_collect_keys(self, fingerprints, fingerprint_count, err) < 0)
        goto fail;
    gpgme_data_release(keys);
    return self;
fail:
    gpgme_data_release(keys);
    en_ssverify_destroy(&self);
    return NULL;
}

void
en_ssverify_destroy(en_ssverify_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_ssverify_t *self = *self_p;
    if (self->ctx)
        gpgme_release(self->ctx);
    s_home_remove(self->home);
    pthread_mutex_destroy(&self->mutex);
    free(self->allowed);
    free(self->primaries);
    free(self->primary_ptrs);
    free(self->source);
    free(self);
    *self_p = NULL;
}

size_t
en_ssverify_keys(en_ssverify_t *self, const char *const **fingerprints)
{
    *fingerprints = self->primary_ptrs;
    return self->primary_count;
}

//  Find the first clear-signed block: [*start, *end) from the BEGIN line
//  to the end of the END line. -1 with a message naming what is missing.
static int
s_find_block(const char *buf, size_t len, const char **start, size_t *block_len, const char **why)
{
    const char *p = buf, *end = buf + len;
    const size_t bl = sizeof S_BEGIN_SIGNED - 1;
    *why = "not a clear-signed document";
    for (;;) {
        p = memmem(p, (size_t)(end - p), S_BEGIN_SIGNED, bl);
        if (!p)
            return -1;
        if (p == buf || p[-1] == '\n')
            break;
        p += bl;
    }
    const char *sig = memmem(p, (size_t)(end - p), S_BEGIN_SIG, sizeof S_BEGIN_SIG - 1);
    const char *fin =
        sig ? memmem(sig, (size_t)(end - sig), S_END_SIG, sizeof S_END_SIG - 1) : NULL;
    if (!fin) {
        *why = "clear-signed document without a complete signature block";
        return -1;
    }
    fin += sizeof S_END_SIG - 1;
    while (fin < end && *fin != '\n')
        fin++;
    if (fin < end)
        fin++;
    *start = p;
    *block_len = (size_t)(fin - p);
    return 0;
}

//  Judge one signature gpg reported; fills signer on success.
static int
s_check_signature(en_ssverify_t *self, const char *name, gpgme_signature_t sig, char *signer,
                  en_err_t *err)
{
    const char *fpr = sig->fpr ? sig->fpr : "(none)";
    switch (gpgme_err_code(sig->status)) {
    case GPG_ERR_NO_ERROR:
        break;
    case GPG_ERR_BAD_SIGNATURE:
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: bad signature", self->source,
                          name);
    case GPG_ERR_NO_PUBKEY:
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: signed by unknown key %s",
                          self->source, name, fpr);
    default:
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: signature by key %s: %s",
                          self->source, name, fpr, gpgme_strerror(sig->status));
    }
    char want[S_FPR_LEN + 1];
    if (sig->fpr && s_fpr_normalise(sig->fpr, want))
        for (size_t i = 0; i < self->allowed_count; i++)
            if (strcmp(self->allowed[i].fpr, want) == 0) {
                if (signer)
                    memcpy(signer, self->allowed[i].primary, S_FPR_LEN + 1);
                return 0;
            }
    return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: signed by unknown key %s",
                      self->source, name, fpr);
}

//  Verify block with gpg and check every signature; *plain_out gets gpg's
//  plaintext (plain_out NULL: gpg writes none). Caller holds the mutex.
static int
s_verify_block(en_ssverify_t *self, const char *name, const char *block, size_t block_len,
               gpgme_data_t *plain_out, char *signer, en_err_t *err)
{
    gpgme_data_t sigdata = NULL, plain = NULL;
    int rc = -1;
    gpgme_error_t ge = gpgme_data_new_from_mem(&sigdata, block, block_len, 0);
    if (!ge)
        ge = gpgme_data_new(&plain);
    if (ge) {
        en_err_set(err, EN_INTERNAL, "source \"%s\": %s: %s", self->source, name,
                   gpgme_strerror(ge));
        goto cleanup;
    }
    ge = gpgme_op_verify(self->ctx, sigdata, NULL, plain_out ? plain : NULL);
    gpgme_verify_result_t result = gpgme_op_verify_result(self->ctx);
    if (ge || !result || !result->signatures) {
        en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: no valid signature%s%s", self->source,
                   name, ge ? ": " : "", ge ? gpgme_strerror(ge) : "");
        goto cleanup;
    }
    for (gpgme_signature_t sig = result->signatures; sig; sig = sig->next)
        if (s_check_signature(self, name, sig, signer, err) < 0)
            goto cleanup;
    if (plain_out) {
        *plain_out = plain;
        plain = NULL;
    }
    rc = 0;
cleanup:
    gpgme_data_release(sigdata);
    gpgme_data_release(plain);
    return rc;
}

int
en_ssverify_verify(en_ssverify_t *self, const char *name, const char *buf, size_t len, char **plain,
                   size_t *plain_len, char *signer, en_err_t *err)
{
    *plain = NULL;
    *plain_len = 0;
    const char *block, *why;
    size_t block_len;
    if (s_find_block(buf, len, &block, &block_len, &why) < 0)
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: %s", self->source, name, why);
    gpgme_data_t data = NULL;
    pthread_mutex_lock(&self->mutex);
    int rc = s_verify_block(self, name, block, block_len, &data, signer, err);
    pthread_mutex_unlock(&self->mutex);
    if (rc < 0)
        return -1;
    size_t n = 0;
    char *mem = gpgme_data_release_and_get_mem(data, &n);
    char *out = malloc(n + 1);
    if (!out) {
        gpgme_free(mem);
        return en_err_set(err, EN_INTERNAL, "out of memory");
    }
    if (n)
        memcpy(out, mem, n);
    out[n] = '\0';
    gpgme_free(mem);
    *plain = out;
    *plain_len = n;
    return 0;
}

//  The verifying half of en_ssverify_verify_with, on its own thread.
typedef struct {
    en_ssverify_t *self;
    const char *name;
    const char *block;
    size_t block_len;
    char signer[S_FPR_LEN + 1];
    int rc;
    en_err_t err;
} s_job_t;

static void *
s_verify_job(void *arg)
{
    s_job_t *job = arg;
    pthread_mutex_lock(&job->self->mutex);
    job->rc = s_verify_block(job->self, job->name, job->block, job->block_len, NULL, job->signer,
                             &job->err);
    pthread_mutex_unlock(&job->self->mutex);
    return NULL;
}

int
en_ssverify_verify_with(en_ssverify_t *self, const char *name, const char *buf, size_t len,
                        en_ssverify_consume_fn *consume, void *arg, char *signer, en_err_t *err)
{
    const char *block, *why;
    size_t block_len;
    if (s_find_block(buf, len, &block, &block_len, &why) < 0)
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: %s", self->source, name, why);
    //  the text is cut from the very block gpg checks
    char *text = NULL;
    size_t text_len = 0;
    en_err_t cut;
    if (en_ss_clearsign_body(block, block_len, &text, &text_len, &cut) < 0)
        return en_err_set(err, EN_NOT_VALID, "source \"%s\": %s: %s", self->source, name,
                          cut.message);
    s_job_t job = {.self = self, .name = name, .block = block, .block_len = block_len, .rc = -1};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, s_verify_job, &job) == 0;
    if (!threaded)
        s_verify_job(&job); // no thread to spare: one after the other
    en_err_t consumed;
    en_err_clear(&consumed);
    int crc = consume(text, text_len, arg, &consumed);
    if (threaded)
        pthread_join(thread, NULL);
    free(text);
    //  the signature's verdict first: what consume made of unverified
    //  text is the caller's to throw away
    if (job.rc < 0) {
        *err = job.err;
        return -1;
    }
    if (crc < 0) {
        *err = consumed;
        return -1;
    }
    if (signer)
        memcpy(signer, job.signer, S_FPR_LEN + 1);
    return 0;
}

// ---------------------------------------------------------------------------
//  Signer

struct en_sssigner {
    char home[4096];
    char *passphrase;
    gpgme_ctx_t ctx;
    bool agent;
    char fpr[S_FPR_LEN + 1];
};

static const char S_SIGN_CONF[] = "no-auto-key-retrieve\n"
                                  "no-auto-key-locate\n"
                                  "trust-model always\n"
                                  "personal-digest-preferences SHA512\n"
                                  "digest-algo SHA512\n"
                                  "no-greeting\n";

static gpgme_error_t
s_passphrase_cb(void *arg, const char *hint, const char *info, int prev_bad, int fd)
{
    (void)hint;
    (void)info;
    en_sssigner_t *self = arg;
    if (prev_bad)
        return gpgme_error(GPG_ERR_BAD_PASSPHRASE);
    const char *p = self->passphrase ? self->passphrase : "";
    if (gpgme_io_writen(fd, p, strlen(p)) < 0 || gpgme_io_writen(fd, "\n", 1) < 0)
        return gpgme_error_from_syserror();
    return 0;
}

//  The first secret key that can sign, as the context's only signer.
static int
s_pick_signer(en_sssigner_t *self, en_err_t *err)
{
    gpgme_key_t key = NULL, found = NULL;
    gpgme_error_t ge = gpgme_op_keylist_start(self->ctx, NULL, 1);
    while (!ge && !found && !(ge = gpgme_op_keylist_next(self->ctx, &key))) {
        if (key->can_sign && !key->revoked && !key->expired && key->subkeys)
            found = key;
        else
            gpgme_key_unref(key);
    }
    gpgme_op_keylist_end(self->ctx);
    if (!found)
        return en_err_set(err, EN_NOT_VALID, "secret key: no usable signing key imported");
    snprintf(self->fpr, sizeof self->fpr, "%s", found->subkeys->fpr);
    gpgme_signers_clear(self->ctx);
    ge = gpgme_signers_add(self->ctx, found);
    gpgme_key_unref(found);
    if (ge)
        return en_err_set(err, EN_INTERNAL, "cannot use signing key: %s", gpgme_strerror(ge));
    return 0;
}

en_sssigner_t *
en_sssigner_new(const char *secret_key_armored, const char *passphrase, en_err_t *err)
{
    en_sssigner_t *self = calloc(1, sizeof *self);
    if (!self) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        return NULL;
    }
    gpgme_data_t keys = NULL;
    self->passphrase = strdup(passphrase ? passphrase : "");
    self->ctx = s_home_new("en-sssign", S_SIGN_CONF, self->home, sizeof self->home, err);
    if (!self->passphrase || !self->ctx)
        goto fail;
    self->agent = true; //  importing a secret key starts gpg-agent
    char path[4200];
    snprintf(path, sizeof path, "%s/gpg-agent.conf", self->home);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("allow-loopback-pinentry\n", f);
        fclose(f);
    }
    gpgme_set_pinentry_mode(self->ctx, GPGME_PINENTRY_MODE_LOOPBACK);
    gpgme_set_passphrase_cb(self->ctx, s_passphrase_cb, self);
    const char *k = secret_key_armored ? secret_key_armored : "";
    gpgme_error_t ge = gpgme_data_new_from_mem(&keys, k, strlen(k), 0);
    if (!ge)
        ge = gpgme_op_import(self->ctx, keys);
    gpgme_import_result_t ir = ge ? NULL : gpgme_op_import_result(self->ctx);
    if (ge || !ir || ir->secret_read == 0) {
        en_err_set(err, EN_NOT_VALID, "secret key: cannot import: %s",
                   ge ? gpgme_strerror(ge) : "no secret key in the data");
        goto fail;
    }
    if (s_pick_signer(self, err) < 0)
        goto fail;
    gpgme_data_release(keys);
    return self;
fail:
    gpgme_data_release(keys);
    en_sssigner_destroy(&self);
    return NULL;
}

void
en_sssigner_destroy(en_sssigner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    en_sssigner_t *self = *self_p;
    if (self->ctx)
        gpgme_release(self->ctx);
    if (self->agent && self->home[0]) {
        s_gpgconf(self->home, "--kill", "gpg-agent");
        s_gpgconf(self->home, "--remove-socketdir", NULL);
    }
    s_home_remove(self->home);
    if (self->passphrase) {
        memset(self->passphrase, 0, strlen(self->passphrase));
        free(self->passphrase);
    }
    free(self);
    *self_p = NULL;
}

const char *
en_sssigner_fingerprint(en_sssigner_t *self)
{
    return self->fpr;
}

int
en_sssigner_clearsign(en_sssigner_t *self, const char *buf, size_t len, char **out, size_t *out_len,
                      en_err_t *err)
{
    *out = NULL;
    *out_len = 0;
    gpgme_data_t in = NULL, sig = NULL;
    int rc = -1;
    gpgme_error_t ge = gpgme_data_new_from_mem(&in, buf, len, 0);
    if (!ge)
        ge = gpgme_data_new(&sig);
    if (!ge)
        ge = gpgme_op_sign(self->ctx, in, sig, GPGME_SIG_MODE_CLEAR);
    gpgme_sign_result_t sr = ge ? NULL : gpgme_op_sign_result(self->ctx);
    if (ge || !sr || sr->invalid_signers || !sr->signatures) {
        en_err_set(err, EN_NOT_VALID, "cannot clear-sign with key %s: %s", self->fpr,
                   ge ? gpgme_strerror(ge) : "no signature made");
        goto cleanup;
    }
    size_t n = 0;
    char *mem = gpgme_data_release_and_get_mem(sig, &n);
    sig = NULL;
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, mem, n);
        copy[n] = '\0';
    }
    gpgme_free(mem);
    if (!copy) {
        en_err_set(err, EN_INTERNAL, "out of memory");
        goto cleanup;
    }
    *out = copy;
    *out_len = n;
    rc = 0;
cleanup:
    gpgme_data_release(in);
    gpgme_data_release(sig);
    return rc;
}
