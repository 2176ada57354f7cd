#!/usr/bin/env bash
# Builds the benchmark set in models/bench/ (committed; run this only to change it): spoken questions of
# different lengths, one in background noise, one with a long pause mid-sentence, one with two utterances
# whose second starts while the first reply still plays (it exercises barge-in). espeak-ng + sox, 16 kHz
# mono 16-bit, each with 0.3 s of silence before the speech and 1.0 s after it. Needs espeak-ng and sox.
#   scripts/make-bench-set.sh        # writes models/bench/*.wav
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null || { echo "make-bench-set: $tool missing (run scripts/setup.sh)" >&2; exit 1; }
done
out=models/bench
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SOX="sox -D -V1"
trim=(silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse)
fmt=(-r 16000 -c 1 -b 16 -e signed-integer)

speak() { # speak NAME TEXT: espeak-ng -> trimmed 16 kHz mono $tmp/NAME.wav
  espeak-ng -v en-us -s 170 -w "$tmp/$1.raw.wav" "$2"
  $SOX "$tmp/$1.raw.wav" "${fmt[@]}" "$tmp/$1.wav" "${trim[@]}"
}
silence() { # silence NAME SECS
  $SOX -n "${fmt[@]}" "$tmp/$1.wav" trim 0 "$2"
}
finish() { # finish OUT PARTS...: concatenate and pad 0.3 s before, 1.0 s after
  local name=$1; shift
  local parts=()
  for p in "$@"; do parts+=("$tmp/$p.wav"); done
  $SOX "${parts[@]}" "${fmt[@]}" "$out/$name.wav" pad 0.3 1.0
}

speak short "What time is it?"
finish 01_short short

speak medium "Tell me a short joke about computers."
finish 02_medium medium

speak long "I am planning a trip to Kyoto in the spring, which temples and gardens should we visit first?"
finish 03_long long

# the medium question in steady brown noise about 25 dB below the speech
finish medium_clean medium
$SOX "$out/medium_clean.wav" "$tmp/medium_padded.wav"
rm "$out/medium_clean.wav"
len=$(soxi -D "$tmp/medium_padded.wav")
$SOX -R -n "${fmt[@]}" "$tmp/noise.wav" synth "$len" brownnoise vol 0.05
$SOX -m "$tmp/medium_padded.wav" "$tmp/noise.wav" "${fmt[@]}" "$out/04_noisy.wav"

# a 0.9 s pause mid-sentence: longer than the local VAD's 300 ms hangover, so it ends a turn
speak pause_a "I would like to know"
speak pause_b "how far away the moon is."
silence gap09 0.9
finish 05_long_pause pause_a gap09 pause_b

# two questions 0.8 s apart: the second starts while the first reply (the echo) plays
speak two_a "What is the capital of Japan?"
speak two_b "And what about Canada?"
silence gap08 0.8
finish 06_two_utterances two_a gap08 two_b

ls -l "$out"/*.wav
