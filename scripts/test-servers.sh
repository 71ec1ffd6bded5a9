#!/usr/bin/env bash
# test-servers.sh — local storage servers for the S3 / GCS / Azure Blob
# integration tests (loopback only).
#
# Installs pinned emulators into $TOOLS_DIR (outside the clone, reused across
# runs), starts them on 127.0.0.1 with free ports and exports the env vars the
# tests in pkg/storage/... read:
#
#   S3 (versitygw, plain HTTP)  S3_TEST_ENDPOINT S3_TEST_REGION S3_TEST_ACCESS_KEY S3_TEST_SECRET_KEY
#   S3 (versitygw, HTTPS)       S3_TLS_TEST_ENDPOINT S3_TEST_CA_FILE (self-signed cert made at start)
#   GCS (fake-gcs-server)       STORAGE_EMULATOR_HOST
#   Azure Blob (Azurite)        AZURE_STORAGE_CONNECTION_STRING
#
# Sourced (e.g. from .ci/run):
#   . scripts/test-servers.sh
#   start_test_servers            # installs if needed, starts, exports, traps EXIT
#   go test -race ./...
# If the caller has its own EXIT trap, set TEST_SERVERS_NO_TRAP=1 before
# start_test_servers and call stop_test_servers from that trap.
#
# Standalone:
#   scripts/test-servers.sh install          # only install (idempotent, version-stamped)
#   scripts/test-servers.sh start            # start detached, print export lines
#   eval "$(scripts/test-servers.sh env)"    # export the env vars of the running servers
#   scripts/test-servers.sh stop             # stop the servers started by "start"
#   scripts/test-servers.sh run CMD [ARG...] # start, run CMD with the env, stop
#
# Versions are pinned; override with VERSITYGW_VERSION, FAKE_GCS_VERSION,
# AZURITE_VERSION. TOOLS_DIR defaults to ~/.cache/test-servers. The standalone
# mode keeps its state (pids, env, logs, data) in TEST_SERVERS_STATE.

VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
FAKE_GCS_VERSION=${FAKE_GCS_VERSION:-v1.56.1}
AZURITE_VERSION=${AZURITE_VERSION:-3.37.0}
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/test-servers}
TEST_SERVERS_STATE=${TEST_SERVERS_STATE:-${TMPDIR:-/tmp}/backup-creator-test-servers-$(id -u)}
SRV_PIDS=()
SRV_DIR=${SRV_DIR:-}

# Well-known Azurite development account key (public, documented by Microsoft).
_AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

_free_port() { # a random loopback port nobody listens on (small race is acceptable)
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
      echo "$p"
      return
    }
  done
}

_wait_ready() { # pid url name: wait until url answers with any HTTP status
  local pid=$1 url=$2 name=$3 _
  for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited early:" >&2
      cat "$SRV_DIR/$name.log" >&2
      return 1
    fi
    [[ $(curl -sk -o /dev/null -m 1 -w '%{http_code}' "$url") != 000 ]] && return 0
    sleep 0.1
  done
  echo "$name not ready after 30s" >&2
  cat "$SRV_DIR/$name.log" >&2
  return 1
}

install_test_servers() {
  mkdir -p "$TOOLS_DIR/bin" || return 1
  local want="versitygw@$VERSITYGW_VERSION fake-gcs-server@$FAKE_GCS_VERSION azurite@$AZURITE_VERSION"
  [[ "$(cat "$TOOLS_DIR/versions" 2>/dev/null)" == "$want" ]] && return 0
  # npm is network-bound: let it run beside the two Go builds.
  npm install --prefix "$TOOLS_DIR/azurite" --no-audit --no-fund --no-save --loglevel=error \
    "azurite@$AZURITE_VERSION" >"$TOOLS_DIR/npm.log" 2>&1 &
  local npm_pid=$!
  # Build outside any module so no project go.mod is consulted.
  (cd "$TOOLS_DIR" &&
    GOBIN="$TOOLS_DIR/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" &&
    GOBIN="$TOOLS_DIR/bin" go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_VERSION") || {
    wait "$npm_pid"
    return 1
  }
  wait "$npm_pid" || {
    cat "$TOOLS_DIR/npm.log" >&2
    return 1
  }
  echo "$want" >"$TOOLS_DIR/versions"
}

stop_test_servers() {
  local p alive _
  for p in "${SRV_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do # up to 5 s for a clean exit, then SIGKILL
    alive=0
    for p in "${SRV_PIDS[@]}"; do
      if kill -0 "$p" 2>/dev/null; then alive=1; fi
    done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${SRV_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  SRV_PIDS=()
  if [[ -n ${SRV_DIR:-} ]]; then rm -rf "$SRV_DIR"; fi
  SRV_DIR=
  return 0
}

# _start_servers starts the four servers below $SRV_DIR and exports the env vars.
# It does not install and does not set a trap.
_start_servers() {
  local p

  # S3 over plain HTTP: versitygw over a POSIX dir (absolute paths: it changes directory).
  # --keep-alive: without it versitygw answers every request with "Connection: close",
  # so each request pays a new connection (real S3 keeps them open).
  p=$(_free_port)
  mkdir -p "$SRV_DIR/s3"
  ROOT_ACCESS_KEY=testkey ROOT_SECRET_KEY=testsecret \
    "$TOOLS_DIR/bin/versitygw" --port "127.0.0.1:$p" --keep-alive --quiet posix "$SRV_DIR/s3" >"$SRV_DIR/versitygw.log" 2>&1 &
  SRV_PIDS+=($!)
  _wait_ready $! "http://127.0.0.1:$p/" versitygw || return 1
  export S3_TEST_ENDPOINT="http://127.0.0.1:$p" S3_TEST_REGION=us-east-1 \
    S3_TEST_ACCESS_KEY=testkey S3_TEST_SECRET_KEY=testsecret

  # S3 over HTTPS: a second versitygw with a self-signed certificate for 127.0.0.1,
  # so the SDK streams aws-chunked uploads as it does against real S3.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$SRV_DIR/tls-key.pem" -out "$SRV_DIR/tls-cert.pem" >"$SRV_DIR/openssl.log" 2>&1 || {
    cat "$SRV_DIR/openssl.log" >&2
    return 1
  }
  p=$(_free_port)
  mkdir -p "$SRV_DIR/s3tls"
  ROOT_ACCESS_KEY=testkey ROOT_SECRET_KEY=testsecret \
    "$TOOLS_DIR/bin/versitygw" --port "127.0.0.1:$p" --keep-alive --cert "$SRV_DIR/tls-cert.pem" --key "$SRV_DIR/tls-key.pem" \
    --quiet posix "$SRV_DIR/s3tls" >"$SRV_DIR/versitygw-tls.log" 2>&1 &
  SRV_PIDS+=($!)
  _wait_ready $! "https://127.0.0.1:$p/" versitygw-tls || return 1
  export S3_TLS_TEST_ENDPOINT="https://127.0.0.1:$p" S3_TEST_CA_FILE="$SRV_DIR/tls-cert.pem"

  # GCS: fake-gcs-server in memory; -public-host must match the host in STORAGE_EMULATOR_HOST.
  p=$(_free_port)
  "$TOOLS_DIR/bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$p" -public-host 127.0.0.1 \
    -backend memory -log-level warn >"$SRV_DIR/fake-gcs-server.log" 2>&1 &
  SRV_PIDS+=($!)
  _wait_ready $! "http://127.0.0.1:$p/_internal/healthcheck" fake-gcs-server || return 1
  export STORAGE_EMULATOR_HOST="127.0.0.1:$p"

  # Azure Blob: Azurite in memory, no telemetry; run from SRV_DIR (it may write there).
  p=$(_free_port)
  mkdir -p "$SRV_DIR/azurite"
  (cd "$SRV_DIR/azurite" && exec "$TOOLS_DIR/azurite/node_modules/.bin/azurite-blob" \
    --blobHost 127.0.0.1 --blobPort "$p" --inMemoryPersistence --disableTelemetry \
    --skipApiVersionCheck --silent) >"$SRV_DIR/azurite.log" 2>&1 &
  SRV_PIDS+=($!)
  _wait_ready $! "http://127.0.0.1:$p/devstoreaccount1?comp=list" azurite || return 1
  export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$_AZURITE_KEY;BlobEndpoint=http://127.0.0.1:$p/devstoreaccount1;"
}

# start_test_servers is the sourced entry point: install, start, export, and
# stop on shell exit (unless TEST_SERVERS_NO_TRAP=1).
start_test_servers() {
  install_test_servers || return 1
  SRV_DIR=$(mktemp -d) || return 1
  [[ ${TEST_SERVERS_NO_TRAP:-0} == 1 ]] || trap stop_test_servers EXIT
  _start_servers || {
    stop_test_servers
    return 1
  }
}

_env_lines() {
  local v
  for v in S3_TEST_ENDPOINT S3_TEST_REGION S3_TEST_ACCESS_KEY S3_TEST_SECRET_KEY \
    S3_TLS_TEST_ENDPOINT S3_TEST_CA_FILE STORAGE_EMULATOR_HOST AZURE_STORAGE_CONNECTION_STRING; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

_standalone_stop() {
  [[ -f $TEST_SERVERS_STATE/pids ]] || return 0
  mapfile -t SRV_PIDS <"$TEST_SERVERS_STATE/pids"
  SRV_DIR=$TEST_SERVERS_STATE
  stop_test_servers
}

_main() {
  set -euo pipefail
  case "${1:-}" in
  install)
    install_test_servers
    ;;
  start)
    _standalone_stop
    install_test_servers
    mkdir -p "$TEST_SERVERS_STATE"
    SRV_DIR=$TEST_SERVERS_STATE
    if ! _start_servers; then
      stop_test_servers
      exit 1
    fi
    printf '%s\n' "${SRV_PIDS[@]}" >"$SRV_DIR/pids"
    _env_lines >"$SRV_DIR/env"
    cat "$SRV_DIR/env"
    ;;
  env)
    if [[ ! -f $TEST_SERVERS_STATE/env ]]; then
      echo "test servers are not running (start them with: $0 start)" >&2
      exit 1
    fi
    cat "$TEST_SERVERS_STATE/env"
    ;;
  stop)
    _standalone_stop
    ;;
  run)
    shift
    [[ $# -gt 0 ]] || {
      echo "usage: $0 run CMD [ARG...]" >&2
      exit 2
    }
    start_test_servers
    local rc=0
    "$@" || rc=$?
    exit "$rc"
    ;;
  *)
    echo "usage: $0 install|start|env|stop|run CMD [ARG...]" >&2
    exit 2
    ;;
  esac
}

# Run _main only when executed, not when sourced.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  _main "$@"
fi
