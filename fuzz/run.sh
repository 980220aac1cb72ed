#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (apt-get install clang) and runs
# each for SECONDS (default 60), seeded from samples/ (whole files for the
# pcapng reader, single frames are found by the fuzzer itself).
# Usage: fuzz/run.sh [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
secs=${1:-60}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I"$root/engine")
clang "${flags[@]}" "$here/fuzz_decode.c" "$root/engine/decode.c" -o "$out/fuzz_decode"
clang "${flags[@]}" "$here/fuzz_pcapng.c" "$root/engine/pcapng.c" -o "$out/fuzz_pcapng"
lua=$(pkg-config --cflags --libs lua5.4)
# shellcheck disable=SC2086
clang "${flags[@]}" "$here/fuzz_dns.c" "$root/engine/ldns.c" "$root/engine/lbuffer.c" $lua -o "$out/fuzz_dns"
# shellcheck disable=SC2086
clang "${flags[@]}" "$here/fuzz_pattern.c" "$root/engine/lpattern.c" $lua -o "$out/fuzz_pattern"
mkdir -p "$out/seed_decode" "$out/seed_pcapng" "$out/seed_dns" "$out/seed_pattern"
for f in "$root"/samples/*.pcap; do
  # classic pcap: convert a sample to pcapng seeds with the same frames
  command -v editcap >/dev/null && editcap -F pcapng "$f" "$out/seed_pcapng/$(basename "$f").pcapng"
done
"$out/fuzz_decode" -max_total_time="$secs" "$out/seed_decode"
"$out/fuzz_pcapng" -max_total_time="$secs" "$out/seed_pcapng"
# DNS: the sample's messages as seeds (tshark writes each UDP payload as hex)
if command -v tshark >/dev/null; then
  i=0
  tshark -r "$root/samples/dns-features.pcap" -Y 'udp.port == 53' -T fields -e udp.payload 2>/dev/null |
    while read -r hex; do i=$((i + 1)); printf '%s' "$hex" | xxd -r -p >"$out/seed_dns/$i"; done
fi
"$out/fuzz_dns" -max_total_time="$secs" "$out/seed_dns"
printf '%s\0%s' '^(%u+) (%S+) HTTP/(%d)%.(%d)$' 'GET / HTTP/1.1' >"$out/seed_pattern/http"
printf '%s\0%s' '%b()%f[%w](a*)-%1' '((x))abc aab' >"$out/seed_pattern/mixed"
"$out/fuzz_pattern" -max_total_time="$secs" "$out/seed_pattern"
