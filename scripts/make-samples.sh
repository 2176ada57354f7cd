#!/usr/bin/env bash
# Regenerates the sample WAVs in models/samples/ and the bad-input fixtures in tests/fixtures/.
# The outputs are committed; run this only to change them (espeak-ng output can differ between versions, so
# regenerated files need not be byte-identical to the committed ones). Needs espeak-ng, sox and python3
# (scripts/setup.sh installs them). Every file stays under 150 KB.
#   scripts/make-samples.sh            # writes models/samples/*.wav and tests/fixtures/*
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in espeak-ng sox python3; do
  command -v "$tool" >/dev/null || { echo "make-samples: $tool missing (run scripts/setup.sh)" >&2; exit 1; }
done

samples=models/samples
fixtures=tests/fixtures
mkdir -p "$samples" "$fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# -D: no dither, so sox's output depends only on its input. Trim espeak's leading/trailing silence, then pad a
# little back: 0.1 s before the speech and 0.4 s after it, so a voice-activity detector sees the speech end.
SOX="sox -D -V1"
trim=(silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse)

speak() { # speak OUT TEXT [WPM]: espeak-ng (22050 Hz mono s16) -> $tmp/OUT.raw.wav
  espeak-ng -v en-us -s "${3:-175}" -w "$tmp/$1.raw.wav" "$2"
}

# 16 kHz mono 16-bit PCM: the Live API's native input format.
speak what_time_tokyo "What time is it in Tokyo?"
speak joke_computers "Tell me a short joke about computers."
speak kyoto_trip "I am visiting Kyoto next week. What are three places we should not miss?"
for n in what_time_tokyo joke_computers kyoto_trip; do
  $SOX "$tmp/$n.raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$samples/${n}_16k.wav" "${trim[@]}" pad 0.1 0.4
done

# Formats that voxlive must convert: 48 kHz stereo 32-bit float (the usual desktop mixer format; a short word,
# since one second of it is 384 KB) and 44.1 kHz mono 24-bit integer.
speak hello "Hello." 200
$SOX "$tmp/hello.raw.wav" -r 48000 -c 2 -b 32 -e floating-point "$samples/hello_48k_stereo_f32.wav" "${trim[@]}"
speak please_stop "Please stop."
$SOX "$tmp/please_stop.raw.wav" -r 44100 -c 1 -b 24 -e signed-integer "$samples/please_stop_44k1_s24.wav" "${trim[@]}"

# ---- bad input fixtures ----
printf 'This is a plain text file with a .wav name. It has no RIFF header.\n' > "$fixtures/not_a_wav.wav"

# Unsupported encodings (valid WAV files, but not PCM integer / 32-bit float): 8-bit mu-law, 8-bit A-law and
# 64-bit float, 0.5 s each, cut from the first sample.
$SOX "$samples/what_time_tokyo_16k.wav" -r 8000 -c 1 -e u-law -b 8 "$fixtures/ulaw_8k.wav" trim 0 0.5
$SOX "$samples/what_time_tokyo_16k.wav" -r 8000 -c 1 -e a-law -b 8 "$fixtures/alaw_8k.wav" trim 0 0.5
$SOX "$samples/what_time_tokyo_16k.wav" -r 16000 -c 1 -e floating-point -b 64 "$fixtures/float64_16k.wav" trim 0 0.5

# Truncated files, cut from a valid 16 kHz mono s16 WAV with a plain 44-byte header.
python3 - "$samples/what_time_tokyo_16k.wav" "$fixtures" <<'PY'
import struct, sys, wave
src, out = sys.argv[1], sys.argv[2]
with wave.open(src, "rb") as w:
    assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
    pcm = w.readframes(w.getnframes())
pcm = pcm[: 16000 * 2]  # 1.0 s
header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE" + b"fmt " + struct.pack(
    "<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", len(pcm))
assert len(header) == 44
full = header + pcm
# Header claims 1.0 s (32000 data bytes) but only 0.25 s (8000 bytes) follow.
open(f"{out}/truncated_data.wav", "wb").write(full[: 44 + 8000])
# Cut in the middle of the fmt chunk: RIFF/WAVE present, fmt chunk incomplete, no data chunk.
open(f"{out}/truncated_header.wav", "wb").write(full[:30])
# Zero-length file.
open(f"{out}/empty.wav", "wb").write(b"")
PY

ls -l "$samples" "$fixtures" | grep -v '^total'
too_big=$(find "$samples" "$fixtures" -type f -size +149k)
[ -z "$too_big" ] || { echo "make-samples: over 150 KB: $too_big" >&2; exit 1; }
