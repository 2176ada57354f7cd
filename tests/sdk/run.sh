#!/usr/bin/env bash
# Runs tests/sdk/conformance.py (Google's official Python SDK, google-genai pinned in requirements.txt) against
# voxlive's embedded server over TLS. Starts three servers (echo responder; scripted responders for the tool
# call and for an interaction of several utterances),
# waits for their announce lines, runs the scenarios, stops the servers, exits with the conformance status.
#
#   tests/sdk/run.sh [conformance.py args...]     e.g. tests/sdk/run.sh --scenarios audio -v
#   tests/sdk/run.sh --setup-only                 only create/refresh the venv
#
# Environment:
#   VOXLIVE_BIN        server binary (default $CARGO_TARGET_DIR or target, /debug/voxlive; built with `cargo build` if missing).
#                      A Rust integration test should pass env!("CARGO_BIN_EXE_voxlive").
#   VOXLIVE_SDK_VENV   venv with the SDK (default target/sdk-venv; created and pip-installed when missing)
#   VOXLIVE_TEST_KEY   API key the servers require and the SDK sends (default: a random one)
#   VOXLIVE_SDK_TIMEOUT  seconds per scenario (default 20); VOXLIVE_SERVE_TIMEOUT  seconds to wait for the
#                      announce line (default 30)
# Exit status: 0 all scenarios passed; 1 a scenario failed; 3 harness trouble (venv, server did not start).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

setup_only=0
case "${1:-}" in
  --setup-only) setup_only=1; shift ;;
esac

venv=${VOXLIVE_SDK_VENV:-$repo/target/sdk-venv}
case "$venv" in /*) ;; *) venv=$repo/$venv ;; esac
req=$repo/tests/sdk/requirements.txt
want=$(sed -n 's/^google-genai==//p' "$req")

die() { echo "sdk: $*" >&2; exit 3; }

# --- venv with the pinned SDK ---
venv_ok() {
  [ -x "$venv/bin/python" ] && "$venv/bin/python" - "$want" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(version("google-genai") != sys.argv[1])
PY
}
if ! venv_ok; then
  command -v python3 >/dev/null || die "python3 not found (run scripts/setup.sh)"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  echo "sdk: installing google-genai==$want into $venv"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q --no-input -r "$req" \
    || die "pip install -r $req failed"
  venv_ok || die "google-genai $want not importable from $venv"
fi
[ "$setup_only" = 1 ] && { echo "sdk: venv ready ($venv, google-genai $want)"; exit 0; }

# --- the servers ---
bin=${VOXLIVE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/voxlive}
if [ ! -x "$bin" ]; then
  [ -z "${VOXLIVE_BIN:-}" ] || die "VOXLIVE_BIN=$bin is not an executable"
  echo "sdk: building $bin"
  cargo build --quiet --bin voxlive || die "cargo build failed"
fi
server=("$bin")

export VOXLIVE_TEST_KEY=${VOXLIVE_TEST_KEY:-sdk-test-$RANDOM$RANDOM$RANDOM}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxlive-sdk.XXXXXX")
pids=()
cleanup() {
  local p
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"}; do   # 5 s to shut down gracefully, then SIGKILL
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME [serve args...]: starts a server, waits for "voxlive: serving wss://HOST:PORT", sets $url.
start() {
  local name=$1; shift
  "${server[@]}" serve --addr 127.0.0.1:0 --tls --cert-out "$tmp/$name.pem" --api-key-env VOXLIVE_TEST_KEY "$@" \
    </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  local deadline=$((SECONDS + ${VOXLIVE_SERVE_TIMEOUT:-30})) line=""
  while :; do
    line=$(grep -m1 -oE 'serving wss?://[^[:space:]]+' "$tmp/$name.out" 2>/dev/null || true)
    [ -n "$line" ] && [ -s "$tmp/$name.pem" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "sdk: server '$name' exited before announcing itself; its output:" >&2
      tail -n 20 "$tmp/$name.out" "$tmp/$name.err" >&2; exit 3
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "sdk: server '$name' did not print 'voxlive: serving wss://...' (and write its certificate) in time" >&2
      tail -n 20 "$tmp/$name.out" "$tmp/$name.err" >&2; exit 3
    fi
    sleep 0.1
  done
  line=${line#serving }
  case "$line" in
    wss://*) url="https://${line#wss://}" ;;
    *) echo "sdk: server '$name' announced $line, but the SDK needs TLS (wss)" >&2; exit 3 ;;
  esac
  url=${url%/}
}

start echo --responder echo
echo_url=$url
start tool --responder "script:$repo/tests/fixtures/sdk_tool_script.toml"
tool_url=$url
start utter --responder "script:$repo/tests/fixtures/sdk_utterances_script.toml"
utter_url=$url
cat "$tmp/echo.pem" "$tmp/tool.pem" "$tmp/utter.pem" > "$tmp/trust.pem"
echo "sdk: servers up: echo $echo_url, tool $tool_url, utterances $utter_url"

status=0
SSL_CERT_FILE="$tmp/trust.pem" "$venv/bin/python" "$repo/tests/sdk/conformance.py" \
  --base-url "$echo_url" --tool-base-url "$tool_url" --utterance-base-url "$utter_url" \
  --ca-file "$tmp/trust.pem" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  for n in echo tool utter; do
    echo "--- server '$n' output (last 30 lines) ---" >&2
    tail -n 30 "$tmp/$n.out" "$tmp/$n.err" >&2 || true
  done
fi
exit "$status"
