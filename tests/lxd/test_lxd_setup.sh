#!/usr/bin/env bash
# lxd.image — the image scripts/lxd-setup.sh imports works:
#   - alias environs/busybox exists (and is the busybox image), and so does
#     environs/busybox-plain (the same without the nonce template),
#   - a container from it on profile entest gets a DHCP address in
#     10.207.0.0/24 within 30 s, with the default route and DNS of the lease,
#   - /var/lib/juju/nonce.txt holds exactly the instance's
#     user.juju-machine-nonce (the image's template, rendered at the first
#     start), while in a container of environs/busybox-plain /var/lib/juju
#     exists and is empty,
#   - busybox httpd started through the exec API keeps running after exec
#     returns and serves /www/index.html to the host,
#   - port 9090, where nothing listens, refuses the connection,
#   - the container is gone at the end (trap, on success and on failure).
# Synchronisation is by polling with deadlines, never fixed sleeps.
set -euo pipefail

src=${EN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../../scripts/lxd-lib.sh
source "$src/scripts/lxd-lib.sh"
ALIAS=environs/busybox
ALIAS_PLAIN=environs/busybox-plain
NONCE="machine-0:$$-$RANDOM"
PROFILE=entest
HOST=10.207.0.1
ADDR_RE='10\.207\.0\.[0-9]{1,3}'
name=entest-img-$$-$RANDOM
plain=entest-plain-$$-$RANDOM

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

cleanup() {
  local rc=$?
  if ((rc)) && lxc query "/1.0/instances/$name" >/dev/null 2>&1; then
    echo "--- lxc info $name --show-log" >&2
    lxc info "$name" --show-log >&2 2>&1 || true
  fi
  lxc delete --force "$name" "$plain" >/dev/null 2>&1 || true
  if lxc query "/1.0/instances/$plain" >/dev/null 2>&1; then
    echo "FAIL: container $plain still exists after delete" >&2
    rc=1
  fi
  if lxc query "/1.0/instances/$name" >/dev/null 2>&1; then
    echo "FAIL: container $name still exists after delete" >&2
    rc=1
  elif ((rc == 0)); then
    echo "ok: container $name deleted"
  fi
  exit "$rc"
}

command -v lxc >/dev/null || fail "lxc not installed (bash scripts/deps.sh)"
lxc query "/1.0/images/aliases/$ALIAS" >/dev/null 2>&1 \
  || fail "image alias $ALIAS missing (run bash scripts/lxd-setup.sh)"
[[ $(lxc image get-property "$ALIAS" os) == busybox ]] || fail "$ALIAS is not the busybox image"
[[ -n $(lxc image get-property "$ALIAS" environs.build) ]] || fail "$ALIAS has no environs.build property"
[[ $(lxc image get-property "$ALIAS" environs.nonce) == /var/lib/juju/nonce.txt ]] \
  || fail "$ALIAS does not declare its nonce template (environs.nonce)"
lxc query "/1.0/images/aliases/$ALIAS_PLAIN" >/dev/null 2>&1 \
  || fail "image alias $ALIAS_PLAIN missing (run bash scripts/lxd-setup.sh)"
[[ -z $(lxc image get-property "$ALIAS_PLAIN" environs.nonce 2>/dev/null || true) ]] \
  || fail "$ALIAS_PLAIN declares a nonce template"
ok "aliases $ALIAS and $ALIAS_PLAIN exist"

trap cleanup EXIT
t0=$(date +%s%N)
lxc launch "$ALIAS" "$name" -p "$PROFILE" -c "user.juju-machine-nonce=$NONCE" >/dev/null \
  || fail "lxc launch $ALIAS $name -p $PROFILE"

addr=$(lxd_wait_address "$name" "$ADDR_RE" 30) \
  || fail "$name got no address in 10.207.0.0/24 within 30 s"
[[ $addr != "$HOST" ]] || fail "$name got the host's address $HOST"
ok "$name got $addr by DHCP in $(ms_since "$t0") ms"

# The lease applied in full by /etc/udhcpc.script.
lxc exec "$name" -- ip -4 route show default | grep -q "default via $HOST dev eth0" \
  || fail "no default route via $HOST in $name"
lxc exec "$name" -- cat /etc/resolv.conf | grep -qx "nameserver $HOST" \
  || fail "/etc/resolv.conf in $name does not name $HOST"
ok "default route and resolv.conf from the lease"

[[ $(lxc exec "$name" -- cat /var/lib/juju/nonce.txt) == "$NONCE" ]] \
  || fail "/var/lib/juju/nonce.txt in $name does not hold the nonce $NONCE"
ok "the template wrote the nonce to /var/lib/juju/nonce.txt"
lxc launch "$ALIAS_PLAIN" "$plain" -p "$PROFILE" -c "user.juju-machine-nonce=$NONCE" >/dev/null \
  || fail "lxc launch $ALIAS_PLAIN $plain -p $PROFILE"
[[ $(lxc exec "$plain" -- sh -c 'test -d /var/lib/juju && ls -A /var/lib/juju | wc -l') == 0 ]] \
  || fail "/var/lib/juju is missing or not empty in $plain"
lxc delete --force "$plain" >/dev/null || fail "lxc delete --force $plain"
ok "/var/lib/juju is an empty directory in $ALIAS_PLAIN"

# httpd without -f daemonizes: exec returns, the server stays.
lxc exec "$name" -- /bin/httpd -p 8080 -h /www || fail "exec httpd in $name"
lxc exec "$name" -- pidof httpd >/dev/null || fail "httpd is not running after exec returned"
want=$(cat "$src/scripts/lxd-image/index.html")
page=
deadline=$((SECONDS + 10))
until page=$(curl --noproxy '*' --max-time 5 -fsS "http://$addr:8080/" 2>/dev/null); do
  ((SECONDS < deadline)) || fail "http://$addr:8080/ did not answer within 10 s"
  sleep 0.1
done
[[ $page == "$want" ]] || fail "http://$addr:8080/ served something else: $page"
ok "httpd started via exec serves /www/index.html at http://$addr:8080/"

# Nothing listens on 9090: curl must fail with 7 (connection refused), not
# time out (28) or get an answer.
rc=0
curl --noproxy '*' --max-time 5 -sS -o /dev/null "http://$addr:9090/" 2>/dev/null || rc=$?
[[ $rc == 7 ]] || fail "http://$addr:9090/ should refuse (curl exit 7), got curl exit $rc"
ok "port 9090 refuses"

lxc delete --force "$name" >/dev/null || fail "lxc delete --force $name"
ok "total $(ms_since "$t0") ms"
