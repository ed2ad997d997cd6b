/*  ssverify.h — OpenPGP clear-signature checks for .sjson documents
    (docs/simplestreams.md §7, §8.2, §15.2), and a signer for tests and
    offline tools.

    A verifier belongs to one data source. It imports the source's armored
    public key(s) — and nothing else — into its own GnuPG home directory
    (mkdtemp under $TMPDIR, removed by _destroy; never ~/.gnupg, never a key
    server) and accepts a document only when every signature on it is GOOD
    and was made by a key of that keyring (a primary key or one of its
    subkeys, optionally restricted to listed fingerprints). There is no
    trust model, as in Juju: any key of the source's keyring is accepted.
    Expired or revoked keys and expired signatures are rejected.

    What is returned is the signed text as gpg hands it over (dash-
    unescaped): bytes before "-----BEGIN PGP SIGNED MESSAGE-----" and after
    "-----END PGP SIGNATURE-----" are never passed to gpg nor returned.

    Every failure is NOT_VALID and names the source and the file:
      source "cloud images": streams/v1/index.sjson: not a clear-signed document
      source "cloud images": streams/v1/index.sjson: bad signature
      source "cloud images": streams/v1/index.sjson: signed by unknown key D279259D4169F584...
    (gpg missing at run time is NOT_SUPPORTED from _new.)

    Threads: a verifier serialises its own calls with a mutex, so it may be
    shared, but each verification runs one gpg process; for parallel
    checks give each thread its own verifier (creating one costs one key
    import, a few ms). Different verifiers never share state. */
#ifndef EN_SSVERIFY_H
#define EN_SSVERIFY_H

#include <stddef.h>

#include "common/err.h"

typedef struct en_ssverify en_ssverify_t;

//  A verifier for `source` (its description, quoted in every message)
//  trusting the keys in keyring_armored (one or more ASCII-armored public
//  key blocks, concatenated). With fingerprint_count > 0 only the listed
//  keys (40 hex digits, spaces and case ignored; a primary or a subkey
//  fingerprint) are accepted, and each must be in the keyring. NULL with
//  err: NOT_VALID when the keyring holds no key or misses a listed one,
//  NOT_SUPPORTED when the gpg engine is missing, INTERNAL otherwise.
en_ssverify_t *en_ssverify_new(const char *source, const char *keyring_armored,
                               const char *const *fingerprints, size_t fingerprint_count,
                               en_err_t *err);
//  Remove the home directory and free; NULLs *self_p; idempotent.
void en_ssverify_destroy(en_ssverify_t **self_p);

//  Verify the clear-signed document buf[0..len) called `name` (for
//  messages). On success *plain is the malloc'd signed text
//  (NUL-terminated, *plain_len bytes without the NUL) and, when signer is
//  not NULL, it receives the primary-key fingerprint of the signer
//  (41 bytes: 40 hex digits and NUL).
int en_ssverify_verify(en_ssverify_t *self, const char *name, const char *buf, size_t len,
                       char **plain, size_t *plain_len, char *signer, en_err_t *err);

//  Verify while the signed text is used: the text is cut from the
//  clear-signed block here (en_ss_clearsign_body: armor headers skipped,
//  dash-escapes undone, the line break before the signature left out) and
//  handed to consume(text, len, arg, err) on the calling thread while gpg
//  checks the same block on another, so a document is parsed in the time
//  it takes to verify it rather than after. The signature's verdict comes
//  first: on a bad signature this returns that error whatever consume did,
//  and the caller must throw away what consume made of the text. Only
//  whitespace at the ends of lines can differ from gpg's own plaintext
//  (OpenPGP does not sign it), which no JSON string can hold. Same errors
//  as en_ssverify_verify, or consume's.
typedef int en_ssverify_consume_fn(const char *text, size_t len, void *arg, en_err_t *err);
int en_ssverify_verify_with(en_ssverify_t *self, const char *name, const char *buf, size_t len,
                            en_ssverify_consume_fn *consume, void *arg, char *signer,
                            en_err_t *err);

//  The fingerprints (primary keys) of the keys this verifier accepts, in
//  keyring order; borrowed.
size_t en_ssverify_keys(en_ssverify_t *self, const char *const **fingerprints);

// ---------------------------------------------------------------------------
//  Signing — tests and offline tools (`metadata generate-image --sign`)

typedef struct en_sssigner en_sssigner_t;

//  A signer holding the armored secret key (its first signing key is
//  used) in its own GnuPG home with its own gpg-agent; the passphrase is
//  given through loopback pinentry, never a terminal. NULL with err
//  (NOT_VALID when the key does not import or cannot sign).
en_sssigner_t *en_sssigner_new(const char *secret_key_armored, const char *passphrase,
                               en_err_t *err);
//  Stop the agent, remove the home directory, free. Idempotent.
void en_sssigner_destroy(en_sssigner_t **self_p);

//  Clear-sign buf[0..len) (SHA512, as cloud-images does). *out is the
//  malloc'd armored document (NUL-terminated, *out_len bytes).
int en_sssigner_clearsign(en_sssigner_t *self, const char *buf, size_t len, char **out,
                          size_t *out_len, en_err_t *err);
//  The signing key's primary fingerprint (40 hex digits); borrowed.
const char *en_sssigner_fingerprint(en_sssigner_t *self);

#endif
