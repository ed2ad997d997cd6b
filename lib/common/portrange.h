/*  portrange.h — network.PortRange and network.IngressRule, Juju 2.3
    semantics (docs/juju-environs.md §4.2, §4.3).

    A port range is from..to on a protocol: "tcp" and "udp" with ports
    1..65535, or "icmp" with from = to = -1. An ingress rule is a range
    plus source CIDRs; none given means 0.0.0.0/0, which is how a rule is
    read back (statement 78) and which String() does not print.

    Nothing here merges or splits ranges: a rule is kept exactly as given
    (statement 73). */
#ifndef EN_PORTRANGE_H
#define EN_PORTRANGE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define EN_PROTOCOL_MAX 8 // "tcp", "udp", "icmp" and a NUL, with room

typedef struct {
    int from;
    int to;
    char protocol[EN_PROTOCOL_MAX]; // lower case
} en_port_range_t;

typedef struct {
    en_port_range_t range;
    char **cidrs; // malloc'd, each a canonical CIDR ("10.0.0.0/8"); NULL when none
    size_t cidr_count;
} en_ingress_rule_t;

//  Validate(): NOT_VALID `invalid protocol "<p>", expected "tcp", "udp",
//  or "icmp"`, `invalid port range <from>-<to>/<proto>`, `protocol "icmp"
//  doesn't support any ports; got "<from>"`.
int en_port_range_validate(const en_port_range_t *r, en_err_t *err);
//  ParsePortRange: "<port>[-<port>][/<proto>]" (default tcp) or "icmp";
//  NOT_VALID `invalid port range "<s>"`, `invalid port "<x>": ...`, then
//  the validation errors. *out is filled even when it does not validate.
int en_port_range_parse(const char *text, en_port_range_t *out, en_err_t *err);
//  String(): "80/tcp", "80-100/tcp", "icmp".
void en_port_range_format(const en_port_range_t *r, char *buf, size_t size);
//  Protocol (string order: icmp < tcp < udp), then from, then to.
int en_port_range_cmp(const en_port_range_t *a, const en_port_range_t *b);
//  ConflictsWith: same protocol and the ranges overlap (inclusive).
bool en_port_range_conflicts(const en_port_range_t *a, const en_port_range_t *b);

//  NewIngressRule: the range validated, each CIDR parsed (NOT_VALID
//  `invalid CIDR address: <c>`) and kept in canonical form; duplicate
//  CIDRs kept once, in the order given. *out is cleared first.
int en_ingress_rule_init(en_ingress_rule_t *out, const en_port_range_t *range,
                         const char *const *cidrs, size_t cidr_count, en_err_t *err);
void en_ingress_rule_clear(en_ingress_rule_t *r);
//  A deep copy.
int en_ingress_rule_copy(en_ingress_rule_t *out, const en_ingress_rule_t *r, en_err_t *err);
//  String(): "<range>" when there are no CIDRs or they are exactly
//  0.0.0.0/0, else "<range> from <cidr1>,<cidr2>".
void en_ingress_rule_format(const en_ingress_rule_t *r, char *buf, size_t size);
//  Range order, then the joined CIDR text.
int en_ingress_rule_cmp(const en_ingress_rule_t *a, const en_ingress_rule_t *b);
void en_ingress_rules_sort(en_ingress_rule_t *rules, size_t n);
void en_ingress_rules_free(en_ingress_rule_t **rules_p, size_t n);

#endif
