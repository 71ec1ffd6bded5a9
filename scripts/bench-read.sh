#!/usr/bin/env bash
# Benchmark the verbs that read one large backup: `list BACKUP` (table and
# --json), `verify`, `restore --dry-run` (into SFMC, the bundled emulator)
# and `restore --dry-run --target` / `restore --target DIR`. It backs up
# 10,000 and 100,000 blocks (plus the emulator's ~650 fixture blocks) from
# the emulator once, with the real `run`, then prints wall time and the
# peak RSS of the backup-creator process per verb. Issue 12 targets: peak
# RSS <= 100 MiB for each at 100k, and close to the 10k figure.
#
#   bash scripts/bench-read.sh
#   BENCH_SIZES="10000" bash scripts/bench-read.sh
#   BENCH_FIXTURE=/tmp/read-fixture bash scripts/bench-read.sh   # keep the backups for the next run
#   BENCH_SFMC=0 bash scripts/bench-read.sh                      # skip restore --dry-run into SFMC
#   BENCH_ASSETS="100000" bash scripts/bench-read.sh             # realistic accounts of N assets (emulator --assets)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${BENCH_ASSETS:-${BENCH_SIZES:-"10000 100000"}}
SEED=(--blocks) # N plain htmlblocks plus the fixture
KIND=blocks
if [[ -n "${BENCH_ASSETS:-}" ]]; then SEED=(--assets); KIND=assets; fi
SFMC=${BENCH_SFMC:-1}
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }

work=$(mktemp -d)
fixture=${BENCH_FIXTURE:-$work/fixture}
mkdir -p "$fixture"
emu_pid=""
stop_emu() { if [[ -n "$emu_pid" ]]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; emu_pid=""; fi; }
cleanup() { stop_emu; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/backup-creator" .
go build -o "$work/sfmc-emulator" ./scripts/sfmc-emulator
bc="$work/backup-creator"

# start_emu N: an emulator seeded with N blocks or assets (the same seed every time).
start_emu() {
  rm -f "$work/emu.env"
  "$work/sfmc-emulator" --addr 127.0.0.1:0 "${SEED[@]}" "$1" --no-large --env-file "$work/emu.env" >"$work/emu.log" 2>&1 &
  emu_pid=$!
  for _ in $(seq 600); do [[ -s "$work/emu.env" ]] && break; sleep 0.1; done
  [[ -s "$work/emu.env" ]] || { cat "$work/emu.log"; exit 1; }
}

# measure VERB BLOCKS ARGS...: run backup-creator ARGS, print one row.
measure() {
  local verb=$1 blocks=$2; shift 2
  /usr/bin/time -f '%e %M' -o "$work/time" "$bc" "$@" --log-level warn >/dev/null 2>"$work/verb.log" \
    || { cat "$work/verb.log"; exit 1; }
  read -r wall rss_kb <"$work/time"
  printf '%-32s %-8s %-8s %s\n' "$verb" "$blocks" "$wall" "$((rss_kb / 1024)) MiB"
}

printf '%-32s %-8s %-8s %s\n' verb blocks wall_s peak_rss
for n in $SIZES; do
  dest=$fixture/dest-$KIND-$n
  if [[ ! -s "$dest/backup-creator.state.json" ]]; then
    rm -rf "$dest"
    start_emu "$n"
    "$bc" run --env-file "$work/emu.env" --dest "$dest" --log-level warn >/dev/null 2>"$work/run.log" || { cat "$work/run.log"; exit 1; }
    stop_emu
  fi
  blocks=$("$bc" list latest --json --dest "$dest" --log-level warn | jq '.backup.blocks')
  measure "list BACKUP" "$blocks" list latest --dest "$dest"
  measure "list BACKUP --json" "$blocks" list latest --json --dest "$dest"
  measure "verify" "$blocks" verify --dest "$dest"
  measure "restore --dry-run --target" "$blocks" restore --dry-run --target "$work/none" --dest "$dest"
  measure "restore --target DIR" "$blocks" restore --target "$work/restored" --dest "$dest"
  rm -rf "$work/restored"
  if [[ "$SFMC" == 1 ]]; then
    # The emulator seeds the same blocks again (new ids, as another account
    # would have them): the plan matches them by customerKey.
    start_emu "$n"
    measure "restore --dry-run (SFMC)" "$blocks" restore --dry-run --env-file "$work/emu.env" --dest "$dest"
    stop_emu
  fi
done
