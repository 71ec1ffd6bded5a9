#!/usr/bin/env bash
# Check the recipes in configs/ with the real tools:
#   1. go test ./configs (every YAML parses; the example config has every key,
#      loads and validates; the CronJob is Forbid + non-root; every recipe runs
#      backup-creator only with flags that exist),
#   2. the built binary's own `config validate` accepts the example config with
#      .env.example, in an empty environment,
#   3. systemd-analyze verify and an offline security score for the units
#      (installed with apt-get when missing and possible; skipped loudly if not).
# Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== check-configs: %s\n' "$*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say "go test ./configs"
go test -count=1 ./configs

say "build backup-creator"
CGO_ENABLED=0 go build -trimpath -o "$tmp/backup-creator" .

say "config validate: configs/backup-creator.example.yaml + configs/.env.example"
# An empty environment and an empty working directory, so nothing but the two
# files can make the configuration valid.
(cd "$tmp" && env -i PATH=/usr/bin:/bin HOME="$tmp" \
  "$tmp/backup-creator" config validate \
    --config "$OLDPWD/configs/backup-creator.example.yaml" \
    --env-file "$OLDPWD/configs/.env.example")

say "systemd units"
if ! command -v systemd-analyze >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing systemd (for systemd-analyze)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
  fi
fi
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze is not available; the systemd units were NOT verified"
  exit 0
fi
systemd-analyze --version | head -1
# verify needs ExecStart's binary to exist: point it at the one just built.
for u in backup-creator.service backup-creator.timer; do
  sed "s#/usr/local/bin/backup-creator#$tmp/backup-creator#g" "configs/systemd/$u" >"$tmp/$u"
done
# verify only warns (exit 0) about unknown or malformed settings: any output
# is a finding.
out=$(systemd-analyze verify "$tmp/backup-creator.service" "$tmp/backup-creator.timer" 2>&1) || {
  echo "$out"; echo "FAIL: systemd-analyze verify"; exit 1; }
if [[ -n "$out" ]]; then echo "$out"; echo "FAIL: systemd-analyze verify reported findings"; exit 1; fi
echo "systemd-analyze verify: ok"
# Exposure 0.0 (locked down) .. 10.0 (unsafe); keep the service at or below 2.0.
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
  systemd-analyze security --offline=true --threshold=20 "$tmp/backup-creator.service" | tail -1
else
  echo "systemd-analyze security --offline not supported by this systemd: exposure not scored"
fi
echo "check-configs: ok"
