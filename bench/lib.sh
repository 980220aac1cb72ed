# Shared parts of the scale benchmarks (bench/http.sh, bench/proto.sh):
# the read floor, timed runs, the results table. Sourced, not run. Needs
# $root, $runs and $out set by the caller.

# floor.c asks for a 1 MiB stdio buffer with setvbuf(f, NULL, _IOFBF, 1 MiB),
# but glibc ignores the size when the buffer is NULL and reads 4 KiB at a
# time (strace: 97,196 read calls for 400 MB). floor-vbuf is floor.c built
# with setvbuf handed a real buffer; floor is bench/run.sh's floor as is.
build_floors() {
  cat >"$out/vbuf.h" <<'H'
#include <stdio.h>
#include <stdlib.h>
#define setvbuf(f, b, m, n) setvbuf((f), (b) ? (b) : malloc(n), (m), (n))
H
  cc -O2 -o "$out/floor" "$root/bench/floor.c" $(pkg-config --cflags --libs libpcap)
  cc -O2 -include "$out/vbuf.h" -o "$out/floor-vbuf" "$root/bench/floor.c" \
    $(pkg-config --cflags --libs libpcap)
}

have_time=0
[ -x /usr/bin/time ] && have_time=1

# run NAME OUTFILE CMD...: RUNS timed runs (warm cache); appends one line
# "name median min max peak_rss_kb median_cpu" to $out/results (cpu: user +
# system seconds, steadier than wall time on a shared machine); CMD's
# standard output of the last run stays in OUTFILE.
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

machine_line() {
  echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(date -u +%F);" \
    "commit $(git -C "$root" rev-parse --short HEAD)"
}

# print_table PACKETS BYTES [TSHARK_SCALE]: the results as a table, each
# median also as a ratio to floor-1MiB's (tshark's times scaled by
# TSHARK_SCALE when it read a prefix).
print_table() {
  local packets=$1 size=$2 scale=${3:-1}
  printf '%-20s %9s %7s %10s %8s %7s %8s %8s %8s\n' case "median s" spread "packets/s" "MB/s" \
    "cpu s" "RSS MB" "x floor" "cpu x"
  local floor floor_cpu
  floor=$(awk '$1 == "floor-1MiB" {print $2}' "$out/results")
  floor_cpu=$(awk '$1 == "floor-1MiB" {print $6}' "$out/results")
  awk -v floor="$floor" -v floor_cpu="$floor_cpu" -v packets="$packets" -v size="$size" -v scale="$scale" '
    {
      med = $2; lo = $3; hi = $4; s = 1
      if ($1 ~ /^tshark/) s = scale
      med *= s; lo *= s; hi *= s
      rss = ($5 == "-") ? "-" : sprintf("%.1f", $5 / 1024)
      cpu = ($6 == "-") ? "-" : sprintf("%.2f", $6 * s)
      cpux = ($6 == "-" || floor_cpu <= 0) ? "-" : sprintf("%.1fx", $6 * s / floor_cpu)
      printf "%-20s %9.3f %6.0f%% %10.0f %8.0f %7s %8s %7.1fx %8s\n", $1, med,
        (med > 0 ? 100 * (hi - lo) / med : 0), packets / med, size / 1e6 / med, cpu, rss,
        med / floor, cpux
    }' "$out/results"
}

# target NAME LIMIT: "target NAME <= LIMITx floor: Rx met|MISSED (cpu time: Cx)"
target() {
  awk -v name="$1" -v limit="$2" '
    { med[$1] = $2; cpu[$1] = $6 }
    END {
      r = med[name] / med["floor-1MiB"]
      printf "target %s <= %sx floor: %.1fx %s", name, limit, r, (r <= limit ? "met" : "MISSED")
      if (cpu["floor-1MiB"] > 0) printf " (cpu time: %.1fx)", cpu[name] / cpu["floor-1MiB"]
      printf "\n"
    }' "$out/results"
}
