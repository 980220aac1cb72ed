#!/usr/bin/env bash
# The recorder: real traffic on loopback, captured with tcpdump while nginx
# (a config of its own, its own port) serves generated files to wrk, and
# redis-server (its own port, no persistence) answers redis-benchmark. It
# writes the capture and a truth file, then counts with lunatap
# (http_trace --json, redis_trace --json) and tshark and compares.
#
# The truth comes from the servers, not the drivers: nginx's access log has
# one line per request it answered, and redis's INFO commandstats (reset
# before, read after the capture stopped) the calls per command. wrk's own
# count is printed too (it leaves out requests in flight when it stops).
# tcpdump's "dropped by kernel" count is printed: with drops, the counts
# cannot agree.
#
# Needs: apt-get install nginx-light wrk redis-server redis-tools tcpdump tshark
# (bench/README.md). Run as root (tcpdump on lo).
# Usage: bench/record.sh [OUTDIR]. Environment: DURATION (wrk seconds per
# URL, default 1), CONNS (wrk connections, 8), REDIS_N (redis-benchmark -n,
# 20000), PIPELINE (redis-benchmark -P, 16), HTTP_PORT (18080), REDIS_PORT
# (16379), LUNATAP_BIN. Exit status 1 when a count disagrees.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
lunatap=${LUNATAP_BIN:-$root/build/lunatap}
dur=${DURATION:-1}
conns=${CONNS:-8}
redis_n=${REDIS_N:-20000}
pipeline=${PIPELINE:-16}
hport=${HTTP_PORT:-18080}
rport=${REDIS_PORT:-16379}
dest=${1:-${TMPDIR:-/tmp}/lunatap-bench/record}
mkdir -p "$dest"
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for tool in nginx wrk redis-server redis-benchmark redis-cli tcpdump tshark; do
  command -v "$tool" >/dev/null || { echo "record.sh: $tool not installed (see bench/README.md)" >&2; exit 2; }
done

# Files: a small page, a large compressible text (gzip on: nginx then
# streams it with Transfer-Encoding: chunked), and a binary one.
mkdir -p "$work/www"
python3 - "$work/www" <<'EOF'
import random, sys
d = sys.argv[1]
rnd = random.Random(1)
words = ["lunatap", "packet", "flow", "stream", "reassembly", "dissector", "lua", "capture"]
open(d + "/index.html", "w").write("<html><body>%s</body></html>\n" % " ".join(rnd.choice(words) for _ in range(150)))
open(d + "/big.txt", "w").write("\n".join(" ".join(rnd.choice(words) for _ in range(12)) for _ in range(3000)))
open(d + "/blob.bin", "wb").write(bytes(rnd.randrange(256) for _ in range(64 * 1024)))
EOF
cat >"$work/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 256; }
http {
  access_log $work/access.log;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  types { text/html html; text/plain txt; application/octet-stream bin; }
  gzip on;
  gzip_types text/plain;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$hport; root $work/www; }
}
EOF
nginx -c "$work/nginx.conf" -e "$work/error.log" &
pids+=($!)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$hport/index.html" && redis-cli -p "$rport" ping >/dev/null 2>&1 && break
  sleep 0.1
done
: >"$work/access.log"
redis-cli -p "$rport" config resetstat >/dev/null

cap=$dest/recorded.pcap
tcpdump -i lo -B 262144 -s 0 -U -w "$cap" "tcp port $hport or tcp port $rport" 2>"$work/tcpdump.err" &
tpid=$!
pids+=("$tpid")
for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" && break; sleep 0.1; done

wrk -t 1 -c "$conns" -d "${dur}s" "http://127.0.0.1:$hport/index.html" >"$work/wrk1.txt"
wrk -t 1 -c "$conns" -d "${dur}s" -H 'Accept-Encoding: gzip' "http://127.0.0.1:$hport/big.txt" >"$work/wrk2.txt"
wrk -t 1 -c "$conns" -d "${dur}s" "http://127.0.0.1:$hport/blob.bin" >"$work/wrk3.txt"
redis-benchmark -p "$rport" -n "$redis_n" -P "$pipeline" -c "$conns" -t set,get,incr,lpush,lrange_100 -q \
  >"$work/redis-bench.txt"
sleep 1 # let the last FINs reach the capture
kill -INT "$tpid"
wait "$tpid" || true
wrk_total=$(cat "$work"/wrk[123].txt | awk '/requests in/ {n += $1} END {print n}')
redis-cli -p "$rport" info commandstats >"$work/commandstats.txt"
cp "$work/access.log" "$dest/access.log"

python3 - "$work/commandstats.txt" "$dest/access.log" "$wrk_total" >"$dest/recorded.truth.json" <<'EOF'
import json, re, sys
cmds = {}
for line in open(sys.argv[1]):
    m = re.match(r"cmdstat_([^:|]+)(\|[^:]*)?:calls=(\d+)", line)
    if m:  # "config|get": redis_trace names the command, CONFIG
        name = m.group(1).upper()
        cmds[name] = cmds.get(name, 0) + int(m.group(3))
# CONFIG RESETSTAT, sent before the capture began, counts itself
cmds["CONFIG"] -= 1
cmds = {k: v for k, v in cmds.items() if v}
log = open(sys.argv[2]).read().splitlines()
print(json.dumps({"http_requests": len(log), "wrk_requests": int(sys.argv[3]), "redis": cmds,
                  "redis_commands": sum(cmds.values())}, sort_keys=True))
EOF

echo "capture: $cap: $(grep -h 'captured\|received by filter\|dropped by kernel' "$work/tcpdump.err" | paste -sd, -)"
"$lunatap" -r "$cap" http_trace --json >"$work/http.json"
"$lunatap" -r "$cap" redis_trace --json >"$work/redis.json"
tshark -r "$cap" -o tcp.reassemble_out_of_order:TRUE -d "tcp.port==$hport,http" \
  -Y http.request -T fields -e http.request.method >"$work/tshark-http.txt"
tshark -r "$cap" -o tcp.reassemble_out_of_order:TRUE -d "tcp.port==$rport,resp" \
  -Y "resp && tcp.dstport == $rport" -T fields -E occurrence=a -e resp.array.length \
  >"$work/tshark-resp.txt"

python3 - "$dest/recorded.truth.json" "$work" <<'EOF'
import collections, json, sys
truth, w = json.load(open(sys.argv[1])), sys.argv[2]
def recs(name):
    return [json.loads(l) for l in open(w + "/" + name) if l.strip()]
http = recs("http.json")
reqs = sum(1 for r in http if r["event"] == "request")
resps = sum(1 for r in http if r["event"] == "response")
ts_http = sum(1 for l in open(w + "/tshark-http.txt") if l.strip())
redis = [r for r in recs("redis.json") if r["event"] == "command"]
names = collections.Counter(r["name"] for r in redis)
# tshark: one resp.array.length per array sent to the server; commands
# hold no nested arrays, so each is one command.
ts_cmds = 0
for l in open(w + "/tshark-resp.txt"):
    ts_cmds += len([x for x in l.strip().split(",") if x])
errors = 0
def check(what, got, want):
    global errors
    ok = got == want
    errors += not ok
    print("%-44s %10s %10s  %s" % (what, got, want, "ok" if ok else "MISMATCH"))
print("%-44s %10s %10s" % ("count", "got", "truth"))
check("lunatap http_trace requests (nginx log)", reqs, truth["http_requests"])
check("lunatap http_trace responses (nginx log)", resps, truth["http_requests"])
check("tshark http.request (nginx log)", ts_http, truth["http_requests"])
print("%-44s %10s %10s  (wrk counts completed requests only)" % ("wrk's count", truth["wrk_requests"], truth["http_requests"]))
check("lunatap redis_trace commands (commandstats)", len(redis), truth["redis_commands"])
for k in sorted(set(truth["redis"]) | set(names)):
    check("  " + k, names.get(k, 0), truth["redis"].get(k, 0))
check("lunatap redis_trace replies paired", sum(1 for r in redis if r.get("reply_type") is not None), len(redis))
check("tshark resp arrays to the server (commandstats)", ts_cmds, truth["redis_commands"])
sys.exit(1 if errors else 0)
EOF
