#!/usr/bin/env bash
# Benchmark prune: write a year of daily backups of a 10,000-block account
# (about 1 % of the blocks changed each day, a deletion every tenth day) and
# prune it to --keep-daily 7 --keep-weekly 4 --keep-monthly 12. Prints wall
# time, copies, deletes, bytes carried and freed, and peak RSS, then checks
# that every kept backup verifies.
#
#   bash scripts/bench-prune.sh                    # local disk
#   BENCH_DEST=s3://bench-bucket bash scripts/bench-prune.sh   # S3 (env of scripts/test-servers.sh)
#   BENCH_DAYS=90 BENCH_BLOCKS=5000 bash scripts/bench-prune.sh
#   BENCH_HOT=0.1 bash scripts/bench-prune.sh      # the daily changes fall on a hot tenth of the blocks
set -euo pipefail
cd "$(dirname "$0")/.."
DAYS=${BENCH_DAYS:-365}
BLOCKS=${BENCH_BLOCKS:-10000}
CHANGE=${BENCH_CHANGE:-0.01}
HOT=${BENCH_HOT:-1}   # share of the blocks the daily changes fall on
POLICY=${BENCH_POLICY:-"--keep-daily 7 --keep-weekly 4 --keep-monthly 12"}
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/backup-creator" .
go build -o "$work/bench-prune" ./scripts/bench-prune
dest=${BENCH_DEST:-$work/dest}
if [[ -n "${BENCH_DEST:-}" ]]; then base=${BENCH_DEST%%\?*}; q=${BENCH_DEST#"$base"}; dest="$base/prune-$$$q"; fi

t0=$(date +%s.%N)
"$work/bench-prune" --dest "$dest" --days "$DAYS" --blocks "$BLOCKS" --change "$CHANGE" --hot "$HOT"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v d="$DAYS" -v n="$BLOCKS" 'BEGIN { printf "generated %s daily backups of %s blocks in %.1f s\n", d, n, b - a }'

# shellcheck disable=SC2086
/usr/bin/time -f '%e %M' -o "$work/time" \
  "$work/backup-creator" prune --dest "$dest" $POLICY --json --log-level warn >"$work/prune.json" 2>"$work/prune.log" \
  || { cat "$work/prune.log"; exit 1; }
read -r wall rss_kb <"$work/time"
jq -r --arg wall "$wall" --arg rss "$((rss_kb / 1024))" '
  "prune: \($wall) s wall, peak RSS \($rss) MiB; kept \(.keep | length), removed \(.remove | length); " +
  "\(.copies) copies (\(.carried.blocks) block versions, \(.carried.bytes / 1048576 | floor) MiB carried), " +
  "\(.deletes) deletes, \(.freed.bytes / 1048576 | floor) MiB freed"' "$work/prune.json"
"$work/backup-creator" verify --all --dest "$dest" --log-level warn >/dev/null && echo "verify --all: every kept backup intact"
