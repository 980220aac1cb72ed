#!/usr/bin/env bash
# HTTP at scale: http_trace --json over a large generated capture (many
# interleaved keep-alive HTTP/1.1 sessions over IPv4 and IPv6, chunked and
# gzip bodies, non-HTTP noise, ~0.5% retransmitted or reordered segments;
# `samples/gen_http.py bulk`), timed in one run against the libpcap read
# floor, tcpdump and tshark, with peak RSS, and checked against the
# generator's truth so that a fast wrong answer cannot pass.
#
# Usage: bench/http.sh. Environment: RUNS (default 3), SESSIONS (1200,
# about 400 MB), CONCURRENT (64), SEED (1), CACHE (where the capture is
# kept between runs; default ${TMPDIR:-/tmp}/lunatap-bench), TSHARK_PACKETS
# (0: tshark reads the whole file; N: tshark reads the first N packets and
# its time is scaled up by bytes, and checked against lunatap on the same
# prefix), LUNATAP_BIN. Exit status 1 when a count disagrees.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=${RUNS:-3}
sessions=${SESSIONS:-1200}
concurrent=${CONCURRENT:-64}
seed=${SEED:-1}
cache=${CACHE:-${TMPDIR:-/tmp}/lunatap-bench}
tshark_packets=${TSHARK_PACKETS:-0}
lunatap=${LUNATAP_BIN:-$root/build/lunatap}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The capture: made once per generator version and parameters.
gen=$root/samples/gen_http.py
tag=$(sha256sum "$gen" | cut -c1-10)
mkdir -p "$cache"
cap=$cache/http-bulk-$sessions-$concurrent-$seed-$tag.pcap
truth=${cap%.pcap}.truth.json
if [ ! -s "$cap" ] || [ ! -s "$truth" ]; then
  echo "generating $cap ..."
  t0=$(date +%s%N)
  python3 "$gen" bulk "$cap.tmp" --sessions "$sessions" --concurrent "$concurrent" \
    --seed "$seed" --truth "$truth.tmp"
  mv "$truth.tmp" "$truth" && mv "$cap.tmp" "$cap"
  awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "generated in %.1f s\n", (b - a) / 1e9 }'
fi

# floor.c asks for a 1 MiB stdio buffer with setvbuf(f, NULL, _IOFBF, 1 MiB),
# but glibc ignores the size when the buffer is NULL and reads 4 KiB at a
# time (strace: 97,196 read calls for 400 MB). floor-1MiB is floor.c built
# with setvbuf handed a real buffer; floor.c-as-is is bench/run.sh's floor.
cat >"$out/vbuf.h" <<'H'
#include <stdio.h>
#include <stdlib.h>
#define setvbuf(f, b, m, n) setvbuf((f), (b) ? (b) : malloc(n), (m), (n))
H
cc -O2 -o "$out/floor" "$here/floor.c" $(pkg-config --cflags --libs libpcap)
cc -O2 -include "$out/vbuf.h" -o "$out/floor-vbuf" "$here/floor.c" \
  $(pkg-config --cflags --libs libpcap)
echo 'on("done", function() end)' >"$out/none.lua"
echo 'on("http.request", function() end) on("http.response", function() end)' >"$out/empty.lua"

have_time=0
[ -x /usr/bin/time ] && have_time=1

# run NAME OUTFILE CMD...: RUNS timed runs (warm cache); appends one line
# "name median min max peak_rss_kb median_cpu" to $out/results (cpu: user +
# system seconds, steadier than wall time on a shared machine); CMD's standard output
# of the last run stays in OUTFILE.
run() {
  local name=$1 dest=$2
  shift 2
  local i t0 t1 rc
  : >"$out/times"
  : >"$out/rss"
  : >"$out/cpu"
  for i in $(seq "$runs"); do
    t0=$(date +%s%N)
    rc=0
    if [ "$have_time" = 1 ]; then
      /usr/bin/time -f '%M %U %S' -o "$out/rss1" "$@" >"$dest" 2>"$out/stderr" || rc=$?
      tail -n 1 "$out/rss1" | awk '{print $1}' >>"$out/rss"
      tail -n 1 "$out/rss1" | awk '{print $2 + $3}' >>"$out/cpu"
    else
      "$@" >"$dest" 2>"$out/stderr" || rc=$?
    fi
    t1=$(date +%s%N)
    if [ "$rc" != 0 ]; then
      echo "warning: $name exited with status $rc: $(head -c 300 "$out/stderr")" >&2
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }' >>"$out/times"
  done
  local stats rss cpu
  stats=$(sort -n "$out/times" | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)], a[1], a[NR] }')
  rss=$(sort -n "$out/rss" | tail -n 1)
  cpu=$(sort -n "$out/cpu" | awk '{a[NR] = $1} END { if (NR) print a[int((NR + 1) / 2)] }')
  echo "$name $stats ${rss:--} ${cpu:--}" >>"$out/results"
}

pk_bytes=$("$out/floor" "$cap")
packets=$(echo "$pk_bytes" | awk '{print $1}')
size=$(stat -c %s "$cap")
cat "$cap" >/dev/null # warm the page cache
: >"$out/results"
run floor-1MiB /dev/null "$out/floor-vbuf" "$cap"
run floor.c-as-is /dev/null "$out/floor" "$cap"
run floor-nobuf /dev/null "$out/floor" "$cap" --nobuf
run tcpdump /dev/null tcpdump -nn -r "$cap"
run lunatap-none /dev/null "$lunatap" -r "$cap" "$out/none.lua"
run lunatap-http-empty /dev/null "$lunatap" -r "$cap" "$out/empty.lua"
run http_trace /dev/null "$lunatap" -r "$cap" http_trace
run http_trace-json "$out/lunatap.json" "$lunatap" -r "$cap" http_trace --json

# tshark: the whole file, or a prefix whose time is scaled by bytes.
tcap=$cap
scale=1
if [ "$tshark_packets" -gt 0 ] && [ "$tshark_packets" -lt "$packets" ]; then
  tcap=$out/prefix.pcap
  tcpdump -r "$cap" -c "$tshark_packets" -w "$tcap" 2>/dev/null
  scale=$(awk -v a="$size" -v b="$(stat -c %s "$tcap")" 'BEGIN { printf "%.6f", a / b }')
  cat "$tcap" >/dev/null
fi
run tshark "$out/tshark.txt" tshark -r "$tcap" -o tcp.reassemble_out_of_order:TRUE \
  -Y http.request -T fields -e http.request.method -e http.request.uri

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
  "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%F);" \
  "commit $(git -C "$root" rev-parse --short HEAD)"
echo "capture: $(basename "$cap"): $packets packets, $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }')," \
  "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["requests"], "requests,", t["http_sessions"], "HTTP sessions")' "$truth")"
if [ "$scale" != 1 ]; then
  echo "tshark read the first $tshark_packets packets; its time, rates and ratio are scaled by bytes (x$scale); its RSS is the prefix's"
fi
printf '%-20s %9s %7s %10s %8s %7s %8s %8s %8s\n' case "median s" spread "packets/s" "MB/s" \
  "cpu s" "RSS MB" "x floor" "cpu x"
floor=$(awk '$1 == "floor-1MiB" {print $2}' "$out/results")
floor_cpu=$(awk '$1 == "floor-1MiB" {print $6}' "$out/results")
awk -v floor="$floor" -v floor_cpu="$floor_cpu" -v packets="$packets" -v size="$size" -v scale="$scale" '
  {
    med = $2; lo = $3; hi = $4; s = 1
    if ($1 == "tshark") s = scale
    med *= s; lo *= s; hi *= s
    rss = ($5 == "-") ? "-" : sprintf("%.1f", $5 / 1024)
    cpu = ($6 == "-") ? "-" : sprintf("%.2f", $6 * s)
    cpux = ($6 == "-" || floor_cpu <= 0) ? "-" : sprintf("%.1fx", $6 * s / floor_cpu)
    printf "%-20s %9.3f %6.0f%% %10.0f %8.0f %7s %8s %7.1fx %8s\n", $1, med,
      (med > 0 ? 100 * (hi - lo) / med : 0), packets / med, size / 1e6 / med, cpu, rss,
      med / floor, cpux
  }' "$out/results"

# Correctness: requests in lunatap's JSON, in the truth, and in tshark.
status=0
python3 - "$truth" "$out/lunatap.json" "$out/tshark.txt" "$scale" <<'EOF' || status=1
import collections, json, sys
truth = json.load(open(sys.argv[1]))
lt, errors = collections.Counter(), 0
for line in open(sys.argv[2]):
    rec = json.loads(line)
    if rec["event"] == "request":
        lt[rec["method"]] += 1
    elif rec["event"] == "response":
        lt["(responses)"] += 1
ts = collections.Counter(l.split("\t")[0] for l in open(sys.argv[3]) if l.strip())
want = dict(truth["methods"], **{"(responses)": truth["responses"]})
requests = sum(v for k, v in lt.items() if k != "(responses)")
print("requests: truth %d, lunatap %d, tshark %d%s" % (
    truth["requests"], requests, sum(ts.values()),
    "" if sys.argv[4] == "1" else " (tshark on a prefix)"))
for k in sorted(set(want) | set(lt)):
    if want.get(k, 0) != lt.get(k, 0):
        print("MISMATCH lunatap %s: %d, truth %d" % (k, lt.get(k, 0), want.get(k, 0)))
        errors += 1
if sys.argv[4] == "1":
    for k in sorted(set(truth["methods"]) | set(ts)):
        if truth["methods"].get(k, 0) != ts.get(k, 0):
            print("MISMATCH tshark %s: %d, truth %d" % (k, ts.get(k, 0), truth["methods"].get(k, 0)))
            errors += 1
print("counts: %s" % ("all agree" if not errors else "%d mismatches" % errors))
sys.exit(1 if errors else 0)
EOF
if [ "$scale" != 1 ]; then
  # on a prefix the truth does not apply: lunatap on the same prefix
  "$lunatap" -r "$tcap" http_trace --json >"$out/prefix.json"
  a=$(grep -c '"event":"request"' "$out/prefix.json" || true)
  b=$(grep -c . "$out/tshark.txt" || true)
  echo "prefix requests: lunatap $a, tshark $b"
  [ "$a" = "$b" ] || { echo "MISMATCH on the prefix"; status=1; }
fi

# The issue's targets.
awk -v limit_rss=64 '
  { med[$1] = $2; rss[$1] = $5; cpu[$1] = $6 }
  END {
    j = med["http_trace-json"]; f = med["floor-1MiB"]; t = med["tshark"] * SCALE
    printf "target http_trace --json <= 10x floor: %.1fx %s", j / f, (j / f <= 10 ? "met" : "MISSED")
    if (cpu["floor-1MiB"] > 0)
      printf " (cpu time: %.1fx)", cpu["http_trace-json"] / cpu["floor-1MiB"]
    printf "\ntarget tshark >= 40x http_trace --json: %.1fx %s", t / j, (t / j >= 40 ? "met" : "MISSED")
    if (cpu["http_trace-json"] > 0)
      printf " (cpu time: %.1fx)", cpu["tshark"] * SCALE / cpu["http_trace-json"]
    printf "\n"
    if (rss["http_trace-json"] != "-")
      printf "target peak RSS <= 64 MB: %.1f MB %s\n", rss["http_trace-json"] / 1024,
        (rss["http_trace-json"] / 1024 <= limit_rss ? "met" : "MISSED")
  }' SCALE="$scale" "$out/results"
exit "$status"
