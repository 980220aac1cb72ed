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
mkdir -p "$out/seed_decode" "$out/seed_pcapng"
for f in "$root"/samples/*.pcap; do
  # classic pcap: convert a sample to pcapng seeds with the same frames
  command -v editcap >/dev/null && editcap -F pcapng "$f" "$out/seed_pcapng/$(basename "$f").pcapng"
done
"$out/fuzz_decode" -max_total_time="$secs" "$out/seed_decode"
"$out/fuzz_pcapng" -max_total_time="$secs" "$out/seed_pcapng"
