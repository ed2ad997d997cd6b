# Shared by scripts/lxd-setup.sh and its test, tests/lxd/test_lxd_setup.sh
# (sourced, not run).

# lxd_wait_address <instance> <address regex> <seconds>: prints the first
# IPv4 address of the instance's state that matches, polling every 0.1 s
# until one does or the seconds pass (then returns 1, printing nothing).
lxd_wait_address() {
  local name=$1 re=$2 deadline=$((SECONDS + $3)) addr
  while :; do
    addr=$(lxc query "/1.0/instances/$name/state" 2>/dev/null \
            | grep -oE "\"address\": *\"$re\"" | grep -oE "$re" | head -n1 || true)
    if [[ -n $addr ]]; then
      echo "$addr"
      return 0
    fi
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}
