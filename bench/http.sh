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

. "$here/lib.sh"
build_floors
echo 'on("done", function() end)' >"$out/none.lua"
echo 'on("http.request", function() end) on("http.response", function() end)' >"$out/empty.lua"

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

machine_line
echo "capture: $(basename "$cap"): $packets packets, $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }')," \
  "$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t["requests"], "requests,", t["http_sessions"], "HTTP sessions")' "$truth")"
if [ "$scale" != 1 ]; then
  echo "tshark read the first $tshark_packets packets; its time, rates and ratio are scaled by bytes (x$scale); its RSS is the prefix's"
fi
print_table "$packets" "$size" "$scale"

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
