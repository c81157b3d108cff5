#!/usr/bin/env bash
# Times the whole `patrol match` process (read, parse, match, write) over 200,000 real
# CloudTrail events wrapped as EventBridge events, with 100 rules.
#   crates/patrol-core/benches/match-process.sh            # builds the release binary
#   PATROL_BIN=path/to/patrol crates/patrol-core/benches/match-process.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
data="$PWD/target/bench-data"
events="${PATROL_BENCH_EVENTS:-200000}"
if [ ! -s "$data/events.ndjson" ] || [ "$(wc -l < "$data/events.ndjson")" -ne "$events" ]; then
  PATROL_BENCH_WRITE="$data" PATROL_BENCH_EVENTS="$events" cargo bench -q -p patrol-core --bench match
fi
bin="${PATROL_BIN:-}"
if [ -z "$bin" ]; then
  cargo build -q --release -p patrol-cli
  bin=target/release/patrol
fi
bytes=$(wc -c < "$data/events.ndjson")
# Time the process, not the disk: read the file into the page cache first.
cat "$data/events.ndjson" > /dev/null
start=$(date +%s.%N)
"$bin" match --patterns "$data/patterns.jsonl" "$data/events.ndjson" > "$data/matches.ndjson"
end=$(date +%s.%N)
lines=$(wc -l < "$data/matches.ndjson")
matched=$(grep -vc '^\[\]$' "$data/matches.ndjson" || true)
awk -v s="$start" -v e="$end" -v n="$events" -v b="$bytes" -v l="$lines" -v m="$matched" 'BEGIN {
  t = e - s
  printf "patrol match: %d events (%.0f MB) in %.2f s: %.0f events/s, %.0f MB/s, %.0f ns/event; %d output lines, %d events matched\n", n, b / 1e6, t, n / t, b / 1e6 / t, t * 1e9 / n, l, m
}'
