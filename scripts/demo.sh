#!/usr/bin/env bash
# Install what is missing, build, start environs under the local supervisor
# (left running, like a daemon) and run a short demo on the embedded sim
# cloud: bootstrap a controller, add machines, list them. Safe to run again:
# it reuses a running set, an existing controller and its machines.
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
# a controller on the sim cloud, with its hosted model "default"
"$cli" show-controller demo >/dev/null 2>&1 ||
  run bootstrap sim/sim-east demo --config default-series=noble
run controllers
run models
# machines in demo's default model: three anywhere, one in a chosen zone
if "$cli" machines -m demo:default --format json | grep -q '"machines":{}'; then
  run add-machine -n 3 -m demo:default
  run add-machine --to zone=sim-east-b --constraints cores=2 -m demo:default
fi
run machines -m demo:default
run machines -m demo:default --format yaml
echo
echo "environs is running (gateway $(cat "$ENVIRONS_HOME/gateway.endpoint" 2>/dev/null))."
echo "Remove the demo controller with: $cli destroy-controller demo --destroy-all-models"
echo "Stop environs with: kill \$(cat $ENVIRONS_HOME/environs-local.pid)"
