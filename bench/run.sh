#!/usr/bin/env bash
# Side-by-side timings on the same files in one run: the libpcap read floor
# (with and without a 1 MiB stdio buffer), tcpdump, tshark, lunatap with no
# Lua handler (decode + flows + TCP reassembly) and lunatap simple_capture.
# Each case runs RUNS times with a warm page cache; the median is shown, with
# the ratio to the floor. Usage: bench/run.sh [FILE...] (default: the large
# shared captures). Speed is never asserted in a test; this prints figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=${RUNS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cc -O2 -o "$out/floor" "$here/floor.c" $(pkg-config --cflags --libs libpcap)
cc -O2 -I"$root/engine" -o "$out/sizes" "$here/sizes.c"
lunatap=${LUNATAP_BIN:-$root/build/lunatap}
echo "on(\"done\", function() end)" > "$out/none.lua"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { # timeit CMD...: median wall seconds over $runs runs
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
  done | median
}

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=("$root"/../shared/pcaps/large_*.pcap)
fi

read -r flow conn per <<<"$("$out/sizes")"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%F); commit $(git -C "$root" rev-parse --short HEAD)"
echo "C state per idle TCP session: $per bytes (flow $flow + TCP state $conn)"
printf '%-32s %9s %8s %8s %8s %8s %8s %8s\n' file packets floor nobuf tcpdump tshark lunatap simple
for f in "${files[@]}"; do
  cat "$f" >/dev/null # warm the page cache
  pk=$("$out/floor" "$f" | awk '{print $1}')
  fl=$(timeit "$out/floor" "$f")
  nb=$(timeit "$out/floor" "$f" --nobuf)
  td=$(timeit tcpdump -nn -r "$f")
  ts=$(timeit tshark -r "$f")
  lt=$(timeit "$lunatap" -r "$f" "$out/none.lua")
  sc=$(timeit "$lunatap" -r "$f" simple_capture)
  ratio() { awk -v a="$1" -v b="$fl" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
  printf '%-32s %9s %7ss %8s %8s %8s %8s %8s\n' "$(basename "$f")" "$pk" "$fl" "$(ratio "$nb")" \
    "$(ratio "$td")" "$(ratio "$ts")" "$(ratio "$lt")" "$(ratio "$sc")"
done
