#!/usr/bin/env bash
# Measures push-to-talk latency on the PulseAudio virtual devices against the embedded echo server (no API key):
# `voxlive --mode ptt --stats` (release build) runs in a tmux pseudo-terminal of its own (tap-to-toggle: tmux
# reports no key release); each press is a tap of space, a short utterance played into the virtual microphone,
# a second tap, then the echo reply heard to its end (the screen back to LISTENING with one more turn) before
# the next press. After the presses the session is quit (Ctrl-C in the UI) and its --stats give
#   key press -> first frame on the socket    (target <= 25 ms)
#   key release -> activityEnd on the socket   (target <= 5 ms)
# as p50/p95 per run; then the spread over runs (min / median / max of each percentile).
# "Key press" is the moment voxlive's terminal thread read the key event (what --stats measures from), not
# the keystroke inside tmux.
#
#   scripts/measure-ptt.sh [--presses N] [--runs K] [--utterance WAV] [--keep DIR]
#     --presses N     presses per run (default 20; each takes ~2.5 s; a run is bounded to 10 + 8 N seconds)
#     --runs K        runs (default 3)
#     --utterance W   what is said while the key is on (default models/samples/please_stop_44k1_s24.wav, 0.7 s)
#     --keep DIR      keep each run's --stats output and transcript in DIR
#
# The virtual devices come from scripts/virtual-audio.sh (set VOXLIVE_AUDIO_RUNTIME_DIR for a private PulseAudio
# server). A temp dir and a tmux server of its own; both are removed and killed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

presses=20 runs=3 utterance=models/samples/please_stop_44k1_s24.wav keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --presses) presses=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --utterance) utterance=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $presses =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ ]] || { echo "--presses and --runs take positive integers" >&2; exit 2; }
[ -f "$utterance" ] || { echo "no such utterance: $utterance" >&2; exit 2; }
utterance=$(cd "$(dirname "$utterance")" && pwd)/$(basename "$utterance")
command -v tmux >/dev/null || { echo "tmux is missing: run scripts/setup.sh" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is missing: run scripts/setup.sh" >&2; exit 1; }

bin=$repo/target/release/voxlive
if [ ! -x "$bin" ]; then
  why="it is missing"
else
  newer=$(find src Cargo.toml Cargo.lock -newer "$bin" -print -quit 2>/dev/null)
  why=${newer:+$newer is newer}
fi
if [ -n "$why" ]; then
  echo "building the release binary ($why)" >&2
  cargo build --release --quiet
fi

# shellcheck source=scripts/virtual-audio.sh
source scripts/virtual-audio.sh start >/dev/null || { echo "no virtual audio devices" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxlive-ptt.XXXXXX")
mkdir "$tmp/no-config"
t() { tmux -S "$tmp/sock" "$@"; }
cleanup() {
  t kill-server 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A wide pane (no wrapped --stats lines) and a deep history (the stats scroll past the prompt).
echo 'set -g history-limit 5000' > "$tmp/tmux.conf"
env -u TMUX tmux -S "$tmp/sock" -f "$tmp/tmux.conf" new-session -d -x 200 -y 40 -s ptt "env PS1='ptt$ ' sh"

screen() { t capture-pane -p -t ptt; }
# wait_screen REGEX SECONDS: polls the screen every 20 ms until it matches (an event, not a fixed sleep)
wait_screen() {
  local deadline=$(( $(date +%s) + $2 ))
  until screen | grep -Eq "$1"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "timed out after $2 s waiting for /$1/ on screen:" >&2; screen >&2; return 1
    fi
    sleep 0.02
  done
}
now_ms() { date +%s%3N; }
sleep_until_ms() { local d=$(( $1 - $(now_ms) )); [ $d -gt 0 ] && sleep "$(printf '0.%03d' "$d")"; return 0; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (nproc $(nproc))"
for run in $(seq "$runs"); do
  out=$tmp/run$run
  t clear-history -t ptt
  bound=$(( 10 + 8 * presses ))
  t send-keys -t ptt -l "clear; env -u GEMINI_API_KEY -u GOOGLE_API_KEY XDG_CONFIG_HOME='$tmp/no-config' XDG_RUNTIME_DIR='$XDG_RUNTIME_DIR' '$bin' --mode ptt --stats --duration $bound --transcript '$out.jsonl'; echo 'measure-ptt' 'run-done'"
  t send-keys -t ptt Enter
  wait_screen 'tap space to start and stop talking' 30
  wait_screen 'LISTENING' 10
  # the screen is up before the capture stream's first frames: a press with an empty pre-roll is not
  # measured by --stats (its first frame goes up later, with no mark), so let the pre-roll fill first
  sleep 0.5
  for i in $(seq "$presses"); do
    down=$(now_ms)
    t send-keys -t ptt Space
    wait_screen 'YOU ARE SPEAKING' 5
    paplay -d vox_mic_feed "$utterance"
    # the user's pause: a tap within 700 ms of the last toggle counts as the held key's auto-repeat
    sleep_until_ms $(( down + 850 ))
    t send-keys -t ptt Space
    # the echo has been heard to its end: the turn counted and the screen back to LISTENING
    wait_screen "turns $i \\|" 10
    wait_screen 'LISTENING' 10
  done
  t send-keys -t ptt C-c
  wait_screen 'measure-ptt run-done' 20
  t capture-pane -p -t ptt -S - -E - > "$out.txt"
  grep -q '^session: ' "$out.txt" || { echo "run $run: no --stats output:" >&2; cat "$out.txt" >&2; exit 1; }
  echo "run $run:"
  grep -E '^(session: |key press|key release)' "$out.txt" | sed 's/^/  /'
  if [ -n "$keep" ]; then mkdir -p "$keep"; cp "$out.txt" "$out.jsonl" "$keep/"; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$presses" "$tmp"/run*.txt <<'PY'
import re, statistics, sys
presses, files = int(sys.argv[1]), sys.argv[2:]
marks = {"key press -> first frame on the socket": 25.0, "key release -> activityEnd on the socket": 5.0}
figures = {m: {"p50": [], "p95": []} for m in marks}
for f in files:
    text = open(f).read()
    for m in marks:
        hit = re.search(re.escape(m) + r": p50 ([\d.]+) ms p95 ([\d.]+) ms \((\d+)\)", text)
        if not hit:
            sys.exit(f"{f}: no {m!r} line")
        if int(hit.group(3)) != presses:
            print(f"warning: {f}: {m}: {hit.group(3)} presses measured, {presses} made", file=sys.stderr)
        figures[m]["p50"].append(float(hit.group(1)))
        figures[m]["p95"].append(float(hit.group(2)))
print(f"over {len(files)} runs of {presses} presses (min / median / max of the per-run percentiles):")
for m, target in marks.items():
    for p in ("p50", "p95"):
        v = figures[m][p]
        print(f"  {m}: {p} {min(v):.2f} / {statistics.median(v):.2f} / {max(v):.2f} ms")
    worst = max(figures[m]["p95"])
    print(f"    target <= {target:g} ms: {'met' if worst <= target else 'MISSED'} (worst p95 {worst:.2f} ms)")
PY
