#!/usr/bin/env bash
# Apertium APY (real, offline machine translation from Debian packages) on loopback, without Docker.
#   deploy/local/apertium/apy.sh up      start it unless it answers, wait until it lists its pairs
#   deploy/local/apertium/apy.sh down    stop it (SIGTERM, then SIGKILL after a grace period)
#   deploy/local/apertium/apy.sh status  exit 0 when it answers on its port
#   deploy/local/apertium/apy.sh url     print its base URL
# Settings (environment): APY_PORT (2737), APY_HOST (127.0.0.1), APERTIUM_MODES (/usr/share/apertium/modes),
# APY_LANG_NAMES (/usr/share/apertium-apy/langNames.db), GUNMA_STATE_DIR (<repo>/.local),
# APY_START_TIMEOUT (60 s), APY_PYTHON (/usr/bin/python3: APY lives in the system Python, not the venv).
# Packages: apertium-apy apertium-eng-spa apertium-es-pt (installed by ./dev setup).
# `up` is idempotent: a server that already answers on the port is left alone.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
APY_PORT="${APY_PORT:-2737}"
APY_HOST="${APY_HOST:-127.0.0.1}"
APERTIUM_MODES="${APERTIUM_MODES:-/usr/share/apertium/modes}"
APY_LANG_NAMES="${APY_LANG_NAMES:-/usr/share/apertium-apy/langNames.db}"
APY_PYTHON="${APY_PYTHON:-/usr/bin/python3}"
APY_START_TIMEOUT="${APY_START_TIMEOUT:-60}"
STATE_DIR="${GUNMA_STATE_DIR:-$repo/.local}"
APY_DIR="$STATE_DIR/apertium-$APY_PORT"
PID_FILE="$APY_DIR/apy.pid"
URL="http://$APY_HOST:$APY_PORT"

say() { printf 'apertium: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

answers() {
  "$APY_PYTHON" - "$URL/listPairs" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if json.load(response).get("responseStatus") == 200 else 1)
PY
}

running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid; pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

need_tools() {
  "$APY_PYTHON" -c 'import apertium_apy' 2>/dev/null \
    || die "apertium-apy not found for $APY_PYTHON: install the Debian packages (./dev setup, or apt-get install apertium-apy apertium-eng-spa apertium-es-pt)"
  ls "$APERTIUM_MODES"/*.mode >/dev/null 2>&1 \
    || die "no language pairs in $APERTIUM_MODES: apt-get install apertium-eng-spa apertium-es-pt"
}

up() {
  if answers; then say "already answering on $URL"; return 0; fi
  need_tools
  mkdir -p "$APY_DIR"
  if pid="$(running_pid)"; then
    say "process $pid is starting; waiting"
  else
    # setsid: APY outlives the shell that started it; Ctrl-C in a terminal does not reach it.
    LANG=C.UTF-8 LC_ALL=C.UTF-8 setsid "$APY_PYTHON" "$here/apy_server.py" --host "$APY_HOST" \
      --port "$APY_PORT" --lang-names "$APY_LANG_NAMES" --timeout 30 --max-pipes-per-pair 2 \
      "$APERTIUM_MODES" >"$APY_DIR/apy.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local deadline=$(( $(date +%s) + APY_START_TIMEOUT ))
  until answers; do
    running_pid >/dev/null || { tail -n 30 "$APY_DIR/apy.log" >&2 2>/dev/null; die "APY exited during start-up (log: $APY_DIR/apy.log)"; }
    [ "$(date +%s)" -lt "$deadline" ] || die "APY did not answer within ${APY_START_TIMEOUT}s (log: $APY_DIR/apy.log)"
    sleep 0.2
  done
  say "Apertium APY answers on $URL (pairs from $APERTIUM_MODES)"
}

down() {
  local pid
  if ! pid="$(running_pid)"; then say "not running"; rm -f "$PID_FILE"; return 0; fi
  # APY starts one pipeline process per pair in its own process group: stop the whole group.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then say "still running after 15 s, killing $pid"; kill -KILL -- "-$pid" 2>/dev/null || true; fi
  rm -f "$PID_FILE"
  say "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
