#!/usr/bin/env bash
# synthgate container entrypoint.
#
#   console          synthgate serve on 0.0.0.0:${SYNTHGATE_PORT:-8000}
#   worker           synthgate sync ${SYNTHGATE_JOBS_DIR:-/jobs} every
#                    ${SYNTHGATE_SYNC_INTERVAL:-3600} seconds (0: once, then exit)
#   <anything else>  passed to synthgate as is (e.g. "approve rel-…")
#
# Both roles wait for the metadata store and migrate it first (opening the
# store migrates it). A worker pass that ends 0 (jobs ran) or 99 (nothing to
# do) is a success; any other exit code is logged, and the loop goes on unless
# SYNTHGATE_SYNC_INTERVAL is 0, in which case it is the container's exit code.
# TERM or INT (docker stop) between passes ends the worker at once with 0.
set -euo pipefail

SYNTHGATE_BIN="${SYNTHGATE_BIN:-synthgate}"
SYNTHGATE_PYTHON="${SYNTHGATE_PYTHON:-python}"
STORE_WAIT_SECONDS="${SYNTHGATE_STORE_WAIT:-60}"
# opening the store migrates it to the newest revision
OPEN_STORE='from synthgate.settings import Settings
from synthgate.store import Store
Store(Settings.from_env().store_url).dispose()'

log() {
  printf '{"ts":"%s","level":"info","event":"entrypoint.%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >&2
}

wait_for_store() {
  local waited=0
  until "$SYNTHGATE_PYTHON" -c "$OPEN_STORE" >/dev/null 2>&1; do
    if [ "$waited" -ge "$STORE_WAIT_SECONDS" ]; then
      log "store_unreachable"
      echo "error: the metadata store could not be opened within ${STORE_WAIT_SECONDS}s" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "store_ready"
}

worker() {
  local interval="${SYNTHGATE_SYNC_INTERVAL:-3600}"
  local jobs_dir="${SYNTHGATE_JOBS_DIR:-/jobs}"
  case "$interval" in
    '' | *[!0-9]*)
      echo "error: SYNTHGATE_SYNC_INTERVAL must be a whole number of seconds, got '$interval'" >&2
      exit 2
      ;;
  esac
  # docker stop sends TERM: end between passes at once, not after the interval
  local sleeper=""
  trap 'log "stopped"; [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
  while true; do
    local code=0
    "$SYNTHGATE_BIN" sync "$jobs_dir" --jobs "${SYNTHGATE_SYNC_JOBS:-1}" || code=$?
    if [ "$code" -eq 0 ] || [ "$code" -eq 99 ]; then
      log "sync_ok"
      code=0
    else
      log "sync_failed_$code"
    fi
    if [ "$interval" -eq 0 ]; then
      exit "$code"
    fi
    sleep "$interval" &
    sleeper=$!
    wait "$sleeper"
    sleeper=""
  done
}

role="${1:-console}"
case "$role" in
  console)
    shift || true
    wait_for_store
    exec "$SYNTHGATE_BIN" serve --host 0.0.0.0 --port "${SYNTHGATE_PORT:-8000}" "$@"
    ;;
  worker)
    wait_for_store
    worker
    ;;
  *)
    exec "$SYNTHGATE_BIN" "$@"
    ;;
esac
