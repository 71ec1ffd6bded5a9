#!/usr/bin/env bash
# Check the release configuration and cross-build backup-creator for two
# platforms (linux/amd64, darwin/arm64). Called by .ci/run; exits non-zero on
# any failure.
#
# Path A (preferred): GoReleaser, installed from the Go module proxy into a
# cache outside the clone if missing (bounded by a timeout):
#   goreleaser check, then `goreleaser build --snapshot --single-target` per
#   platform, exactly as a release builds them (flags, ldflags, CGO off).
# Path B (fallback, when GoReleaser cannot be installed): plain `go build` with
#   the same flags for the same platforms.
# Both paths run the structural tests of .goreleaser.yaml and the Dockerfiles
# (go test -run Release ./configs: flags, platforms, archive files that exist).
# The script says loudly which path it took.
#
# Both paths then check the binaries: ELF x86-64 and Mach-O arm64, and the
# linux/amd64 one prints the injected version and commit with --version.
#
# Environment:
#   GORELEASER_VERSION          version to install (default below)
#   BC_TOOLS                    tool cache (default ~/.cache/bc-tools)
#   GORELEASER_INSTALL_TIMEOUT  seconds for the install (default 600)
#   RELEASE_CHECK_FULL=1        also run a full snapshot release (all six
#                               platforms, archives, checksums; no container
#                               image) and check the archives' contents
#   RELEASE_CHECK_HOOKS=1       also run the before hooks (go mod tidy, gen-docs);
#                               off by default because tidy rewrites go.mod in a
#                               working tree, and .ci/run checks `go mod tidy -diff`
#                               itself (the full release generates the docs anyway)
#   RELEASE_CHECK_FORCE_FALLBACK=1  take path B even if GoReleaser is available
set -euo pipefail
cd "$(dirname "$0")/.."

# v2.16.0: the newest release that installs here. v2.18+ needs Go >= 1.27;
# v2.17.0 depends on a module the Go module proxy refuses to serve (403).
GORELEASER_VERSION=${GORELEASER_VERSION:-v2.16.0}
BC_TOOLS=${BC_TOOLS:-$HOME/.cache/bc-tools}
INSTALL_TIMEOUT=${GORELEASER_INSTALL_TIMEOUT:-600}
TARGETS=(linux/amd64 darwin/arm64)

banner() { printf '\n######## release-check: %s\n' "$*"; }
fail() { echo "release-check: FAIL: $*" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# --- find or install goreleaser -----------------------------------------
gr_dir="$BC_TOOLS/goreleaser/$GORELEASER_VERSION"
gr="$gr_dir/goreleaser"
have_goreleaser=false
if [[ ${RELEASE_CHECK_FORCE_FALLBACK:-} == 1 ]]; then
  echo "RELEASE_CHECK_FORCE_FALLBACK=1: not using GoReleaser"
elif [[ -x $gr ]]; then
  have_goreleaser=true
else
  echo "installing goreleaser $GORELEASER_VERSION into $gr_dir (timeout ${INSTALL_TIMEOUT}s)"
  mkdir -p "$gr_dir"
  t0=$(date +%s)
  if (cd "$out" && GOBIN="$gr_dir" timeout "$INSTALL_TIMEOUT" \
        go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"); then
    echo "goreleaser installed in $(( $(date +%s) - t0 ))s"
    have_goreleaser=true
  else
    echo "goreleaser could NOT be installed (after $(( $(date +%s) - t0 ))s)"
  fi
fi
if $have_goreleaser && ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "not a git checkout: GoReleaser needs one"
  have_goreleaser=false
fi

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)

# check_binaries VERSION_PATTERN verifies the binaries in $out/<os>_<arch>/.
check_binaries() {
  local t bin magic v
  for t in "${TARGETS[@]}"; do
    bin="$out/${t/\//_}/backup-creator"
    [[ -s $bin ]] || fail "no binary for $t"
    magic=$(od -An -tx1 -N4 "$bin" | tr -d ' \n')
    case $t in
      linux/*)  [[ $magic == 7f454c46 ]] || fail "$t: not an ELF binary ($magic)" ;;
      darwin/*) [[ $magic == cffaedfe ]] || fail "$t: not a 64-bit Mach-O binary ($magic)" ;;
    esac
    printf '  %-14s %s bytes\n' "$t" "$(wc -c <"$bin" | tr -d ' ')"
  done
  if [[ $(go env GOHOSTOS)/$(go env GOHOSTARCH) == linux/amd64 ]]; then
    v=$("$out/linux_amd64/backup-creator" --version)
    echo "  --version: $v"
    [[ $v == backup-creator\ $1* ]] || fail "--version does not show the version ($1): $v"
    [[ $v == *"commit $commit"* ]] || fail "--version does not show the commit $commit: $v"
  fi
}

if $have_goreleaser; then
  banner "PATH A: GoReleaser $("$gr" --version 2>/dev/null | awk '/GitVersion/ {print $2}')"
  "$gr" check
  skip=(--skip=before)
  [[ ${RELEASE_CHECK_HOOKS:-} == 1 ]] && skip=()
  for t in "${TARGETS[@]}"; do
    mkdir -p "$out/${t/\//_}"
    t0=$(date +%s)
    GOOS=${t%/*} GOARCH=${t#*/} "$gr" build --snapshot --clean --single-target "${skip[@]}" \
      -o "$out/${t/\//_}/backup-creator"
    echo "built $t in $(( $(date +%s) - t0 ))s"
  done
  go test -count=1 -run Release ./configs
  check_binaries "*-next" # snapshot.version_template

  if [[ ${RELEASE_CHECK_FULL:-} == 1 ]]; then
    banner "full snapshot release (six platforms, archives, checksums; no image)"
    if [[ ${#skip[@]} -gt 0 ]]; then
      # The hooks are skipped: generate what the archives need ourselves.
      rm -rf build/docs && go run ./scripts/gen-docs build/docs
    fi
    "$gr" release --snapshot --clean --skip=docker "${skip[@]}"
    n=0
    for a in dist/backup-creator_*.tar.gz dist/backup-creator_*.zip; do
      [[ -e $a ]] || continue
      n=$((n + 1))
      if [[ $a == *.zip ]]; then list=$(unzip -Z1 "$a"); else list=$(tar -tzf "$a"); fi
      for want in backup-creator README.md LICENSE configs/backup-creator.example.yaml configs/.env.example \
                  configs/crontab.example configs/systemd/backup-creator.service configs/systemd/backup-creator.timer \
                  configs/kubernetes/cronjob.yaml configs/github-actions/backup.yml \
                  man/backup-creator.1 man/backup-creator-run.1 completions/backup-creator.bash \
                  completions/_backup-creator completions/backup-creator.fish completions/backup-creator.ps1; do
        [[ $a == *windows* && $want == backup-creator ]] && want=backup-creator.exe
        grep -qx "$want" <<<"$list" || fail "$a lacks $want"
      done
      ! grep -q '_test.go$' <<<"$list" || fail "$a ships a test file"
    done
    (( n == 6 )) || fail "expected 6 archives, found $n"
    (cd dist && sha256sum -c ./*_checksums.txt >/dev/null) || fail "checksums do not match"
    echo "6 archives with README, LICENSE, configs/, man pages and completions; checksums match"
    rm -rf build/docs && rmdir build 2>/dev/null || true
  fi
else
  banner "PATH B (FALLBACK): GoReleaser unavailable; plain go build + structural check of .goreleaser.yaml"
  go test -count=1 -run Release ./configs
  # The commit date in UTC, as GoReleaser's {{.CommitDate}}.
  date=$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
  version="0.0.0-check"
  for t in "${TARGETS[@]}"; do
    mkdir -p "$out/${t/\//_}"
    t0=$(date +%s)
    CGO_ENABLED=0 GOOS=${t%/*} GOARCH=${t#*/} go build -trimpath \
      -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date" \
      -o "$out/${t/\//_}/backup-creator" .
    echo "built $t in $(( $(date +%s) - t0 ))s"
  done
  check_binaries "$version"
fi
banner "ok"
