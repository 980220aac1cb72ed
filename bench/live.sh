#!/usr/bin/env bash
# Live capture: a veth pair into a network namespace this script creates
# (and removes on exit), a generated capture replayed into it with
# tcpreplay at increasing rates, and at each rate, one after the other:
# tcpdump -w /dev/null, lunatap -i with no handler (L4 only), and lunatap -i
# http_trace --json, each capturing inside the namespace. Prints the
# packets sent, captured and dropped for each.
#
# lunatap's drops are read from the done stats (dropped_kernel,
# dropped_interface, dropped_handoff).
#
# Needs root, iproute2, tcpreplay, tcpdump (apt-get install tcpreplay).
# Usage: bench/live.sh. Environment: RATES (Mbit/s, default
# "100 400 1600 3200 top"; top: tcpreplay --topspeed), SESSIONS (gen_http.py bulk sessions, 200),
# CACHE (${TMPDIR:-/tmp}/lunatap-bench), LUNATAP_BIN.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
rates=${RATES:-100 400 1600 3200 top}
sessions=${SESSIONS:-200}
cache=${CACHE:-${TMPDIR:-/tmp}/lunatap-bench}
lunatap=${LUNATAP_BIN:-$root/build/lunatap}
ns=lunatap-bench-$$
out=$(mktemp -d)
# lunatap -i loads scripts after becoming --user (nobody): they must be
# readable by it
chmod 755 "$out"
cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip link del lt-bench0 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

mkdir -p "$cache"
tag=$(sha256sum "$root/samples/gen_http.py" | cut -c1-10)
cap=$cache/live-http-$sessions-$tag.pcap
if [ ! -s "$cap" ]; then
  python3 "$root/samples/gen_http.py" bulk "$cap.tmp" --sessions "$sessions" --concurrent 64 --seed 1
  mv "$cap.tmp" "$cap"
fi

ip netns add "$ns"
ip link add lt-bench0 type veth peer name lt-bench1
ip link set lt-bench1 netns "$ns"
# No IPv6 on the pair: the kernel's own router and neighbour solicitations
# would be captured on top of what was sent (the capture's IPv6 packets
# still arrive as frames).
sysctl -qw net.ipv6.conf.lt-bench0.disable_ipv6=1
ip netns exec "$ns" sysctl -qw net.ipv6.conf.lt-bench1.disable_ipv6=1
ip link set lt-bench0 up mtu 9000
ip netns exec "$ns" ip link set lt-bench1 up mtu 9000
echo 'on("done", function(s) local d = {} for k, v in pairs(s) do if k:find("drop") then d[#d + 1] = k .. "=" .. tostring(v) end end table.sort(d) print("packets=" .. s.packets, table.concat(d, " ")) end)' \
  >"$out/none.lua"

# consume NAME CMD...: CMD captures in the namespace while the capture is
# replayed at $rate; prints one line of what was sent, captured, dropped.
consume() {
  local name=$1
  shift
  ip netns exec "$ns" "$@" >"$out/stdout" 2>"$out/stderr" &
  local pid=$!
  sleep 1 # let it open the interface
  if [ "$rate" = top ]; then
    tcpreplay -q -i lt-bench0 --topspeed "$cap" >"$out/replay" 2>&1
  else
    tcpreplay -q -i lt-bench0 --mbps "$rate" "$cap" >"$out/replay" 2>&1
  fi
  sleep 1
  local rc=0
  kill -INT "$pid" 2>/dev/null || true # it may have failed at start
  wait "$pid" || rc=$?
  local sent seen
  sent=$(awk '/Actual:/ {print $2; exit}' "$out/replay")
  # the rate tcpreplay reached, which can be below the one asked for
  local mbps
  mbps=$(grep -o '[0-9.]* Mbps' "$out/replay" | head -n 1 | cut -d' ' -f1)
  seen=$(grep -h 'captured\|dropped\|packets=' "$out/stderr" "$out/stdout" | grep -v "^{" | paste -sd " " - || true)
  [ "$rc" = 0 ] || seen="$seen (exit status $rc: $(head -n 1 "$out/stderr"))"
  printf '%8s %-18s sent %9s at %8s Mbit/s  %s\n' "$rate" "$name" "${sent:-?}" "${mbps:-?}" "$seen"
}

echo "capture: $(basename "$cap"); rates in Mbit/s"
for rate in $rates; do
  consume tcpdump tcpdump -i lt-bench1 -B 65536 -s 0 -w /dev/null
  consume lunatap-none "$lunatap" -i lt-bench1 "$out/none.lua"
  consume http_trace-json "$lunatap" -i lt-bench1 http_trace --json "$out/none.lua"
done
