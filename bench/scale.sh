#!/usr/bin/env bash
# Scaling: the same TCP traffic shape (bench/gen_scale.py flows: handshake,
# a small request and response, FIN close; 8 packets a flow) with 1 k,
# 100 k and 1 M flows open at once, and a SYN flood of 1 M half-open flows.
# For each: CPU time (user + sys), wall median, ns per packet, peak RSS, and
# memory per flow = (peak RSS - RSS on a 100-packet prefix) / flows open,
# for lunatap with no Lua handler and with a tcp.start handler; the engine's
# own counters (sessions, evictions, flow_mem_peak) from the done stats.
#
# The session memory cap (128 MiB by default) is raised to 8 GiB with
# --flow-mem for the "raised" rows: with the default cap 1 M flows are
# evicted, with the raised one they are all live.
#
# Usage: bench/scale.sh. Environment: SCALE_MAX (largest concurrency,
# default 1000000), FLOWS (flows in each capture, default SCALE_MAX), RUNS
# (default 3), CACHE (${TMPDIR:-/tmp}/lunatap-bench), LUNATAP_BIN.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck disable=SC2034 # runs is read by lib.sh's run()
runs=${RUNS:-3}
max=${SCALE_MAX:-1000000}
nflows=${FLOWS:-$max}
cache=${CACHE:-${TMPDIR:-/tmp}/lunatap-bench}
lunatap=${LUNATAP_BIN:-$root/build/lunatap}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$cache"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

gen=$here/gen_scale.py
tag=$(sha256sum "$gen" | cut -c1-10)
# capture KIND FLOWS CONCURRENT: the cached capture's path (made once)
capture() {
  local f=$cache/scale-$1-$2-$3-$tag.pcap
  if [ ! -s "$f" ]; then
    python3 "$gen" "$1" "$f.tmp" --flows "$2" --concurrent "$3" >&2
    mv "$f.tmp" "$f"
  fi
  echo "$f"
}

# The raised cap: the same binary with --flow-mem 8G.
raised=$out/raised.sh
printf '#!/bin/sh\nexec "%s" --flow-mem 8G "$@"\n' "$lunatap" >"$raised"
chmod +x "$raised"

cc -O2 -I"$root/engine" -o "$out/sizes" "$here/sizes.c"
read -r flow conn per <<<"$("$out/sizes")"
stats='print(s.packets, s.sessions_total, s.session_evictions, s.sessions_refused, s.flow_mem_peak, s.lua_mem_peak)'
echo "on(\"done\", function(s) $stats end)" >"$out/none.lua"
echo "local n = 0 on(\"tcp.start\", function() n = n + 1 end) on(\"done\", function(s) $stats end)" \
  >"$out/start.lua"

# measure LABEL CAP BIN SCRIPT FILE OPEN: one results line (see the header)
measure() {
  local label=$1 capname=$2 bin=$3 script=$4 file=$5 open=$6
  local packets base
  : >"$out/results"
  tcpdump -r "$file" -c 100 -w "$out/prefix.pcap" 2>/dev/null
  run base "$out/base.txt" "$bin" -r "$out/prefix.pcap" "$out/$script.lua"
  run main "$out/stats.txt" "$bin" -r "$file" "$out/$script.lua"
  base=$(awk '$1 == "base" {print $5}' "$out/results")
  read -r packets _ <"$out/stats.txt"
  awk -v label="$label" -v cap="$capname" -v script="$script" -v open="$open" -v base="$base" \
    -v packets="$packets" -v st="$(cat "$out/stats.txt")" '
    $1 == "main" {
      split(st, s, /[ \t]+/)
      printf "%-10s %-7s %-6s %9d %8.3f %7.2f %8.0f %8.1f %8.0f %9d %9d %9.1f %8.1f\n",
        label, cap, script, packets, $2, $6, $6 * 1e9 / packets, $5 / 1024,
        ($5 - base) * 1024 / open, s[2], s[3], s[5] / 1048576, s[6] / 1048576
    }' "$out/results" | tee -a "$out/table"
}

concs=()
for n in 1000 100000 1000000; do
  [ "$n" -le "$max" ] && concs+=("$n")
done
[ ${#concs[@]} -gt 0 ] || { echo "SCALE_MAX below 1000" >&2; exit 2; }

machine_line
echo "C state per idle TCP flow: $per bytes (flow $flow + TCP state $conn); target <= 512"
echo "flows traffic: $nflows flows, 8 packets each; the table holds ~1.12 x open flows (closed ones wait 60 s)"
printf '%-10s %-7s %-6s %9s %8s %7s %8s %8s %8s %9s %9s %9s %8s\n' open cap script packets \
  "wall s" "cpu s" "ns/pkt" "RSS MB" "B/flow" sessions evicted "flowmem" "luamem"
: >"$out/table"
for n in "${concs[@]}"; do
  f=$(capture flows "$nflows" "$n")
  cat "$f" >/dev/null
  for script in none start; do
    measure "$n" default "$lunatap" "$script" "$f" "$n"
    [ "$n" -ge 1000000 ] && measure "$n" raised "$raised" "$script" "$f" "$n"
  done
done
f=$(capture synflood "$max" 2)
cat "$f" >/dev/null
measure "syn$max" default "$lunatap" none "$f" "$max"
echo "(B/flow = (peak RSS - RSS on a 100-packet prefix) / open flows; flowmem = the engine's flow_mem_peak MB;"
echo " luamem = lua_mem_peak MB; cpu = user + sys median)"

# Target: per-packet CPU cost at the largest concurrency (raised cap, no
# handler) within 1.5x that at 1 k.
[ ${#concs[@]} -gt 1 ] && awk -v big="${concs[${#concs[@]}-1]}" '
  $3 == "none" && $1 == 1000 && $2 == "default" { small = $7 }
  $3 == "none" && $1 == big && ($2 == "raised" || big < 1000000) { large = $7 }
  END {
    if (small > 0 && large > 0)
      printf "target ns/packet at %d <= 1.5x at 1000: %.2fx %s\n", big, large / small,
        (large / small <= 1.5 ? "met" : "MISSED")
  }' "$out/table"
awk -v per="$per" 'BEGIN { printf "target C state <= 512 bytes per idle TCP flow: %d %s\n", per,
  (per <= 512 ? "met" : "MISSED") }'
