#!/usr/bin/env bash
# Try backup-creator with no SFMC account: builds the binary and the bundled
# SFMC emulator, starts the emulator on 127.0.0.1 with seeded content blocks,
# runs `backup-creator run` against it into ./backups (local storage, the
# default), lists the result, and stops the emulator.
#
#   bash scripts/demo.sh            # backs up into ./backups
#   bash scripts/demo.sh --check    # CI: into a temp dir, fails unless it worked
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[[ "${1:-}" == "--check" ]] && check=1

work=$(mktemp -d)
emu_pid=""
cleanup() {
  [[ -n "$emu_pid" ]] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "building backup-creator and the SFMC emulator..." >&2
go build -o "$work/backup-creator" .
go build -o "$work/sfmc-emulator" ./scripts/sfmc-emulator

"$work/sfmc-emulator" --addr 127.0.0.1:0 --env-file "$work/emulator.env" >"$work/emulator.log" 2>&1 &
emu_pid=$!
for _ in $(seq 100); do
  [[ -s "$work/emulator.env" ]] && break
  kill -0 "$emu_pid" 2>/dev/null || { cat "$work/emulator.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$work/emulator.env" ]] || { echo "emulator did not start" >&2; cat "$work/emulator.log" >&2; exit 1; }

dest=./backups
(( check )) && dest="$work/backups"

echo "running: backup-creator run --env-file <emulator credentials> --dest $dest" >&2
"$work/backup-creator" run --env-file "$work/emulator.env" --dest "$dest" --log-format console
if "$work/backup-creator" --help 2>/dev/null | grep -q ' list '; then
  "$work/backup-creator" list --env-file "$work/emulator.env" --dest "$dest"
fi
if (( check )); then
  ls "$dest"/backup_*/manifest.json >/dev/null
  # A second run finds nothing new and still exits 0.
  "$work/backup-creator" run --env-file "$work/emulator.env" --dest "$dest" --json > "$work/second.json"
  grep -q '"status": "complete"' "$work/second.json"
  grep -q '"blocks": 0' "$work/second.json"
  echo "demo check: ok"
fi
