#!/usr/bin/env python3
"""The official client's side of scripts/bench-sdk.sh: what Google's Live API cookbook does with google-genai
(stream a WAV to the Live API in 20 ms chunks as a microphone would deliver them, receive the reply and buffer
its audio), timed the way `voxlive bench` times itself, against the same `voxlive serve` and the same WAVs.

Per file it prints one JSON line; at the end one line with the process's figures:
  {"file": ..., "setup_ms": ..., "first_byte_ms": [...per utterance...], "reply_bytes": ...}
  {"summary": true, "audio_secs": ..., "cpu_per_audio_sec": ..., "peak_rss_mb": ...}

- start -> setupComplete: from calling client.aio.live.connect() to it returning (it returns once
  setupComplete has arrived), as voxlive's session start.
- end of speech -> first reply byte: chunk k (samples 320k..320k+320) is sent at origin + (k+1) * 20 ms, when
  its last sample has been "spoken"; the end of each utterance is origin + its end in the file, found by the
  same level detector as voxlive bench (src/bench/speech.rs: 10 ms frames, 12 dB above the 10th-percentile
  floor and above -50 dBFS, pauses under 600 ms merged, bursts under 100 ms dropped). The first reply byte is
  the first audio part received after it.
- after each file, --tail-ms of silence (as `voxlive bench` goes on after a file, like an open microphone),
  so the server's VAD ends the last turn, not the end of the recording.
- CPU (user + system, getrusage) from just before the first connect to the end, per second of audio sent;
  peak RSS of the process (imports included: they are what the client costs).
"""

import argparse
import array
import asyncio
import json
import math
import resource
import ssl
import sys
import time
import wave

from google import genai
from google.genai import types

CHUNK = 320  # 20 ms at 16 kHz
RATE = 16000


def read_wav(path):
    with wave.open(path, "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
            raise SystemExit(f"sdk_client: {path}: need 16 kHz mono 16-bit (the models/bench set is)")
        return w.readframes(w.getnframes())


def utterances(pcm):
    """The same detector as src/bench/speech.rs."""
    s = array.array("h")
    s.frombytes(pcm)
    if sys.byteorder != "little":
        s.byteswap()
    frame = RATE // 100
    levels = []
    for i in range(0, len(s), frame):
        f = s[i : i + frame]
        e = sum(x * x for x in f) / max(len(f), 1)
        rms = math.sqrt(e) / 32768.0
        levels.append(-120.0 if rms <= 0 else 20 * math.log10(rms))
    if not levels:
        return []
    floor = sorted(levels)[len(levels) // 10]
    threshold = max(floor + 12.0, -50.0)
    secs = lambda i: i * frame / RATE
    spans = []
    for i, level in enumerate(levels):
        if level < threshold:
            continue
        if spans and secs(i) - secs(spans[-1][1]) < 0.6:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    total = len(s) / RATE
    out = [(secs(a), min(secs(b), total)) for a, b in spans]
    return [(a, b) for a, b in out if b - a >= 0.1]


async def one(client, model, path, timeout, tail_ms):
    pcm = read_wav(path)
    ends = [e for _, e in utterances(pcm)]
    # an open microphone goes on after the last word, as `voxlive bench` replays it (src/bench/inputs.rs)
    pcm = pcm + b"\0\0" * int(RATE * tail_ms / 1000)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    t = time.monotonic()
    async with client.aio.live.connect(model=model, config=config) as session:
        setup_ms = (time.monotonic() - t) * 1e3
        reply = bytearray()
        arrivals = []  # monotonic time of every audio part
        turns_done = 0
        expected_turns = max(len(ends), 1)

        async def send():
            origin = time.monotonic()
            for k, i in enumerate(range(0, len(pcm), CHUNK * 2)):
                await asyncio.sleep(max(0.0, origin + (k + 1) * 0.02 - time.monotonic()))
                await session.send_realtime_input(
                    audio=types.Blob(data=pcm[i : i + CHUNK * 2], mime_type="audio/pcm;rate=16000"))
            await session.send_realtime_input(audio_stream_end=True)
            return origin

        async def receive():
            nonlocal turns_done
            while turns_done < expected_turns:
                async for msg in session.receive():
                    sc = msg.server_content
                    if sc and sc.model_turn:
                        for part in sc.model_turn.parts or []:
                            if part.inline_data and part.inline_data.data:
                                arrivals.append(time.monotonic())
                                reply.extend(part.inline_data.data)
                    if sc and sc.turn_complete:
                        turns_done += 1
                        break

        sender = asyncio.create_task(send())
        try:
            await asyncio.wait_for(receive(), timeout=timeout)
        except asyncio.TimeoutError:
            pass
        origin = await sender
    first = []
    for end in ends:
        at = origin + end
        later = [a for a in arrivals if a >= at]
        first.append((later[0] - at) * 1e3 if later else None)
    return {"file": path, "setup_ms": setup_ms, "first_byte_ms": first, "reply_bytes": len(reply),
            "audio_secs": len(pcm) / 2 / RATE}


async def main_async(args):
    ctx = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None
    opts = {"base_url": args.base_url, "api_version": "v1beta"}
    if ctx is not None:
        opts["async_client_args"] = {"ssl": ctx}
    client = genai.Client(api_key=args.api_key, vertexai=False, http_options=types.HttpOptions(**opts))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    audio = 0.0
    for path in args.wav:
        r = await one(client, args.model, path, args.timeout, args.tail_ms)
        audio += r["audio_secs"]
        print(json.dumps(r), flush=True)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    print(json.dumps({"summary": True, "audio_secs": audio, "cpu_per_audio_sec": cpu / audio if audio else None,
                      "peak_rss_mb": ru1.ru_maxrss / 1024.0}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base-url", required=True, help="https://127.0.0.1:PORT of a `voxlive serve --tls`")
    p.add_argument("--ca-file", help="the server's certificate (voxlive serve --cert-out)")
    p.add_argument("--api-key", required=True)
    p.add_argument("--model", default="gemini-2.5-flash-native-audio-preview-12-2025")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per file for its replies")
    p.add_argument("--tail-ms", type=float, default=1500.0,
                   help="silence streamed after each file (voxlive bench: 1500 ms beyond the server VAD's silence)")
    p.add_argument("wav", nargs="+")
    args = p.parse_args()
    if not 0 <= args.tail_ms <= 60000:
        p.error(f"--tail-ms {args.tail_ms}: give 0 to 60000")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
