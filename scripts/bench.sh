#!/usr/bin/env bash
# Benchmark a full backup from the bundled SFMC emulator and print, per case,
# wall time, SFMC requests, blocks, files, blocks/s, files/s, peak RSS of the
# backup-creator process and the ratio of wall time to the serial request
# limit (requests × latency). Run with --help for the flags.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'EOF'
usage: bash scripts/bench.sh [flags]

Backs up a seeded SFMC emulator (127.0.0.1) once per case and prints one row
per case. A case is an account size; each run gets a fresh destination, so
every run is a full backup.

flags:
  --assets N[,N…]       realistic accounts of N assets (about 70 % content blocks
                        of every default type, emails, images, documents, folders,
                        dates over years with ties; the emulator's --assets).
                        Repeatable. Default 10000,100000 unless --blocks is given.
  --blocks N[,N…]       accounts of N plain htmlblocks plus the fixture (the
                        emulator's --blocks; the old benchmark). Repeatable.
  --latency D           latency per SFMC request, a Go duration (default 40ms)
  --list-concurrency K  run with BACKUP_CREATOR_SFMC_LIST_CONCURRENCY=K
                        (sfmc.list_concurrency; 1 = serial listing; default: not
                        set, so the binary's default; K shows "-")
  --concurrency N       run --concurrency (default 8)
  --dest URL            destination (default a new local folder per run); each
                        run appends -<size>-<pid>-<run> to its path, e.g.
                        s3://bench-bucket/run (S3 needs the env of
                        scripts/test-servers.sh)
  --runs R              runs per case; wall and peak RSS are the median (default 1)
  --dry-run             run --dry-run: list only, write nothing
  --bin PATH            benchmark this backup-creator binary instead of building one
  --server-pid PID      also measure the CPU of process PID (a storage server,
                        e.g. versitygw behind an s3:// --dest) during each run
                        and add the column srv_cpu_s
  --markdown            print the rows as a Markdown table
  -h, --help            this text

The environment variables BENCH_SIZES (plain-block sizes, like --blocks),
BENCH_ASSETS, BENCH_LATENCY, BENCH_LIST_CONCURRENCY, BENCH_CONCURRENCY,
BENCH_DEST, BENCH_RUNS, BENCH_BIN and BENCH_SERVER_PID set the same things;
flags win.

columns: case, latency, K (list concurrency), runs, wall_s (median), requests
(SFMC requests of the run's --json summary, without retries), retries
(retries + throttled), blocks, files, blocks_s, files_s, rss_mib (median peak
RSS), cpu_s (median user+sys CPU of backup-creator), emu_cpu_s (median CPU the
emulator spent during a run: if it nears wall_s, the emulator is the limit),
serial_s (requests × latency), wall/serial; with --server-pid also srv_cpu_s
(median CPU that process spent during a run, user+sys: with cpu_s it shows the
server's share of a run on one machine).
EOF
}

die() { echo "bench.sh: $*" >&2; exit 2; }

assets=() blocks=()
add_sizes() { # $1 = array name, $2 = "N[,N…]" or "N N"
  local v
  for v in ${2//,/ }; do
    [[ "$v" =~ ^[0-9]+$ ]] || die "$3 takes counts (N[,N…]), got '$v'"
    eval "$1+=(\"\$v\")"
  done
}
[[ -n "${BENCH_SIZES:-}" ]] && add_sizes blocks "$BENCH_SIZES" BENCH_SIZES
[[ -n "${BENCH_ASSETS:-}" ]] && add_sizes assets "$BENCH_ASSETS" BENCH_ASSETS
latency=${BENCH_LATENCY:-40ms}
list_k=${BENCH_LIST_CONCURRENCY:-}
concurrency=${BENCH_CONCURRENCY:-8}
dest_url=${BENCH_DEST:-}
runs=${BENCH_RUNS:-1}
bin=${BENCH_BIN:-}
server_pid=${BENCH_SERVER_PID:-}
dry_run="" markdown="" cli_sizes=""

need() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --assets) need "$@"; [[ -z "$cli_sizes" ]] && assets=() blocks=(); cli_sizes=1; add_sizes assets "$2" --assets; shift 2 ;;
    --blocks) need "$@"; [[ -z "$cli_sizes" ]] && assets=() blocks=(); cli_sizes=1; add_sizes blocks "$2" --blocks; shift 2 ;;
    --latency) need "$@"; latency=$2; shift 2 ;;
    --list-concurrency) need "$@"; list_k=$2; shift 2 ;;
    --concurrency) need "$@"; concurrency=$2; shift 2 ;;
    --dest) need "$@"; dest_url=$2; shift 2 ;;
    --runs) need "$@"; runs=$2; shift 2 ;;
    --bin) need "$@"; bin=$2; shift 2 ;;
    --server-pid) need "$@"; server_pid=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --markdown) markdown=1; shift ;;
    --assets=*|--blocks=*|--latency=*|--list-concurrency=*|--concurrency=*|--dest=*|--runs=*|--bin=*|--server-pid=*)
      set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
[[ ${#assets[@]} -eq 0 && ${#blocks[@]} -eq 0 ]] && assets=(10000 100000)
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs takes a count ≥ 1, got '$runs'"
[[ "$concurrency" =~ ^[1-9][0-9]*$ ]] || die "--concurrency takes a count ≥ 1, got '$concurrency'"
[[ -z "$list_k" || "$list_k" =~ ^[1-9][0-9]*$ ]] || die "--list-concurrency takes a count ≥ 1, got '$list_k'"
if [[ -n "$server_pid" ]]; then
  [[ "$server_pid" =~ ^[1-9][0-9]*$ ]] || die "--server-pid takes a process id, got '$server_pid'"
  [[ -r "/proc/$server_pid/stat" ]] || die "--server-pid $server_pid: no such process"
fi

# seconds D: a Go duration (ns, us, µs, ms, s, m, h; composites like 1m30s) in seconds.
seconds() {
  awk -v d="$1" 'BEGIN {
    if (d == "0") { print 0; exit }
    split("h m s ms us µs ns", u, " "); f["h"] = 3600; f["m"] = 60; f["s"] = 1; f["ms"] = 1e-3; f["us"] = 1e-6; f["µs"] = 1e-6; f["ns"] = 1e-9
    t = 0; rest = d
    while (rest != "") {
      if (!match(rest, /^[0-9]+(\.[0-9]+)?/)) { exit 1 }
      v = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
      if (match(rest, /^(ns|us|µs|ms|s|m|h)/)) { unit = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1) } else { exit 1 }
      t += v * f[unit]
    }
    printf "%.6f\n", t
  }'
}
lat_s=$(seconds "$latency") || die "--latency takes a Go duration (40ms, 0.25s, 1s), got '$latency'"

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [[ ! -x /usr/bin/time ]]; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null || die "/usr/bin/time is missing and could not be installed (apt-get install time)"
fi

work=$(mktemp -d)
emu_pid=""
cleanup() { [[ -n "$emu_pid" ]] && kill "$emu_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [[ -z "$bin" ]]; then
  go build -o "$work/backup-creator" .
  bin=$work/backup-creator
fi
[[ -x "$bin" ]] || die "--bin $bin is not an executable"
go build -o "$work/sfmc-emulator" ./scripts/sfmc-emulator

cols=(case latency K runs wall_s requests retries blocks files blocks_s files_s rss_mib cpu_s emu_cpu_s serial_s wall/serial)
fmt='%-14s %-8s %-3s %-4s %-8s %-8s %-7s %-7s %-7s %-8s %-8s %-7s %-6s %-9s %-8s %s\n'
if [[ -n "$server_pid" ]]; then
  cols+=(srv_cpu_s)
  fmt='%-14s %-8s %-3s %-4s %-8s %-8s %-7s %-7s %-7s %-8s %-8s %-7s %-6s %-9s %-8s %-11s %s\n'
fi

# cpu_ticks PID: user+sys CPU of a process so far, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
if [[ -n "$markdown" ]]; then
  printf '| %s ' "${cols[@]}"; printf '|\n'; printf '|---%.0s' "${cols[@]}"; printf '|\n'
else
  printf "$fmt" "${cols[@]}"
fi

cases=()
for n in "${assets[@]}"; do cases+=("assets:$n"); done
for n in "${blocks[@]}"; do cases+=("blocks:$n"); done
for c in "${cases[@]}"; do
  kind=${c%%:*} n=${c#*:}
  seed=(--assets "$n" --ties -1)
  [[ "$kind" == blocks ]] && seed=(--blocks "$n")
  rm -f "$work/emu.env"
  "$work/sfmc-emulator" --addr 127.0.0.1:0 "${seed[@]}" --no-large --latency "$latency" \
      --env-file "$work/emu.env" >"$work/emu.log" 2>&1 &
  emu_pid=$!
  for _ in $(seq 1800); do [[ -s "$work/emu.env" ]] && break; kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.1; done
  [[ -s "$work/emu.env" ]] || { cat "$work/emu.log" >&2; echo "bench.sh: the emulator did not start" >&2; exit 1; }
  : >"$work/walls"; : >"$work/rss"; : >"$work/cpu"; : >"$work/emu_cpu"; : >"$work/srv_cpu"
  for r in $(seq "$runs"); do
    dest=$work/dest-$n-$r
    if [[ -n "$dest_url" ]]; then base=${dest_url%%\?*}; q=${dest_url#"$base"}; dest="$base-$n-$$-$r$q"; fi
    env_k=()
    [[ -n "$list_k" ]] && env_k=(BACKUP_CREATOR_SFMC_LIST_CONCURRENCY="$list_k")
    extra=()
    [[ -n "$dry_run" ]] && extra=(--dry-run)
    emu_before=$(cpu_ticks "$emu_pid")
    [[ -n "$server_pid" ]] && srv_before=$(cpu_ticks "$server_pid")
    env "${env_k[@]}" /usr/bin/time -f '%e %M %U %S' -o "$work/time" \
      "$bin" run --env-file "$work/emu.env" --dest "$dest" --concurrency "$concurrency" "${extra[@]}" \
        --json --log-level warn >"$work/summary.json" 2>"$work/run.log" || {
      cat "$work/run.log" >&2; echo "bench.sh: run $r of $c failed" >&2; exit 1; }
    emu_after=$(cpu_ticks "$emu_pid")
    if [[ -n "$server_pid" ]]; then
      srv_after=$(cpu_ticks "$server_pid") || die "--server-pid $server_pid: the process ended during run $r of $c"
      awk -v a="$srv_before" -v b="$srv_after" -v hz="$hz" 'BEGIN { printf "%.2f\n", (b - a) / hz }' >>"$work/srv_cpu"
    fi
    read -r wall rss_kb user_s sys_s <"$work/time"
    echo "$wall" >>"$work/walls"; echo "$rss_kb" >>"$work/rss"
    awk -v u="$user_s" -v s="$sys_s" 'BEGIN { printf "%.2f\n", u + s }' >>"$work/cpu"
    awk -v a="$emu_before" -v b="$emu_after" -v hz="$hz" 'BEGIN { printf "%.2f\n", (b - a) / hz }' >>"$work/emu_cpu"
    # A local destination stays until the script ends: deleting 140,000
    # files just before the next run makes that run wait for the file
    # system (ext4 mounted with discard took 3x longer).
  done
  wall=$(median <"$work/walls")
  rss_mib=$(( $(median <"$work/rss" | cut -d. -f1) / 1024 ))
  cpu=$(median <"$work/cpu"); emu_cpu=$(median <"$work/emu_cpu")
  read -r blocks_n files_n reqs retries < <(jq -r '[.blocks, .files,
      ([.requests // {} | to_entries[] | select(.key != "retries" and .key != "throttled") | .value] | add // 0),
      ((.requests.retries // 0) + (.requests.throttled // 0))] | @tsv' "$work/summary.json")
  row=$(awk -v w="$wall" -v b="$blocks_n" -v f="$files_n" -v q="$reqs" -v l="$lat_s" 'BEGIN {
    s = q * l
    printf "%.0f %.0f %.2f %s", (w > 0 ? b / w : 0), (w > 0 ? f / w : 0), s, (s > 0 ? sprintf("%.2f", w / s) : "-")
  }')
  read -r bps fps serial ratio <<<"$row"
  vals=("$kind $n" "$latency" "${list_k:--}" "$runs" "$wall" "$reqs" "$retries" "$blocks_n" "$files_n" "$bps" "$fps" "$rss_mib" "$cpu" "$emu_cpu" "$serial" "$ratio")
  [[ -n "$server_pid" ]] && vals+=("$(median <"$work/srv_cpu")")
  if [[ -n "$markdown" ]]; then
    printf '| %s ' "${vals[@]}"; printf '|\n'
  else
    printf "$fmt" "${vals[@]}"
  fi
  kill "$emu_pid"; wait "$emu_pid" 2>/dev/null || true; emu_pid=""
done
