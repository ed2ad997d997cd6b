/*  portrange.c — network.PortRange and network.IngressRule (Juju 2.3); see
    portrange.h and docs/juju-environs.md §4.2, §4.3.

    Validation is one routine over (from, to, protocol text), so that parse
    can report a protocol too long to fit the struct with its full text,
    exactly as Validate() would have. CIDRs are parsed with inet_pton, which
    like Go's net.ParseCIDR refuses octets with leading zeros, and are kept
    as the network's canonical text: the address with the host bits cleared,
    printed by inet_ntop (RFC 5952 for IPv6), then the prefix length. So
    "10.0.0.1/8" is kept as "10.0.0.0/8", as Go's IPNet.String() prints it,
    and two spellings of one network are one CIDR. */
#include "common/portrange.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Room for the longest CIDR text: a full IPv6 address and "/128".
#define S_CIDR_MAX 64

static void
s_lower(char *dst, size_t size, const char *src, size_t len)
{
    size_t i = 0;
    for (; i < len && i + 1 < size; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    if (size)
        dst[i] = '\0';
}

//  Validate() on (from, to, protocol); proto is already lower case.
static int
s_validate(int from, int to, const char *proto, en_err_t *err)
{
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "icmp") != 0)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid protocol \"%s\", expected \"tcp\", \"udp\", or \"icmp\"", proto);
    if (strcmp(proto, "icmp") == 0) {
        if (from == -1 && to == -1)
            return 0;
        return en_err_set(err, EN_NOT_VALID,
                          "protocol \"icmp\" doesn't support any ports; got \"%d\"", from);
    }
    if (from > to || from < 1 || from > 65535 || to < 1 || to > 65535)
        return en_err_set(err, EN_NOT_VALID, "invalid port range %d-%d/%s", from, to, proto);
    return 0;
}

int
en_port_range_validate(const en_port_range_t *r, en_err_t *err)
{
    char proto[EN_PROTOCOL_MAX];
    s_lower(proto, sizeof proto, r->protocol, strnlen(r->protocol, sizeof r->protocol));
    return s_validate(r->from, r->to, proto, err);
}

//  Go's strconv.Atoi on [text, text + len), with its error wording.
static int
s_parse_port(const char *text, size_t len, int *port, en_err_t *err)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), text);
    const char *digits = buf + (buf[0] == '+' || buf[0] == '-');
    bool syntax = *digits != '\0' && len < sizeof buf - 1;
    for (const char *c = digits; syntax && *c; c++)
        syntax = isdigit((unsigned char)*c) != 0;
    if (!syntax)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid port \"%.*s\": strconv.Atoi: parsing \"%.*s\": invalid syntax",
                          (int)len, text, (int)len, text);
    errno = 0;
    long long value = strtoll(buf, NULL, 10);
    if (errno == ERANGE || value < INT_MIN || value > INT_MAX)
        return en_err_set(err, EN_NOT_VALID,
                          "invalid port \"%s\": strconv.Atoi: parsing \"%s\": value out of range",
                          buf, buf);
    *port = (int)value;
    return 0;
}

int
en_port_range_parse(const char *text, en_port_range_t *out, en_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!text)
        text = "";
    //  "<ports>[/<protocol>]": the protocol is everything after the first '/'.
    const char *slash = strchr(text, '/');
    size_t ports_len = slash ? (size_t)(slash - text) : strlen(text);
    const char *proto_text = slash ? slash + 1 : "tcp";

    const char *dash = memchr(text, '-', ports_len);
    if (dash && memchr(dash + 1, '-', ports_len - (size_t)(dash + 1 - text)))
        return en_err_set(err, EN_NOT_VALID, "invalid port range \"%.*s\"", (int)ports_len, text);
    int from, to;
    if (!dash && ports_len == 4 && strncmp(text, "icmp", 4) == 0) {
        from = to = -1;
        proto_text = "icmp";
    } else if (!dash) {
        if (s_parse_port(text, ports_len, &from, err))
            return -1;
        to = from;
    } else if (s_parse_port(text, (size_t)(dash - text), &from, err) ||
               s_parse_port(dash + 1, ports_len - (size_t)(dash + 1 - text), &to, err))
        return -1;

    //  Validate the whole protocol text, which may not fit the struct.
    size_t proto_len = strlen(proto_text);
    char *proto = malloc(proto_len + 1);
    if (!proto)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    s_lower(proto, proto_len + 1, proto_text, proto_len);
    out->from = from;
    out->to = to;
    snprintf(out->protocol, sizeof out->protocol, "%s", proto);
    int rc = s_validate(from, to, proto, err);
    free(proto);
    return rc;
}

void
en_port_range_format(const en_port_range_t *r, char *buf, size_t size)
{
    char proto[EN_PROTOCOL_MAX];
    s_lower(proto, sizeof proto, r->protocol, strnlen(r->protocol, sizeof r->protocol));
    if (strcmp(proto, "icmp") == 0)
        snprintf(buf, size, "icmp");
    else if (r->from == r->to)
        snprintf(buf, size, "%d/%s", r->from, proto);
    else
        snprintf(buf, size, "%d-%d/%s", r->from, r->to, proto);
}

int
en_port_range_cmp(const en_port_range_t *a, const en_port_range_t *b)
{
    int c = strncmp(a->protocol, b->protocol, sizeof a->protocol);
    if (c)
        return c < 0 ? -1 : 1;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    if (a->to != b->to)
        return a->to < b->to ? -1 : 1;
    return 0;
}

bool
en_port_range_conflicts(const en_port_range_t *a, const en_port_range_t *b)
{
    return strncmp(a->protocol, b->protocol, sizeof a->protocol) == 0 && a->to >= b->from &&
           b->to >= a->from;
}

//  net.ParseCIDR then IPNet.String(): "<network>/<bits>" into out.
static int
s_cidr_canonical(const char *text, char out[S_CIDR_MAX], en_err_t *err)
{
    const char *slash = text ? strchr(text, '/') : NULL;
    char addr[INET6_ADDRSTRLEN];
    size_t addr_len = slash ? (size_t)(slash - text) : 0;
    const char *bits = slash ? slash + 1 : "";
    size_t bits_len = strlen(bits);
    bool ok = slash && addr_len > 0 && addr_len < sizeof addr && bits_len > 0 && bits_len <= 3 &&
              strspn(bits, "0123456789") == bits_len;
    int family = ok && memchr(text, ':', addr_len) ? AF_INET6 : AF_INET;
    int prefix = ok ? atoi(bits) : -1;
    unsigned char net[16];
    if (ok) {
        memcpy(addr, text, addr_len);
        addr[addr_len] = '\0';
        ok = prefix <= (family == AF_INET6 ? 128 : 32) && inet_pton(family, addr, net) == 1;
    }
    if (!ok)
        return en_err_set(err, EN_NOT_VALID, "invalid CIDR address: %s", text ? text : "");
    size_t bytes = family == AF_INET6 ? 16 : 4;
    for (size_t i = 0; i < bytes; i++) {
        int keep = prefix - (int)i * 8; // bits of this byte inside the prefix
        if (keep <= 0)
            net[i] = 0;
        else if (keep < 8)
            net[i] &= (unsigned char)(0xff << (8 - keep));
    }
    inet_ntop(family, net, addr, sizeof addr);
    snprintf(out, S_CIDR_MAX, "%s/%d", addr, prefix & 0xff);
    return 0;
}

int
en_ingress_rule_init(en_ingress_rule_t *out, const en_port_range_t *range, const char *const *cidrs,
                     size_t cidr_count, en_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (en_port_range_validate(range, err))
        return -1;
    out->range = *range;
    s_lower(out->range.protocol, sizeof out->range.protocol, range->protocol,
            strnlen(range->protocol, sizeof range->protocol));
    if (cidr_count == 0)
        return 0;
    if (!cidrs)
        return en_err_set(err, EN_NOT_VALID, "CIDRs not specified");
    out->cidrs = calloc(cidr_count, sizeof(char *));
    if (!out->cidrs)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; i < cidr_count; i++) {
        char canonical[S_CIDR_MAX];
        if (s_cidr_canonical(cidrs[i], canonical, err))
            goto failed;
        bool seen = false;
        for (size_t j = 0; j < out->cidr_count && !seen; j++)
            seen = strcmp(out->cidrs[j], canonical) == 0;
        if (seen)
            continue;
        if (!(out->cidrs[out->cidr_count] = strdup(canonical))) {
            en_err_set(err, EN_INTERNAL, "out of memory");
            goto failed;
        }
        out->cidr_count++;
    }
    return 0;
failed:
    en_ingress_rule_clear(out);
    return -1;
}

void
en_ingress_rule_clear(en_ingress_rule_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->cidr_count; i++)
        free(r->cidrs[i]);
    free(r->cidrs);
    memset(r, 0, sizeof *r);
}

int
en_ingress_rule_copy(en_ingress_rule_t *out, const en_ingress_rule_t *r, en_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->range = r->range;
    if (r->cidr_count == 0)
        return 0;
    out->cidrs = calloc(r->cidr_count, sizeof(char *));
    if (!out->cidrs)
        return en_err_set(err, EN_INTERNAL, "out of memory");
    for (size_t i = 0; i < r->cidr_count; i++) {
        if (!(out->cidrs[i] = strdup(r->cidrs[i]))) {
            en_ingress_rule_clear(out);
            return en_err_set(err, EN_INTERNAL, "out of memory");
        }
        out->cidr_count++;
    }
    return 0;
}

void
en_ingress_rule_format(const en_ingress_rule_t *r, char *buf, size_t size)
{
    en_port_range_format(&r->range, buf, size);
    if (r->cidr_count == 0 || (r->cidr_count == 1 && strcmp(r->cidrs[0], "0.0.0.0/0") == 0))
        return;
    size_t used = strlen(buf);
    for (size_t i = 0; i < r->cidr_count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? "," : " from ", r->cidrs[i]);
        used += n > 0 ? (size_t)n : 0;
    }
}

//  Reads the CIDRs as one joined string, a character at a time, so rules
//  compare without building the joined text.
typedef struct {
    const en_ingress_rule_t *rule;
    size_t cidr;
    size_t offset;
} s_joined_t;

//  The next character, or -1 at the end.
static int
s_joined_next(s_joined_t *j)
{
    while (j->cidr < j->rule->cidr_count) {
        const char *s = j->rule->cidrs[j->cidr];
        if (s[j->offset])
            return (unsigned char)s[j->offset++];
        j->cidr++;
        j->offset = 0;
        if (j->cidr < j->rule->cidr_count)
            return ',';
    }
    return -1;
}

int
en_ingress_rule_cmp(const en_ingress_rule_t *a, const en_ingress_rule_t *b)
{
    int c = en_port_range_cmp(&a->range, &b->range);
    if (c)
        return c;
    s_joined_t ja = {a, 0, 0}, jb = {b, 0, 0};
    for (;;) {
        int ca = s_joined_next(&ja), cb = s_joined_next(&jb);
        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca < 0)
            return 0;
    }
}

static int
s_rule_qsort_cmp(const void *a, const void *b)
{
    return en_ingress_rule_cmp(a, b);
}

void
en_ingress_rules_sort(en_ingress_rule_t *rules, size_t n)
{
    if (n > 1)
        qsort(rules, n, sizeof *rules, s_rule_qsort_cmp);
}

void
en_ingress_rules_free(en_ingress_rule_t **rules_p, size_t n)
{
    if (!rules_p || !*rules_p)
        return;
    for (size_t i = 0; i < n; i++)
        en_ingress_rule_clear(&(*rules_p)[i]);
    free(*rules_p);
    *rules_p = NULL;
}
