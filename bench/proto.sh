#!/usr/bin/env bash
# Redis, DNS and TLS at scale: redis_trace --json, dns_trace --json and
# tls_trace --json over a large generated mixed capture (bench/gen_mixed.py:
# Redis pipelines, DNS over UDP, TLS handshakes and HTTP keep-alive sessions
# interleaved over IPv4 and IPv6, with ~0.5% retransmitted or reordered
# segments), timed in one run against the libpcap read floor, tcpdump and
# tshark, with peak RSS, and checked against the generator's truth and
# tshark's fields so that a fast wrong answer cannot pass.
#
# Usage: bench/proto.sh. Environment: RUNS (default 3), SESSIONS (6000),
# CONCURRENT (256), SEED (1), CACHE (where the capture is kept between runs;
# default ${TMPDIR:-/tmp}/lunatap-bench), LUNATAP_BIN. Exit status 1 when a
# count disagrees.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
runs=${RUNS:-3}
sessions=${SESSIONS:-6000}
concurrent=${CONCURRENT:-256}
seed=${SEED:-1}
cache=${CACHE:-${TMPDIR:-/tmp}/lunatap-bench}
lunatap=${LUNATAP_BIN:-$root/build/lunatap}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

gen=$here/gen_mixed.py
tag=$(cat "$gen" "$root/samples/gen_http.py" | sha256sum | cut -c1-10)
mkdir -p "$cache"
cap=$cache/mixed-$sessions-$concurrent-$seed-$tag.pcap
truth=${cap%.pcap}.truth.json
if [ ! -s "$cap" ] || [ ! -s "$truth" ]; then
  echo "generating $cap ..."
  python3 "$gen" "$cap.tmp" --sessions "$sessions" --concurrent "$concurrent" \
    --seed "$seed" --truth "$truth.tmp"
  mv "$truth.tmp" "$truth" && mv "$cap.tmp" "$cap"
fi

. "$here/lib.sh"
build_floors
echo 'on("done", function() end)' >"$out/none.lua"

packets=$("$out/floor" "$cap" | awk '{print $1}')
size=$(stat -c %s "$cap")
cat "$cap" >/dev/null # warm the page cache
: >"$out/results"
run floor-1MiB /dev/null "$out/floor-vbuf" "$cap"
run floor-nobuf /dev/null "$out/floor" "$cap" --nobuf
run tcpdump /dev/null tcpdump -nn -r "$cap"
run lunatap-none /dev/null "$lunatap" -r "$cap" "$out/none.lua"
run redis_trace-json "$out/redis.json" "$lunatap" -r "$cap" redis_trace --json
run dns_trace-json "$out/dns.json" "$lunatap" -r "$cap" dns_trace --json
run tls_trace-json "$out/tls.json" "$lunatap" -r "$cap" tls_trace --json
run tshark-resp "$out/tshark-resp.txt" tshark -r "$cap" -o tcp.reassemble_out_of_order:TRUE \
  -Y 'resp && tcp.dstport == 6379' -T fields -E occurrence=a -e resp.array.length \
  -e resp.bulk_string.value -e _ws.expert.message
run tshark-dns "$out/tshark-dns.txt" tshark -r "$cap" -Y dns -T fields \
  -e dns.flags.response -e dns.qry.type -e dns.count.answers
run tshark-tls "$out/tshark-tls.txt" tshark -r "$cap" -o tcp.reassemble_out_of_order:TRUE \
  -Y 'tls.handshake.type == 1' -T fields -e tls.handshake.extensions_server_name

machine_line
echo "capture: $(basename "$cap"): $packets packets, $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }')"
print_table "$packets" "$size"

status=0
python3 "$here/proto_check.py" "$truth" "$out" || status=1
target redis_trace-json 15
target dns_trace-json 5
exit "$status"
