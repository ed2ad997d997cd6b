#!/usr/bin/env bash
# Install what is missing, build, start environs under the local supervisor
# (left running, like a daemon) and run a short demo on the embedded sim
# cloud. Safe to run again: it reuses a running set and an existing model.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/deps.sh
bash scripts/build.sh build

export ENVIRONS_HOME=${ENVIRONS_HOME:-$HOME/.local/share/environs}
mkdir -p "$ENVIRONS_HOME"
sup=$root/build/deploy/local/environs-local
cli=$root/build/cli/environs

if ! "$sup" --status --home "$ENVIRONS_HOME" >/dev/null 2>&1; then
  echo "== starting environs (logs in $ENVIRONS_HOME/log) =="
  setsid "$sup" --home "$ENVIRONS_HOME" </dev/null >>"$ENVIRONS_HOME/supervisor.out" 2>&1 &
fi
# wait for the gateway to answer (bounded)
for _ in $(seq 1 100); do
  "$cli" providers >/dev/null 2>&1 && break
  sleep 0.1
done

run() { echo; echo "\$ environs $*"; "$cli" "$@"; }
run providers
run clouds
run regions sim
run autoload-credentials sim
run credentials
"$cli" show-model -m demo >/dev/null 2>&1 || run add-model demo sim/sim-west --config default-series=noble
run models
run model-config -m demo
run show-model -m demo
echo
echo "environs is running (gateway $(cat "$ENVIRONS_HOME/gateway.endpoint" 2>/dev/null))."
echo "Stop it with: kill \$(cat $ENVIRONS_HOME/environs-local.pid)"
