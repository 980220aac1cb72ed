#!/usr/bin/env bash
# Records the bundled sample captures on the loopback interface (needs root,
# tcpdump, curl, python3). Every sample here was made by this script; see
# samples/README.md for what each holds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

port=18080
mkdir -p "$work/www"
printf 'hello from lunatap\n' > "$work/www/index.html"
head -c 20000 /dev/zero | tr '\0' 'x' > "$work/www/big.txt"

record() { # record NAME FILTER COMMAND...
  local name=$1 filter=$2; shift 2
  tcpdump -i lo -U -w "$here/$name" -s 262144 "$filter" 2>/dev/null &
  local pid=$!
  sleep 1
  "$@"
  sleep 1
  kill -INT "$pid"
  wait "$pid" || true
}

# HTTP/1.0 (python's http.server) on a non-standard port over IPv4 and
# IPv6: a page, a 20 kB body, a 404.
python3 -m http.server "$port" --bind :: --directory "$work/www" >/dev/null 2>&1 &
sleep 1
http_session() {
  curl -s -o /dev/null -o /dev/null "http://127.0.0.1:$port/index.html" "http://127.0.0.1:$port/big.txt"
  curl -s -o /dev/null "http://127.0.0.1:$port/missing"
  curl -s -g -o /dev/null "http://[::1]:$port/index.html"
}
record http-loopback.pcap "tcp port $port" http_session

# UDP request/response pairs on loopback (a tiny echo server).
python3 - "$((port + 1))" >/dev/null 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data.upper(), addr)
PY
sleep 1
udp_session() {
  python3 - "$((port + 1))" <<'PY'
import socket, sys
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.settimeout(2)
for i in range(3):
    c.sendto(b"ping %d" % i, ("127.0.0.1", int(sys.argv[1])))
    c.recvfrom(2048)
PY
}
record udp-echo.pcap "udp port $((port + 1))" udp_session
echo "recorded: $(ls "$here"/*.pcap)"
