#!/usr/bin/env bash
# Install test dependencies, prepare LXD (scripts/lxd-setup.sh), build, and
# run every test: first the whole suite built with AddressSanitizer +
# UndefinedBehaviorSanitizer (without label lxd), then the normal build, lxd
# tests included, whose CTest summary ends the output.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bash scripts/deps.sh || exit 1
# The lxd tests (label lxd, normal build only) need a running LXD daemon with
# the entest0 bridge, the entest profile and the environs/busybox image.
# Fail early, before any build, if that cannot be had.
echo "== LXD set-up =="
if ! bash scripts/lxd-setup.sh; then
  echo "LXD set-up failed (scripts/lxd-setup.sh); the lxd tests cannot run" >&2
  exit 1
fi

status=0
echo "== sanitizer build (ASan + UBSan) =="
if bash scripts/build.sh build-asan -DENVIRONS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j2 -LE lxd) || status=1
else
  echo "sanitizer build failed"; status=1
fi

echo "== normal build =="
bash scripts/build.sh build || exit 1
(cd build && ctest --output-on-failure -j2) || status=1
exit $status
