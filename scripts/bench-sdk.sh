#!/usr/bin/env bash
# voxlive side by side with Google's official Python client (google-genai, pinned in tests/sdk/requirements.txt):
# one external `voxlive serve --tls` process, the same WAVs, both clients streaming them in real time with the
# server's VAD, alternating which goes first, repeated. Prints the medians over the repetitions and the ratios
# voxlive / SDK of CPU per audio second, peak RSS, start -> setupComplete, and end of speech -> first reply byte.
#
#   scripts/bench-sdk.sh [--reps N] [--aec] [WAV...]
#     --reps N   repetitions of each client (default 5; this machine's noise is about +-20%: keep N >= 5)
#     --aec      voxlive with echo cancellation on (default off: the SDK client cancels no echo either)
#     WAV...     16 kHz mono WAVs (default: the one-utterance files of models/bench)
#
# voxlive's side is `voxlive --endpoint https://... bench --mode hands-free --vad server` (its real audio
# engine on a paced WAV source and a clock-driven sink); the SDK's side is benches/sdk_client.py (the cookbook's
# 20 ms chunks, reply buffered). Each side is one process per repetition, measuring its own CPU and RSS.
# Environment: VOXLIVE_BIN (default target/release/voxlive, built if missing), VOXLIVE_SDK_VENV (default
# target/sdk-venv, created by tests/sdk/run.sh --setup-only).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

reps=5
aec=(--no-aec)
wavs=()
# the usage is the comment block at the top: print it up to the first line of code, so editing the
# header never drags `set -euo pipefail` or `cd` into --help
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
# a wrong command line is exit 2 with one line naming the flag (not bash's own `line N: ...` error)
usage_error() { echo "bench-sdk: $*; see --help" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --reps) [ $# -ge 2 ] || usage_error "--reps needs a number"; reps=$2; shift 2 ;;
    --aec) aec=(); shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) wavs+=("$1"); shift ;;
  esac
done
case "$reps" in ''|*[!0-9]*|????*) usage_error "--reps $reps: give a whole number 1..100" ;; esac
[ "$reps" -ge 1 ] && [ "$reps" -le 100 ] || usage_error "--reps $reps: give 1..100"
[ ${#wavs[@]} -gt 0 ] || wavs=(models/bench/01_short.wav models/bench/02_medium.wav models/bench/04_noisy.wav)

die() { echo "bench-sdk: $*" >&2; exit 3; }
bin=${VOXLIVE_BIN:-$repo/target/release/voxlive}
if [ ! -x "$bin" ]; then
  [ -z "${VOXLIVE_BIN:-}" ] || die "VOXLIVE_BIN=$bin is not an executable"
  echo "bench-sdk: building $bin (release: a debug build would not be a fair comparison)" >&2
  cargo build --release --quiet --bin voxlive || die "cargo build --release failed"
fi
venv=${VOXLIVE_SDK_VENV:-$repo/target/sdk-venv}
[ -x "$venv/bin/python" ] || tests/sdk/run.sh --setup-only >&2 || die "no SDK venv"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxlive-bench-sdk.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export VOXLIVE_BENCH_KEY=bench-$RANDOM$RANDOM
"$bin" serve --addr 127.0.0.1:0 --tls --cert-out "$tmp/cert.pem" --api-key-env VOXLIVE_BENCH_KEY \
  </dev/null >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
url=""
for _ in $(seq 300); do
  url=$(grep -m1 -oE 'serving wss://[^[:space:]]+' "$tmp/serve.out" 2>/dev/null || true)
  [ -n "$url" ] && [ -s "$tmp/cert.pem" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; die "voxlive serve exited"; }
  sleep 0.1
done
[ -n "$url" ] || die "voxlive serve did not announce itself"
base="https://${url#serving wss://}"
echo "bench-sdk: voxlive serve at $base; ${#wavs[@]} file(s), $reps repetition(s) per client" >&2

run_voxlive() { # run_voxlive OUT.json
  GEMINI_API_KEY=$VOXLIVE_BENCH_KEY "$bin" --endpoint "$base" --ca-cert "$tmp/cert.pem" --api-version v1beta \
    bench --input "${wavs[@]}" --mode hands-free --vad server "${aec[@]}" --json "$1" >"$1.table" 2>"$1.err" \
    || { cat "$1.err" >&2; die "voxlive bench failed"; }
}
run_sdk() { # run_sdk OUT.jsonl
  "$venv/bin/python" "$repo/benches/sdk_client.py" --base-url "$base" --ca-file "$tmp/cert.pem" \
    --api-key "$VOXLIVE_BENCH_KEY" "${wavs[@]}" >"$1" 2>"$1.err" \
    || { cat "$1.err" >&2; die "sdk_client.py failed"; }
}

for r in $(seq "$reps"); do
  if [ $((r % 2)) -eq 1 ]; then
    run_voxlive "$tmp/vox-$r.json"; run_sdk "$tmp/sdk-$r.jsonl"
  else
    run_sdk "$tmp/sdk-$r.jsonl"; run_voxlive "$tmp/vox-$r.json"
  fi
  echo "bench-sdk: repetition $r/$reps done" >&2
done

python3 - "$tmp" "$reps" "${aec[*]:-aec on}" <<'PY'
import json, statistics, sys
tmp, reps, aec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def spread(xs):
    xs = sorted(x for x in xs if x is not None)
    return f"{xs[0]:.1f}..{xs[-1]:.1f}" if xs else "-"
vox = {"cpu": [], "rss": [], "setup": [], "first": []}
sdk = {"cpu": [], "rss": [], "setup": [], "first": []}
for r in range(1, reps + 1):
    rep = json.load(open(f"{tmp}/vox-{r}.json"))
    vox["cpu"].append(rep["cpu_per_audio_sec"] * 1e3 if rep["cpu_per_audio_sec"] is not None else None)
    vox["rss"].append(rep["peak_rss_mb"])
    vox["setup"].append(med([s["setup_ms"] for s in rep["sessions"]]))
    vox["first"].append(med([t["first_byte_ms"] for t in rep["turns"]]))
    lines = [json.loads(l) for l in open(f"{tmp}/sdk-{r}.jsonl") if l.strip()]
    summ = [l for l in lines if l.get("summary")][0]
    files = [l for l in lines if not l.get("summary")]
    sdk["cpu"].append(summ["cpu_per_audio_sec"] * 1e3)
    sdk["rss"].append(summ["peak_rss_mb"])
    sdk["setup"].append(med([f["setup_ms"] for f in files]))
    sdk["first"].append(med([x for f in files for x in f["first_byte_ms"]]))
print(f"voxlive vs google-genai (official Python SDK), medians of {reps} alternating repetitions "
      f"(min..max in brackets); voxlive {aec}")
print(f"{'metric':<40} {'voxlive':>20} {'google-genai':>20} {'ratio':>7}")
for key, name in [("cpu", "CPU per audio second (ms)"), ("rss", "peak RSS (MB)"),
                  ("setup", "start -> setupComplete (ms)"), ("first", "end of speech -> first reply byte (ms)")]:
    v, s = med(vox[key]), med(sdk[key])
    ratio = f"{v / s:.2f}x" if v is not None and s else "-"
    fv = f"{v:.1f} [{spread(vox[key])}]" if v is not None else "-"
    fs = f"{s:.1f} [{spread(sdk[key])}]" if s is not None else "-"
    print(f"{name:<40} {fv:>20} {fs:>20} {ratio:>7}")
PY
