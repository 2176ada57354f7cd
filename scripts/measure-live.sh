#!/usr/bin/env bash
# Measures a live conversation on the PulseAudio virtual devices against the echo server: three spoken
# questions go into the virtual microphone while `voxlive --stats` runs; prints voxlive's --stats report, its
# CPU share of one core and peak RSS (GNU time), and CPU per thread.
#   scripts/measure-live.sh [--bin PATH] [--in-process] [extra voxlive flags...]
#     --bin PATH     the voxlive binary to measure (default target/release/voxlive; built if missing)
#     --in-process   use the embedded server inside the measured process (the default is a separate
#                    `voxlive serve` process on a free loopback port, so the figures are the client's alone)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/voxlive in_process=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --in-process) in_process=1; shift ;;
    *) break ;;
  esac
done
[ -x "$bin" ] || { [ "$bin" = target/release/voxlive ] && cargo build --release --quiet; }
[ -x "$bin" ] || { echo "measure-live.sh: no binary at $bin" >&2; exit 2; }
source scripts/virtual-audio.sh start >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
out=$(mktemp -d)
server=""
endpoint=()
if [ "$in_process" = 0 ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin" serve --addr "127.0.0.1:$port" > "$out/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.05
  done
  endpoint=(--endpoint "ws://127.0.0.1:$port")
fi
# builds that save conversations (--no-save) must not write into the user's data directory
save=(); "$bin" --help 2>/dev/null | grep -q -- '--no-save' && save=(--no-save)
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
(
  sleep 2; paplay -d vox_mic_feed models/samples/kyoto_trip_16k.wav
  sleep 8; paplay -d vox_mic_feed models/samples/joke_computers_16k.wav
  sleep 7; paplay -d vox_mic_feed models/samples/what_time_tokyo_16k.wav
) &
feeder=$!
env -u GEMINI_API_KEY -u GOOGLE_API_KEY /usr/bin/time -v "$bin" --duration 30 --stats --no-tui "${save[@]}" "${endpoint[@]}" "$@" \
  > "$out/stdout" 2> "$out/time" </dev/null &
timed=$!
sleep 27
pid=$(pgrep -n -f "^$bin --duration 30" || true)
threads=""
# per thread: CPU seconds and wake-ups (voluntary context switches: the thread slept and was woken)
[ -n "$pid" ] && for t in /proc/"$pid"/task/*; do
  name=$(cat "$t/comm"); [ "${t##*/}" = "$pid" ] && name="$name(main)"
  threads+="$name $(awk '{print ($14+$15)/100}' "$t/stat") s, $(awk '/^voluntary_ctxt_switches/ {printf "%.0f", $2 / 27}' "$t/status") wake-ups/s"$'\n'
done
# Wait for these two only: sourcing virtual-audio.sh may have started keep-alive streams as our children.
wait "$feeder" "$timed"
cat "$out/stdout"
echo "server: $([ "$in_process" = 1 ] && echo "in-process (embedded)" || echo "separate voxlive serve process, ws://127.0.0.1:$port")"
grep -E "Percent of CPU|Maximum resident|Elapsed|User time|System time|page faults|context switches" "$out/time"
echo "CPU seconds and wake-ups per second, per thread, over the first 27 s:"
sort -k2 -n -r <<< "$threads" | sed '/^$/d; s/^/  /'
