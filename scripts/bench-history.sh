#!/usr/bin/env bash
# Time history, diff and show over large destinations and print wall time
# and peak RSS (/usr/bin/time) of the backup-creator process:
#   - history of one block over 365 daily backups of a 10,000-block account
#     (it changed every day: 365 events);
#   - diff of two 100,000-block states: a full backup against the nightly one
#     after it (1,200 blocks touched), as text and --json; and, the worst case,
#     a nightly backup against a full one after it (every id touched);
#   - show of one block.
# The fixtures are written by the Go test TestWriteBenchFixture (about 1 GiB,
# a minute or two); BENCH_FIXTURE=DIR keeps them there for the next run.
#
#   bash scripts/bench-history.sh
#   BENCH_FIXTURE=/var/tmp/bc-bench bash scripts/bench-history.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fixture=${BENCH_FIXTURE:-$work/fixture}
go build -o "$work/backup-creator" .
if [[ ! -f "$fixture/diff/backup_20251103/manifest.json" ]]; then
  rm -rf "$fixture"
  echo "writing the fixtures into $fixture ..." >&2
  BACKUP_CREATOR_BENCH_FIXTURE="$fixture" go test -count=1 -timeout 60m -run '^TestWriteBenchFixture$' ./pkg/backup/history >&2
fi

bench() { # name, then the command's arguments
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$work/backup-creator" "$@" --log-level warn >"$work/out" 2>"$work/err" ||
    { echo "$name failed:"; cat "$work/err"; exit 1; }
  read -r wall rss_kb < "$work/time"
  printf '%-34s %-8s %-9s %s\n' "$name" "$wall" "$((rss_kb / 1024)) MiB" "$(tail -n 1 "$work/out" | cut -c1-60)"
}

printf '%-34s %-8s %-9s %s\n' case wall_s peak_rss "last line of output"
bench "binary baseline (--version)" --version
bench "list (100k-block destination)" list --dest "$fixture/diff"
bench "history 365 backups x 10k blocks" history --id 1000001 --dest "$fixture/history"
bench "history --json" history --id 1000001 --json --dest "$fixture/history"
bench "diff 100k states (nightly)" diff backup_20251101 backup_20251102 --dest "$fixture/diff"
bench "diff --json (nightly)" diff backup_20251101 backup_20251102 --json --dest "$fixture/diff"
bench "diff --stat (nightly)" diff backup_20251101 backup_20251102 --stat --dest "$fixture/diff"
bench "diff 100k states (after --full)" diff backup_20251102 backup_20251103 --dest "$fixture/diff"
bench "show (100k-block destination)" show --id 1000097 --dest "$fixture/diff"
