#!/usr/bin/env bash
# `patrol replay` over a CloudTrail archive of at least 2 GiB decompressed (built once into
# target/bench-data/replay/ by the replay-archive bench), with the default rules.toml, on
# 1 core (taskset -c 0, -j 1) and on 2 cores (taskset -c 0,1, -j 2); and, in the same run,
# the floor: the same files only gunzipped and parsed into their Records on as many threads
# (the replay-floor bench). Prints events/s, MB/s (decompressed and stored), peak RSS
# (/usr/bin/time -v), the ratio replay/floor, and whether the targets are met.
#   crates/patrol-cli/benches/replay-bench.sh          # builds what it needs
#   PATROL_BENCH_BIN=path/to/patrol PATROL_BENCH_RUNS=3 crates/patrol-cli/benches/replay-bench.sh
#   PATROL_BENCH_REPLAY_MB=512 ...                     # a smaller archive (MiB decompressed)
set -euo pipefail
cd "$(dirname "$0")/../../.."
root="$PWD"
target="${CARGO_TARGET_DIR:-$root/target}"
data="$root/target/bench-data/replay"
runs="${PATROL_BENCH_RUNS:-1}"
cores_max=$(nproc)

cargo bench -q --locked --profile release -p patrol-cli --bench replay-archive -- "$data"
floor=$(cargo bench --locked --profile release -p patrol-cli --bench replay-floor --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*replay_floor-[^"]*"' | tail -1 | cut -d'"' -f4)
bin="${PATROL_BENCH_BIN:-}"
if [ -z "$bin" ]; then
  cargo build -q --locked --release -p patrol-cli
  bin="$target/release/patrol"
fi
[ -x "$floor" ] || { echo "replay-bench: no replay-floor binary" >&2; exit 2; }

decoded=$(awk '$1 == "decompressed" {print $2}' "$data/bench-archive.txt")
stored=$(awk '$1 == "stored" {print $2}' "$data/bench-archive.txt")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One timed run: sets m_events, m_secs and m_rss (peak RSS in kB).
measure() {
  local kind=$1 cpus=$2 jobs=$3 start end status=0
  start=$(date +%s.%N)
  if [ "$kind" = replay ]; then
    /usr/bin/time -v -o "$tmp/time" taskset -c "$cpus" "$bin" --manifest "$root/rules.toml" \
      replay -j "$jobs" --format json "$data" > "$tmp/summary.json" 2> "$tmp/stderr" || status=$?
    end=$(date +%s.%N)
    # 1 means an alert failed (condition or template): a result, not a crash.
    if [ "$status" -gt 1 ]; then cat "$tmp/stderr" >&2; exit 2; fi
    m_events=$(grep -o '^replayed [0-9]* events' "$tmp/stderr" | awk '{print $2}')
  else
    /usr/bin/time -v -o "$tmp/time" taskset -c "$cpus" "$floor" "$data" -j "$jobs" > "$tmp/floor.json"
    end=$(date +%s.%N)
    m_events=$(grep -o '"events": [0-9]*' "$tmp/floor.json" | awk '{print $2}')
  fi
  m_secs=$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.3f", e - s}')
  m_rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
}

# The best of $runs runs (fastest time; highest RSS seen): sets b_events, b_secs, b_rss.
best() {
  b_events="" b_secs="" b_rss=0
  for _ in $(seq "$runs"); do
    measure "$@"
    if [ -z "$b_secs" ] || awk -v a="$m_secs" -v b="$b_secs" 'BEGIN {exit !(a < b)}'; then
      b_events=$m_events b_secs=$m_secs
    fi
    if [ "$m_rss" -gt "$b_rss" ]; then b_rss=$m_rss; fi
  done
}

echo "archive: $data ($(awk '$1 == "files" {print $2}' "$data/bench-archive.txt") files, $((decoded / 1000000)) MB decompressed, $((stored / 1000000)) MB stored); patrol: $bin; load: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=()
for cores in 1 2; do
  [ "$cores" -le "$cores_max" ] || { echo "skipped $cores cores: this machine has $cores_max"; continue; }
  cpus=$(seq -s, 0 $((cores - 1)))
  best replay "$cpus" "$cores"
  rows+=("$cores replay $b_events $b_secs $b_rss")
  best floor "$cpus" "$cores"
  rows+=("$cores floor $b_events $b_secs $b_rss")
done
printf '%s\n' "${rows[@]}" | awk -v d="$decoded" -v st="$stored" '
  {
    cores = $1; kind = $2; ev = $3; s = $4; rss = $5
    secs[cores, kind] = s; evs[cores, kind] = ev; rsss[cores, kind] = rss
    line[NR] = sprintf("| %-6s | %5d | %10d | %7.2f | %11.0f | %15.0f | %9.1f | %13.0f |", kind, cores, ev, s, ev / s, d / 1e6 / s, st / 1e6 / s, rss / 1024)
    if (kind == "replay" && rss > max_rss) max_rss = rss
    n = NR
  }
  END {
    print "| run    | cores |     events |       s |    events/s | MB/s decompressed | MB/s stored | peak RSS (MB) |"
    print "| ------ | ----: | ---------: | ------: | ----------: | ----------------: | ----------: | ------------: |"
    for (i = 1; i <= n; i++) print line[i]
    print ""
    for (c = 1; c <= 2; c++) if ((c SUBSEP "replay") in secs) {
      printf "replay/floor on %d core%s: %.2fx the floor'"'"'s time\n", c, (c > 1 ? "s" : ""), secs[c, "replay"] / secs[c, "floor"]
      if (evs[c, "replay"] != evs[c, "floor"]) printf "warning: replay saw %d events, the floor %d\n", evs[c, "replay"], evs[c, "floor"]
    }
    print ""
    if ((2 SUBSEP "replay") in secs) {
      eps = evs[2, "replay"] / secs[2, "replay"]
      printf "target >= 500,000 events/s on 2 cores: %s (%.0f)\n", (eps >= 500000 ? "met" : "NOT met"), eps
      r = secs[2, "replay"] / secs[2, "floor"]
      printf "target within 2x of the floor on 2 cores: %s (%.2fx)\n", (r <= 2 ? "met" : "NOT met"), r
    }
    printf "target peak RSS < 200 MB: %s (%.0f MB)\n", (max_rss < 200 * 1024 ? "met" : "NOT met"), max_rss / 1024
  }'
