#!/usr/bin/env bash
# Measures a live conversation on the PulseAudio virtual devices against the embedded echo server:
# three spoken questions go into the virtual microphone while `voxlive --stats` runs; prints voxlive's
# --stats report, its CPU share of one core and peak RSS (GNU time), and CPU per thread.
#   scripts/measure-live.sh [extra voxlive flags...]      (uses target/release/voxlive; builds it if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/voxlive ] || cargo build --release --quiet
source scripts/virtual-audio.sh start >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
out=$(mktemp -d)
(
  sleep 2; paplay -d vox_mic_feed models/samples/kyoto_trip_16k.wav
  sleep 8; paplay -d vox_mic_feed models/samples/joke_computers_16k.wav
  sleep 7; paplay -d vox_mic_feed models/samples/what_time_tokyo_16k.wav
) &
feeder=$!
env -u GEMINI_API_KEY -u GOOGLE_API_KEY /usr/bin/time -v target/release/voxlive --duration 30 --stats "$@" \
  > "$out/stdout" 2> "$out/time" &
timed=$!
sleep 27
pid=$(pgrep -n -f "^target/release/voxlive --duration 30" || true)
threads=""
[ -n "$pid" ] && for t in /proc/"$pid"/task/*; do threads+="$(cat "$t/comm") $(awk '{print ($14+$15)/100}' "$t/stat") s"$'\n'; done
# Wait for these two only: sourcing virtual-audio.sh may have started keep-alive streams as our children.
wait "$feeder" "$timed"
cat "$out/stdout"
grep -E "Percent of CPU|Maximum resident|Elapsed" "$out/time"
echo "CPU seconds per thread over the first 27 s:"
sort -k2 -n -r <<< "$threads" | sed '/^$/d; s/^/  /'
rm -rf "$out"
