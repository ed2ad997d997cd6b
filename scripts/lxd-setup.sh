#!/usr/bin/env bash
# Prepare the local LXD daemon for environs' lxd tests and benchmarks.
#
#   bash scripts/lxd-setup.sh [--check]
#
# Idempotent; run as root (Debian 12, no systemd needed). It makes sure that
#   - the LXD daemon runs (started detached when `lxc info` fails),
#   - storage pool `default` (dir) exists,
#   - managed bridge `entest0` (10.207.0.1/24, DHCP, no NAT, no IPv6) exists,
#   - profile `entest` (eth0 on entest0, root on pool default) exists,
#   - image aliases `environs/busybox` (whose template writes the machine
#     nonce file at the first start) and `environs/busybox-plain` (without)
#     point to busybox images built from /bin/busybox and scripts/lxd-image/
#     (rebuilt when their inputs change),
# and then, when anything changed or with --check, launches a throwaway
# container and fetches a page from busybox httpd in it. It prints only what
# it does; with nothing to do and no --check it prints nothing.
#
# Only the bridge it creates and containers it launches are ever contacted.
# (The lxd driver makes its own per-model bridges in 10.208.0.0/16.)
set -euo pipefail
umask 022   # the image's file modes, and so its fingerprint, must not vary

POOL=default
BRIDGE=entest0
BRIDGE_ADDR=10.207.0.1/24
ADDR_RE='10\.207\.0\.[0-9]{1,3}'
PROFILE=entest
ALIAS=environs/busybox
ALIAS_PLAIN=environs/busybox-plain
BUSYBOX=/bin/busybox
LXD_LOG=/var/log/lxd-environs.log
LOCK=/run/lock/environs-lxd-setup.lock
IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lxd-image
# shellcheck source=lxd-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lxd-lib.sh"

check=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "lxd-setup: unknown argument: $arg (usage: lxd-setup.sh [--check])" >&2; exit 2 ;;
  esac
done

say() { echo "lxd-setup: $*"; }
die() { echo "lxd-setup: FAILED: $*" >&2; exit 1; }
changed=0

# --- preconditions -----------------------------------------------------------
[[ $(id -u) == 0 ]] || die "must run as root (the LXD socket and /var/log need it)"
for c in lxc lxd curl flock tar gzip sha256sum setsid; do
  command -v "$c" >/dev/null || die "command '$c' not found; run: bash scripts/deps.sh"
done
[[ -x $BUSYBOX ]] || die "$BUSYBOX not found; run: bash scripts/deps.sh (busybox-static)"
! ldd "$BUSYBOX" >/dev/null 2>&1 \
  || die "$BUSYBOX is dynamically linked; install busybox-static (bash scripts/deps.sh)"
[[ -d $IMAGE_DIR ]] || die "image files not found in $IMAGE_DIR"

# One set-up at a time per machine (several worktrees share one daemon).
mkdir -p "$(dirname "$LOCK")"
exec 9>"$LOCK"
flock -w 600 9 || die "another lxd-setup.sh held $LOCK for 10 minutes"

# --- daemon ------------------------------------------------------------------
if ! timeout 30 lxc info >/dev/null 2>&1; then
  say "starting lxd (log $LXD_LOG)"
  # Detached: own session, no tie to this script's terminal, pipes or lock
  # (fd 9), so it survives the script (and a ctest that runs it).
  # The soft limit on open files is raised to the hard one (many containers).
  (
    ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
    exec setsid nohup lxd --group root --logfile "$LXD_LOG" </dev/null >>"$LXD_LOG.out" 2>&1 9>&-
  ) &
  if ! lxd waitready --timeout 120; then
    tail -n 20 "$LXD_LOG" "$LXD_LOG.out" >&2 2>/dev/null || true
    die "lxd did not become ready within 120 s (see $LXD_LOG)"
  fi
  timeout 30 lxc info >/dev/null 2>&1 || die "lxd is up but 'lxc info' fails"
  changed=1
fi

# --- storage pool --------------------------------------------------------------
if ! lxc storage show "$POOL" >/dev/null 2>&1; then
  say "creating storage pool $POOL (driver dir)"
  lxc storage create "$POOL" dir >/dev/null || die "cannot create storage pool $POOL"
  changed=1
fi

# --- test bridge ---------------------------------------------------------------
want_net=(ipv4.address="$BRIDGE_ADDR" ipv4.nat=false ipv6.address=none ipv4.dhcp=true)
if ! lxc network show "$BRIDGE" >/dev/null 2>&1; then
  say "creating bridge $BRIDGE (${want_net[*]})"
  lxc network create "$BRIDGE" --type=bridge "${want_net[@]}" >/dev/null \
    || die "cannot create bridge $BRIDGE"
  changed=1
else
  net=$(lxc network show "$BRIDGE")
  if ! grep -qx 'managed: true' <<<"$net" || ! grep -qx 'type: bridge' <<<"$net"; then
    die "network $BRIDGE exists but is not an LXD-managed bridge; remove it"
  fi
  for kv in "${want_net[@]}"; do
    k=${kv%%=*} v=${kv#*=}
    if [[ $(lxc network get "$BRIDGE" "$k") != "$v" ]]; then
      say "setting $BRIDGE $k=$v"
      lxc network set "$BRIDGE" "$k=$v" || die "cannot set $k on $BRIDGE"
      changed=1
    fi
  done
fi

# --- profile -------------------------------------------------------------------
if ! lxc profile show "$PROFILE" >/dev/null 2>&1; then
  say "creating profile $PROFILE"
  lxc profile create "$PROFILE" >/dev/null || die "cannot create profile $PROFILE"
  changed=1
fi
ensure_device() { # name type key=value...
  local dev=$1 type=$2; shift 2
  if ! lxc profile device show "$PROFILE" | grep -q "^$dev:"; then
    say "adding $type device $dev ($*) to profile $PROFILE"
    lxc profile device add "$PROFILE" "$dev" "$type" "$@" >/dev/null \
      || die "cannot add device $dev to profile $PROFILE"
    changed=1
    return
  fi
  local kv
  for kv in "$@"; do
    if [[ $(lxc profile device get "$PROFILE" "$dev" "${kv%%=*}") != "${kv#*=}" ]]; then
      say "setting $PROFILE device $dev $kv"
      lxc profile device set "$PROFILE" "$dev" "$kv" || die "cannot set $kv on $PROFILE/$dev"
      changed=1
    fi
  done
}
ensure_device eth0 nic network="$BRIDGE" name=eth0
ensure_device root disk path=/ pool="$POOL"

# --- image ---------------------------------------------------------------------
# Everything that decides the image's content goes into its build hash: the
# busybox binary, the architecture, the files in scripts/lxd-image/, the
# image variant and the code of the functions below.
build_rootfs() { # <rootfs dir>
  local r=$1 a
  install -d -m 0755 "$r"/{bin,dev,etc/init.d,proc,sys,run,mnt,usr,var/lib/juju,var/log,www}
  install -d -m 0700 "$r/root"
  install -d -m 1777 "$r/tmp"
  install -m 0755 "$BUSYBOX" "$r/bin/busybox"
  for a in $("$BUSYBOX" --list); do
    [[ $a == busybox ]] || ln -s busybox "$r/bin/$a"
  done
  [[ -e $r/bin/init ]] || ln -s busybox "$r/bin/init"
  ln -s bin "$r/sbin"             # /sbin/init -> /bin/init -> busybox
  ln -s ../bin "$r/usr/bin"
  ln -s ../bin "$r/usr/sbin"
  install -m 0644 "$IMAGE_DIR/inittab" "$IMAGE_DIR/passwd" "$IMAGE_DIR/group" "$r/etc/"
  install -m 0755 "$IMAGE_DIR/init.d/rcS" "$r/etc/init.d/rcS"
  install -m 0755 "$IMAGE_DIR/udhcpc.script" "$r/etc/udhcpc.script"
  install -m 0644 "$IMAGE_DIR/index.html" "$r/www/index.html"
  printf '127.0.0.1 localhost\n' >"$r/etc/hosts"
  : >"$r/etc/resolv.conf"
}
# The two variants differ in metadata.yaml alone: `nonce` (environs/busybox)
# adds nonce.yaml (the environs.nonce property and the template that LXD
# renders at the first start: the machine nonce from the instance's
# user.juju-machine-nonce into /var/lib/juju/nonce.txt, as cloud-init does
# in Juju's images) and the templates directory; `plain` (environs/busybox-
# plain) has neither, so the driver writes the nonce file itself.
write_metadata() { # <out file> <arch> <epoch> <busybox version> <build hash> <variant>
  local extra=/dev/null
  [[ $6 == nonce ]] && extra=$IMAGE_DIR/nonce.yaml
  sed -e "s|@ARCH@|$2|g" -e "s|@DATE@|$3|g" -e "s|@BBVERSION@|$4|g" -e "s|@BUILD@|$5|g" \
    -e "/^@NONCE@\$/{r $extra" -e "d}" "$IMAGE_DIR/metadata.yaml.in" >"$1"
  [[ $6 == nonce ]] || echo "templates: {}" >>"$1"
}

arch=$(uname -m)

ensure_image() { # <alias> <variant>
  local alias=$1 variant=$2 build old_fp old_build tmp epoch bbver fp
  build=$(
    {
      echo "arch $arch variant $variant"
      sha256sum <"$BUSYBOX"
      (cd "$IMAGE_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
      declare -f build_rootfs write_metadata ensure_image
    } | sha256sum | cut -c1-32
  )
  # Which image the alias names now, and its build hash.
  old_fp=$(lxc query "/1.0/images/aliases/$alias" 2>/dev/null \
            | sed -n 's/^[[:space:]]*"target":[[:space:]]*"\([0-9a-f]*\)".*/\1/p' || true)
  old_build=
  if [[ -n $old_fp ]]; then
    old_build=$(lxc image get-property "$old_fp" environs.build 2>/dev/null || true)
  fi
  [[ -z $old_fp || $old_build != "$build" ]] || return 0
  tmp=$(mktemp -d /tmp/environs-lxd-image.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  say "building image $alias (build $build) in $tmp"
  # Reproducible: every date is the busybox binary's, files are owned by root
  # and sorted, gzip stores no name or time; same inputs, same fingerprint.
  epoch=$(stat -c %Y "$BUSYBOX")
  bbver=$("$BUSYBOX" --help 2>&1 | sed -n '1s/^BusyBox \(v[^ ]*\).*/\1/p' || true)
  mkdir "$tmp/image"
  build_rootfs "$tmp/image/rootfs"
  write_metadata "$tmp/image/metadata.yaml" "$arch" "$epoch" "${bbver:-unknown}" "$build" \
    "$variant"
  local parts=(metadata.yaml rootfs)
  if [[ $variant == nonce ]]; then
    install -d -m 0755 "$tmp/image/templates"
    install -m 0644 "$IMAGE_DIR/templates/nonce.tpl" "$tmp/image/templates/"
    parts+=(templates)
  fi
  tar -C "$tmp/image" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
      -cf - "${parts[@]}" | gzip -n -9 >"$tmp/image.tar.gz"
  # A unified tarball's fingerprint is the SHA-256 of the file.
  fp=$(sha256sum "$tmp/image.tar.gz" | cut -d' ' -f1)
  if ! lxc query "/1.0/images/$fp" >/dev/null 2>&1; then
    say "importing image ${fp:0:12} ($(stat -c %s "$tmp/image.tar.gz") bytes)"
    lxc image import "$tmp/image.tar.gz" >/dev/null || die "lxc image import failed"
  fi
  if [[ $(lxc image get-property "$fp" environs.build 2>/dev/null || true) != "$build" ]]; then
    lxc image set-property "$fp" environs.build "$build" || die "cannot set environs.build on $fp"
  fi
  if [[ -z $old_fp ]]; then
    say "alias $alias -> ${fp:0:12}"
    lxc image alias create "$alias" "$fp" >/dev/null || die "cannot create alias $alias"
  else
    say "alias $alias: ${old_fp:0:12} (build ${old_build:-none}) -> ${fp:0:12}"
    lxc query -X PUT "/1.0/images/aliases/$alias" \
      -d "{\"target\":\"$fp\",\"description\":\"environs busybox test image\"}" >/dev/null \
      || die "cannot point alias $alias to $fp"
    if [[ $old_fp != "$fp" ]]; then
      say "deleting old image ${old_fp:0:12}"
      lxc image delete "$old_fp" || say "warning: could not delete old image $old_fp"
    fi
  fi
  rm -rf "$tmp"
  trap - EXIT
  changed=1
}
ensure_image "$ALIAS" nonce
ensure_image "$ALIAS_PLAIN" plain

# --- verification --------------------------------------------------------------
((changed || check)) || exit 0

name=ensetup-$$-$RANDOM
cleanup() {
  local rc=$?
  if ((rc)) && lxc query "/1.0/instances/$name" >/dev/null 2>&1; then
    echo "--- lxc info $name --show-log" >&2
    lxc info "$name" --show-log >&2 2>&1 || true
  fi
  lxc delete --force "$name" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
t0=$(date +%s%N)
lxc launch "$ALIAS" "$name" --ephemeral -p "$PROFILE" >/dev/null \
  || die "cannot launch a container from $ALIAS on profile $PROFILE"

addr=$(lxd_wait_address "$name" "$ADDR_RE" 30) \
  || die "container $name got no address in 10.207.0.0/24 within 30 s"
t_addr=$(date +%s%N)

lxc exec "$name" -- /bin/httpd -p 8080 -h /www || die "cannot start httpd in $name"
page=
deadline=$((SECONDS + 10))
until page=$(curl --noproxy '*' --max-time 5 -fsS "http://$addr:8080/" 2>/dev/null); do
  ((SECONDS < deadline)) || die "http://$addr:8080/ in $name did not answer within 10 s"
  sleep 0.1
done
grep -q 'environs busybox test image' <<<"$page" || die "unexpected page from http://$addr:8080/"
t_http=$(date +%s%N)

lxc delete --force "$name" >/dev/null || die "cannot delete $name"
t_end=$(date +%s%N)
trap - EXIT
ms() { echo $((($2 - $1) / 1000000)); }
say "verified: $name got $addr in $(ms "$t0" "$t_addr") ms, httpd answered after" \
    "$(ms "$t_addr" "$t_http") ms more, deleted; total $(ms "$t0" "$t_end") ms"
