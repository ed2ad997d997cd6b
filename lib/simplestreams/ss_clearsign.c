/*  ss_clearsign.c — the text of an OpenPGP clear-signed message (RFC 4880
    §7) WITHOUT verifying it. Services never use it alone: ssverify's
    en_ssverify_verify_with cuts the text with it from the very block gpg
    checks, and reports the signature's verdict before anything made of
    the text may be used; tests and offline tools use it directly. Follows Go's clearsign.Decode: the block starts
    at offset 0 or after a newline, armor headers end at an empty line,
    "- " prefixes are removed, the line break before the signature is not
    part of the text, anything after the signature is ignored. */
#include "simplestreams/ss.h"

#include <stdlib.h>
#include <string.h>

static const char s_begin[] = "-----BEGIN PGP SIGNED MESSAGE-----";
static const char s_sig[] = "-----BEGIN PGP SIGNATURE-----";

//  Next line [p, eol) and the start of the one after it.
static const char *
s_line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *eol = nl ? nl : end;
    *next = nl ? nl + 1 : end;
    if (eol > p && eol[-1] == '\r')
        eol--;
    return eol;
}

static bool
s_line_is(const char *p, const char *eol, const char *marker)
{
    size_t n = strlen(marker);
    // trailing blanks after a marker are allowed
    if ((size_t)(eol - p) < n || memcmp(p, marker, n) != 0)
        return false;
    for (p += n; p < eol; p++)
        if (*p != ' ' && *p != '\t')
            return false;
    return true;
}

int
en_ss_clearsign_body(const char *buf, size_t len, char **out, size_t *out_len, en_err_t *err)
{
    *out = NULL;
    *out_len = 0;
    const char *end = buf + len, *p = buf, *next;
    // find the BEGIN line at the start of a line
    for (;;) {
        if (p >= end)
            return en_err_set(err, EN_NOT_VALID, "no PGP signature embedded in plain text data");
        const char *eol = s_line_end(p, end, &next);
        if (s_line_is(p, eol, s_begin))
            break;
        p = next;
    }
    p = next;
    // armor headers ("Hash: SHA512") up to an empty line
    for (;;) {
        if (p >= end)
            return en_err_set(err, EN_NOT_VALID, "clear-signed message has no body");
        const char *eol = s_line_end(p, end, &next);
        if (eol == p)
            break;
        if (!memchr(p, ':', (size_t)(eol - p)))
            return en_err_set(err, EN_NOT_VALID, "bad armor header in clear-signed message");
        p = next;
    }
    p = next;
    char *text = malloc(len + 1);
    if (!text)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    size_t n = 0;
    bool first = true;
    for (;;) {
        if (p >= end) {
            free(text);
            return en_err_set(err, EN_NOT_VALID, "clear-signed message has no signature");
        }
        const char *eol = s_line_end(p, end, &next);
        if (s_line_is(p, eol, s_sig))
            break;
        if (eol - p >= 2 && p[0] == '-' && p[1] == ' ')
            p += 2;
        if (!first)
            text[n++] = '\n';
        memcpy(text + n, p, (size_t)(eol - p));
        n += (size_t)(eol - p);
        first = false;
        p = next;
    }
    text[n++] = '\n';
    text[n] = '\0';
    *out = text;
    *out_len = n;
    return 0;
}
