#!/usr/bin/env bash
# Benchmark a full backup from the bundled SFMC emulator (40 ms latency per
# request by default) for several account sizes, and print wall time, requests,
# blocks/s and peak RSS of the backup-creator process.
#
#   bash scripts/bench.sh                      # 10,000 and 100,000 blocks, local disk
#   BENCH_SIZES="10000" bash scripts/bench.sh
#   BENCH_DEST=s3://bench-bucket/run bash scripts/bench.sh   # any --dest (S3 needs the env of scripts/test-servers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${BENCH_SIZES:-"10000 100000"}
LATENCY=${BENCH_LATENCY:-40ms}
CONCURRENCY=${BENCH_CONCURRENCY:-8}
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }

work=$(mktemp -d)
emu_pid=""
cleanup() { [[ -n "$emu_pid" ]] && kill "$emu_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/backup-creator" .
go build -o "$work/sfmc-emulator" ./scripts/sfmc-emulator

printf '%-8s %-10s %-9s %-10s %-11s %-9s %s\n' blocks latency wall_s requests blocks_per_s peak_rss dest
for n in $SIZES; do
  rm -f "$work/emu.env"
  "$work/sfmc-emulator" --addr 127.0.0.1:0 --blocks "$n" --no-large --latency "$LATENCY" \
      --env-file "$work/emu.env" >"$work/emu.log" 2>&1 &
  emu_pid=$!
  for _ in $(seq 600); do [[ -s "$work/emu.env" ]] && break; sleep 0.1; done
  [[ -s "$work/emu.env" ]] || { cat "$work/emu.log"; exit 1; }
  dest=${BENCH_DEST:-$work/dest-$n}
  if [[ -n "${BENCH_DEST:-}" ]]; then base=${BENCH_DEST%%\?*}; q=${BENCH_DEST#"$base"}; dest="$base-$n-$$$q"; fi
  /usr/bin/time -f '%e %M' -o "$work/time" \
    "$work/backup-creator" run --env-file "$work/emu.env" --dest "$dest" --concurrency "$CONCURRENCY" \
      --json --log-level warn >"$work/summary.json" 2>"$work/run.log" || { cat "$work/run.log"; exit 1; }
  read -r wall rss_kb < "$work/time"
  blocks=$(jq '.blocks' "$work/summary.json")
  reqs=$(jq '[.requests | to_entries[] | select(.key != "retries" and .key != "throttled") | .value] | add' "$work/summary.json")
  rate=$(awk -v b="$blocks" -v w="$wall" 'BEGIN { printf "%.0f", (w > 0 ? b / w : 0) }')
  printf '%-8s %-10s %-9s %-10s %-11s %-9s %s\n' "$blocks" "$LATENCY" "$wall" "$reqs" "$rate" "$((rss_kb / 1024)) MiB" "${dest%%/dest-*}"
  kill "$emu_pid"; wait "$emu_pid" 2>/dev/null || true; emu_pid=""
done
