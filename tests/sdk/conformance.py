#!/usr/bin/env python3
"""Conformance test: Google's official Python SDK (google-genai, pinned in tests/sdk/requirements.txt) as an
external client of voxlive's embedded Live server.

Usually started by tests/sdk/run.sh, which starts the servers. By hand:

    VOXLIVE_TEST_KEY=k target/debug/voxlive serve --tls --cert-out /tmp/cert.pem --api-key-env VOXLIVE_TEST_KEY
    VOXLIVE_TEST_KEY=k python3 tests/sdk/conformance.py --base-url https://127.0.0.1:PORT --ca-file /tmp/cert.pem \
        --scenarios audio,text

Scenarios (one line "conformance: PASS <scenario> ..." each; exit status 1 with "conformance: FAIL ..." on the
first deviation, 2 on bad usage):
  audio  send ~1.5 s of 16 kHz PCM from a WAV with send_realtime_input(audio=Blob), then audio_stream_end;
         receive to turn_complete; the echo responder must send back the input resampled to 24 kHz (1.5x the
         bytes, +-5%) as audio/pcm;rate=24000, input and output transcriptions (requested) and usage_metadata.
  text   response_modalities TEXT, send_client_content(turns=..., turn_complete=True): non-empty text reply.
  image  response_modalities TEXT with safety_settings, media_resolution and sampling settings in the config;
         a PNG frame with send_realtime_input(video=Blob), then a typed turn: the echo reply must say it saw
         1 image of the frame's size (the server's acknowledgement of video frames).
  tool   against a server with --responder script:tests/fixtures/sdk_tool_script.toml: a toolCall for
         get_time {city: Tokyo}, answered with send_tool_response(FunctionResponse(id, name, response)),
         then the follow-up reply "It is noon in Tokyo." and turn_complete.
  tool38 gemini-3.8-live against the echo server: two NON_BLOCKING calls in one toolCall, answered with
         FunctionResponse(scheduling=WHEN_IDLE / SILENT, will_continue=False); interaction_status IN_PROGRESS on
         the turn closed at the call, then the answer turn quoting the WHEN_IDLE result, then IDLE.
  live38 gemini-3.8-live with the setup the SDK builds for it (AUDIO, proactivity.proactive_audio true,
         output and input transcription, no thinking_config): accepted; the SDK's types parse
         setup_complete.session_id, interim_input_transcription pieces before the input_transcription with
         finished=True, and interaction_status IDLE on turn_complete. The SDK refuses explicit_vad_signal
         outside Vertex AI, so a plain websocket asks for it and the SDK's own converter parses the
         voice_activity frames (ACTIVITY_START then ACTIVITY_END, audio_offset a duration string).
  refused setups gemini-3.8-live refuses (thinking_config, proactive_audio False, TEXT) are closed by the
         server with 1007 and a reason naming the field, which the SDK raises as an APIError.
  utterances against a server with --responder script:tests/fixtures/sdk_utterances_script.toml: one
         interaction of two utterances, the first turn_complete with interaction_status IN_PROGRESS, the
         second IDLE.
  token  client.aio.auth_tokens.create (v1alpha, uses=1, expire_time, new_session_expire_time, a locked
         setup with TEXT replies) mints an ephemeral token from our server; a Client whose api_key is the
         token's name connects (BidiGenerateContentConstrained, "Authorization: Token ...") and gets a text
         reply although it asked for AUDIO (the locked setup wins); a second session with the used-up token
         is refused.

How the SDK reaches our server (google-genai 3.6.1, google/genai/live.py and _api_client.py): with an API key
and no Vertex AI, connect() opens
    wss://HOST:PORT{base_url path}/ws/google.ai.generativelanguage.{api_version}.GenerativeService.BidiGenerateContent
where the base URL's scheme is always replaced with wss (so the server must serve TLS), api_version defaults to
v1, and a base URL ending in "/" gives ".../PORT//ws/..." (the SDK's own default base URL ends in "/"). The key
is sent only in the x-goog-api-key header. TLS trust comes from SSL_CERT_FILE (read when the Client is built)
or, as here, an ssl.SSLContext passed in http_options.async_client_args["ssl"]. The SDK sends the first message
(setup) and reads one reply before connect() returns, but does not itself check that it was setupComplete;
this script does. Client messages use top-level snake_case keys (realtime_input, client_content,
tool_response), mime_type in blobs, and URL-safe base64 with padding.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import sys
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
LIVE_MODEL = "gemini-3.8-live"
DEFAULT_WAV = REPO / "models" / "samples" / "what_time_tokyo_16k.wav"
PINNED_SDK = "3.6.1"

try:
    from google import genai
    from google.genai import types
except ImportError as e:  # pragma: no cover
    print(f"conformance: FAIL cannot import google-genai ({e}); run tests/sdk/run.sh, which makes the venv",
          file=sys.stderr)
    sys.exit(1)


class Deviation(Exception):
    """The server did something the SDK or this test does not accept."""


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Deviation(what)


def log(args: argparse.Namespace, *parts: object) -> None:
    if args.verbose:
        print("conformance:", *parts, file=sys.stderr, flush=True)


def read_pcm16k(path: Path, seconds: float) -> bytes:
    with wave.open(str(path), "rb") as w:
        fmt = (w.getnchannels(), w.getsampwidth(), w.getframerate())
        if fmt != (1, 2, 16000):
            raise SystemExit(f"conformance: {path} must be 16 kHz mono 16-bit PCM, is {fmt}")
        frames = w.readframes(min(w.getnframes(), int(seconds * 16000)))
    if len(frames) < 16000:  # < 0.5 s
        raise SystemExit(f"conformance: {path} has only {len(frames)} bytes of audio")
    return frames


def make_client(base_url: str, args: argparse.Namespace) -> "genai.Client":
    ctx = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None
    opts: dict = {"base_url": base_url}
    if ctx is not None:
        opts["async_client_args"] = {"ssl": ctx}
    if args.api_version:
        opts["api_version"] = args.api_version
    return genai.Client(api_key=args.api_key, vertexai=False, http_options=types.HttpOptions(**opts))


def preview_url(base_url: str, args: argparse.Namespace) -> str:
    """The URL the SDK will open (mirrors live.py; printed so a failure shows what was tried)."""
    from urllib.parse import urlparse

    version = args.api_version or "v1"
    base = urlparse(base_url)._replace(scheme="wss").geturl()
    return f"{base}/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"


async def connect_checked(client, args, config, model=None):
    """client.aio.live.connect(), with the setupComplete check the SDK leaves to us."""
    cm = client.aio.live.connect(model=model or args.model, config=config)
    session = await cm.__aenter__()
    if session.setup_complete is None:
        await cm.__aexit__(None, None, None)
        raise Deviation("the first server message after setup was not setupComplete")
    return cm, session


async def receive_turn(session, args, deadline: float, on_message=None) -> list:
    """All messages up to and including the one with turn_complete (SDK's receive() stops there)."""
    msgs = []

    async def run():
        async for msg in session.receive():
            log(args, "<-", summarize(msg))
            msgs.append(msg)
            if on_message is not None:
                await on_message(msg)
            if msg.server_content is not None and msg.server_content.turn_complete:
                return True
        return False

    remaining = deadline - time.monotonic()
    check(remaining > 0, "timed out")
    try:
        done = await asyncio.wait_for(run(), timeout=remaining)
    except asyncio.TimeoutError:
        raise Deviation(f"no turn_complete within {args.timeout:.0f} s (got {len(msgs)} messages)") from None
    check(done, "receive() ended without turn_complete")
    return msgs


def summarize(msg) -> str:
    d = msg.model_dump(exclude_none=True)
    sc = d.get("server_content") or {}
    for part in (sc.get("model_turn") or {}).get("parts") or []:
        blob = part.get("inline_data")
        if blob and "data" in blob:
            blob["data"] = f"<{len(blob['data'])} bytes>"
    return str(d)[:300]


def audio_of(msgs) -> tuple[bytes, set]:
    data, mimes = bytearray(), set()
    for m in msgs:
        sc = m.server_content
        if sc is None or sc.model_turn is None:
            continue
        for part in sc.model_turn.parts or []:
            if part.inline_data is not None and part.inline_data.data:
                data += part.inline_data.data
                mimes.add(part.inline_data.mime_type)
    return bytes(data), mimes


def transcript(msgs, attr: str) -> str:
    out = []
    for m in msgs:
        sc = m.server_content
        t = getattr(sc, attr, None) if sc is not None else None
        if t is not None and t.text:
            out.append(t.text)
    return "".join(out)


async def usage_after(session, msgs, args) -> bool:
    """usage_metadata on any message of the turn; allow it to trail turn_complete by up to 1 s."""
    if any(m.usage_metadata is not None for m in msgs):
        return True

    async def next_usage():
        async for m in session.receive():
            log(args, "<- (after turn)", summarize(m))
            if m.usage_metadata is not None:
                return True
        return False

    try:
        return await asyncio.wait_for(next_usage(), timeout=1.0)
    except asyncio.TimeoutError:
        return False


async def scenario_audio(base_url: str, args) -> str:
    pcm = read_pcm16k(Path(args.wav), 1.5)
    client = make_client(base_url, args)
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    deadline = time.monotonic() + args.timeout
    cm, session = await connect_checked(client, args, config)
    try:
        chunk = 3200  # 100 ms
        for i in range(0, len(pcm), chunk):
            await session.send_realtime_input(
                audio=types.Blob(data=pcm[i : i + chunk], mime_type="audio/pcm;rate=16000"))
            if args.realtime:
                await asyncio.sleep(0.1)
        await session.send_realtime_input(audio_stream_end=True)
        msgs = await receive_turn(session, args, deadline)
        out, mimes = audio_of(msgs)
        check(len(out) > 0, "no audio came back (no inline_data in model_turn parts)")
        check(all(m and m.replace(" ", "").lower().startswith("audio/pcm") for m in mimes),
              f"unexpected audio mime types {sorted(map(str, mimes))}")
        check(any("rate=24000" in (m or "").replace(" ", "") for m in mimes),
              f"audio mime type does not declare rate=24000: {sorted(map(str, mimes))}")
        expected = len(pcm) * 24000 // 16000
        check(abs(len(out) - expected) <= expected * 0.05,
              f"echo length {len(out)} bytes, expected {expected} +-5% (input {len(pcm)} bytes at 16 kHz)")
        check(len(out) % 2 == 0, f"odd number of audio bytes ({len(out)}) for 16-bit PCM")
        inp, outp = transcript(msgs, "input_transcription"), transcript(msgs, "output_transcription")
        check(bool(inp), "no input_transcription although input_audio_transcription was requested")
        check(bool(outp), "no output_transcription although output_audio_transcription was requested")
        check(await usage_after(session, msgs, args), "no usage_metadata by the end of the turn")
    finally:
        await cm.__aexit__(None, None, None)
    return (f"audio: sent {len(pcm)} B at 16 kHz, got {len(out)} B at 24 kHz "
            f"(expected {expected}), transcripts in {inp!r} out {outp!r}")


async def scenario_text(base_url: str, args) -> str:
    client = make_client(base_url, args)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    deadline = time.monotonic() + args.timeout
    cm, session = await connect_checked(client, args, config)
    try:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="Tell me a short joke about computers.")]),
            turn_complete=True)
        msgs = await receive_turn(session, args, deadline)
        text = "".join(m.text or "" for m in msgs)
        check(bool(text.strip()), "no text in the reply")
        _, mimes = audio_of(msgs)
        check(not mimes, f"audio parts in a TEXT-modality session: {sorted(map(str, mimes))}")
    finally:
        await cm.__aexit__(None, None, None)
    return f"text: reply {text[:80]!r}"


async def scenario_tool(base_url: str, args) -> str:
    client = make_client(base_url, args)
    get_time = types.FunctionDeclaration(
        name="get_time",
        description="Current local time in a city.",
        parameters=types.Schema(type=types.Type.OBJECT,
                                properties={"city": types.Schema(type=types.Type.STRING)},
                                required=["city"]),
    )
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[types.Tool(function_declarations=[get_time])],
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    deadline = time.monotonic() + args.timeout
    cm, session = await connect_checked(client, args, config)
    calls: list = []
    responded = asyncio.Event()

    async def on_message(msg):
        if msg.tool_call is None:
            return
        check(not responded.is_set(), "a second toolCall after the tool response")
        fcs = msg.tool_call.function_calls or []
        check(len(fcs) == 1, f"expected one function call, got {len(fcs)}")
        fc = fcs[0]
        check(bool(fc.id), "function call without an id")
        check(fc.name == "get_time", f"function call name {fc.name!r}, expected 'get_time'")
        check(fc.args == {"city": "Tokyo"}, f"function call args {fc.args!r}, expected {{'city': 'Tokyo'}}")
        calls.append(fc)
        await session.send_tool_response(function_responses=[
            types.FunctionResponse(id=fc.id, name=fc.name, response={"result": "12:00"})])
        responded.set()

    try:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="What time is it in Tokyo?")]),
            turn_complete=True)
        msgs = await receive_turn(session, args, deadline, on_message)
        check(responded.is_set(), "turn_complete without a toolCall")
        after = msgs[next(i for i, m in enumerate(msgs) if m.tool_call is not None) + 1:]
        if not any(m.text or transcript([m], "output_transcription") for m in after):
            # The server closed the turn around the toolCall (turn_complete before our response): the
            # follow-up then comes as a turn of its own.
            after += await receive_turn(session, args, deadline, on_message)
        text = "".join(m.text or "" for m in after)
        spoken = transcript(after, "output_transcription")
        check("noon" in (text + spoken).lower(),
              f"follow-up after the tool response lacks the scripted reply (text {text!r}, transcript {spoken!r})")
    finally:
        await cm.__aexit__(None, None, None)
    return f"tool: call get_time(id={calls[0].id}) answered, follow-up {(text or spoken)[:60]!r}"


def tiny_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size (no imaging library needed)."""
    import struct
    import zlib
    row = b"\x00" + b"\x40\x80\xc0" * width
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


async def scenario_image(base_url: str, args) -> str:
    client = make_client(base_url, args)
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        temperature=0.2, top_p=0.8, top_k=40, max_output_tokens=200,
        media_resolution=types.MediaResolution.MEDIA_RESOLUTION_LOW,
        safety_settings=[types.SafetySetting(category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
                                             threshold=types.HarmBlockThreshold.BLOCK_ONLY_HIGH)])
    deadline = time.monotonic() + args.timeout
    cm, session = await connect_checked(client, args, config)
    try:
        await session.send_realtime_input(video=types.Blob(data=tiny_png(32, 16), mime_type="image/png"))
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="What is this?")]), turn_complete=True)
        msgs = await receive_turn(session, args, deadline)
        text = "".join(m.text or "" for m in msgs)
        check("I see 1 image, the last 32x16" in text, f"the reply does not acknowledge the frame: {text!r}")
    finally:
        await cm.__aexit__(None, None, None)
    return f"image: reply {text[:80]!r}"


async def scenario_token(base_url: str, args) -> str:
    import datetime

    minter = make_client(base_url, argparse.Namespace(**{**vars(args), "api_version": "v1alpha"}))
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    token = await minter.aio.auth_tokens.create(config=types.CreateAuthTokenConfig(
        uses=1,
        expire_time=now + datetime.timedelta(minutes=30),
        new_session_expire_time=now + datetime.timedelta(minutes=1),
        live_connect_constraints=types.LiveConnectConstraints(
            model=args.model, config=types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])),
        http_options=types.HttpOptions(api_version="v1alpha"),
    ))
    check(bool(token.name) and token.name.startswith("auth_tokens/"), f"token name {token.name!r}")
    user = make_client(base_url, argparse.Namespace(**{**vars(args), "api_key": token.name,
                                                       "api_version": "v1alpha"}))
    deadline = time.monotonic() + args.timeout
    # asks for AUDIO: the token's locked setup says TEXT
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    cm, session = await connect_checked(user, args, config)
    try:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="hello with a token")]), turn_complete=True)
        msgs = await receive_turn(session, args, deadline)
        text = "".join(m.text or "" for m in msgs)
        check("hello with a token" in text, f"no text reply under the locked TEXT setup (got {text!r})")
    finally:
        await cm.__aexit__(None, None, None)
    try:
        cm2, _ = await connect_checked(user, args, config)
        await cm2.__aexit__(None, None, None)
        raise Deviation("a second session with a token of one use was accepted")
    except Deviation:
        raise
    except Exception as e:  # the SDK raises on the 1008 close
        check("used up" in str(e), f"the refusal does not say the token is used up: {e}")
    return "token: minted, one session with the locked setup, the second refused"



async def scenario_tool38(base_url: str, args) -> str:
    """gemini-3.8-live: two NON_BLOCKING calls in one toolCall (the echo responder's `call NAME ARGS; ...`),
    answered with the SDK's own FunctionResponse carrying scheduling (WHEN_IDLE, SILENT) and will_continue;
    the turn closes at once with interaction_status IN_PROGRESS, the answer turn quotes the WHEN_IDLE result
    and the interaction ends IDLE."""
    client = make_client(base_url, args)
    obj = types.Schema(type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)})
    decls = [
        types.FunctionDeclaration(name="lookup", description="Look a city up.", parameters=obj,
                                  behavior=types.Behavior.NON_BLOCKING),
        types.FunctionDeclaration(name="note", description="Take a note.", behavior=types.Behavior.NON_BLOCKING),
    ]
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        tools=[types.Tool(function_declarations=decls)],
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    deadline = time.monotonic() + args.timeout
    cm = client.aio.live.connect(model="gemini-3.8-live", config=config)
    session = await cm.__aenter__()
    statuses: list = []
    calls: list = []

    async def on_message(msg):
        sc = msg.server_content
        if sc is not None and sc.interaction_status is not None:
            statuses.append(str(getattr(sc.interaction_status, "value", sc.interaction_status)))
        if msg.tool_call is None:
            return
        fcs = msg.tool_call.function_calls or []
        check([fc.name for fc in fcs] == ["lookup", "note"], f"function calls {[fc.name for fc in fcs]}")
        check(all(fc.id for fc in fcs), "a function call without an id")
        calls.extend(fcs)
        await session.send_tool_response(function_responses=[
            types.FunctionResponse(id=fcs[0].id, name="lookup", response={"found": "kyoto"},
                                   scheduling=types.FunctionResponseScheduling.WHEN_IDLE, will_continue=False),
            types.FunctionResponse(id=fcs[1].id, name="note", response={"ok": True},
                                   scheduling=types.FunctionResponseScheduling.SILENT),
        ])

    try:
        check(session.setup_complete is not None, "the first server message after setup was not setupComplete")
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text='call lookup {"city": "Kyoto"}; note {}')]),
            turn_complete=True)
        first = await receive_turn(session, args, deadline, on_message)
        check(bool(calls), "turn_complete without a toolCall")
        check(statuses[-1:] == ["IN_PROGRESS"], f"the turn closed at the call should be IN_PROGRESS, got {statuses}")
        after: list = []
        while "IDLE" not in statuses[len(statuses) - 1:]:
            after += await receive_turn(session, args, deadline, on_message)
        spoken = transcript(first + after, "output_transcription")
        check('lookup returned {"found":"kyoto"}' in spoken, f"the answer turn does not quote the result: {spoken!r}")
        check("note returned" not in spoken, f"a SILENT answer was spoken about: {spoken!r}")
    finally:
        await cm.__aexit__(None, None, None)
    return f"tool38: 2 NON_BLOCKING calls answered (WHEN_IDLE, SILENT), statuses {statuses}, said {spoken[:60]!r}"


def live38_config(**overrides) -> "types.LiveConnectConfig":
    """The setup the SDK builds for gemini-3.8-live: AUDIO only, proactive audio on, transcription for the
    words, no thinking_config, no enable_affective_dialog. (explicit_vad_signal cannot be part of it: the
    SDK refuses it outside Vertex AI, so `raw_frames` asks for voice activity itself.)"""
    fields = dict(
        response_modalities=[types.Modality.AUDIO],
        proactivity=types.ProactivityConfig(proactive_audio=True),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    fields.update(overrides)
    return types.LiveConnectConfig(**fields)


def sdk_parse(frame) -> "types.LiveServerMessage":
    """A raw server frame parsed exactly as the SDK's AsyncSession._receive does (Gemini API mode)."""
    import json
    from google.genai import _live_converters

    response = json.loads(frame) if frame else {}
    converted = _live_converters._LiveServerMessage_from_mldev(response)
    return types.LiveServerMessage._from_response(response=converted,
                                                   kwargs=types.LiveServerMessage().model_dump())


async def raw_frames(base_url: str, args, setup: dict, pcm: bytes) -> list:
    """Sends `setup` and `pcm` over a plain websocket (the `websockets` package the SDK uses) and returns
    every server frame, parsed by the SDK's own converter, through the first turn_complete."""
    import base64
    import json
    from urllib.parse import urlparse
    from websockets.asyncio.client import connect

    url = urlparse(preview_url(base_url.rstrip("/"), args))
    ctx = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None
    msgs = []
    async with connect(url.geturl(), additional_headers={"x-goog-api-key": args.api_key}, ssl=ctx) as ws:
        await ws.send(json.dumps({"setup": setup}))
        msgs.append(sdk_parse(await ws.recv()))
        check(msgs[0].setup_complete is not None, "raw: the first message was not setupComplete")
        for i in range(0, len(pcm), 3200):
            blob = {"mime_type": "audio/pcm;rate=16000", "data": base64.b64encode(pcm[i:i + 3200]).decode()}
            await ws.send(json.dumps({"realtime_input": {"audio": blob}}))
        while True:
            m = sdk_parse(await asyncio.wait_for(ws.recv(), timeout=args.timeout))
            log(args, "<- (raw)", summarize(m))
            msgs.append(m)
            if m.server_content is not None and m.server_content.turn_complete:
                return msgs


async def scenario_live38(base_url: str, args) -> str:
    # the sample, then 1 s of silence so the server's VAD ends the turn
    pcm = read_pcm16k(Path(args.wav), 3.0) + bytes(32000)
    client = make_client(base_url, args)
    deadline = time.monotonic() + args.timeout
    cm, session = await connect_checked(client, args, live38_config(), model=LIVE_MODEL)
    try:
        sid = session.setup_complete.session_id
        check(isinstance(sid, str) and bool(sid), f"setup_complete.session_id {sid!r}")
        chunk = 3200
        for i in range(0, len(pcm), chunk):
            await session.send_realtime_input(
                audio=types.Blob(data=pcm[i : i + chunk], mime_type="audio/pcm;rate=16000"))
        msgs = await receive_turn(session, args, deadline)
        check(all(m.voice_activity is None for m in msgs), "voice_activity although the setup did not ask")
        interim, final = [], None
        for m in msgs:
            sc = m.server_content
            if sc is None:
                continue
            if sc.interim_input_transcription is not None:
                check(final is None, "an interim_input_transcription after the final input_transcription")
                interim.append(sc.interim_input_transcription.text or "")
            if sc.input_transcription is not None:
                final = sc.input_transcription
        check(final is not None and final.finished is True,
              f"no input_transcription with finished=True (got {final!r})")
        check(bool(interim), "no interim_input_transcription before the final transcription")
        check(all((final.text or "").startswith(p) for p in interim),
              f"interim pieces {interim} are not prefixes of the final {final.text!r}")
        last = msgs[-1].server_content
        check(last.interaction_status == types.InteractionStatus.IDLE,
              f"interaction_status {last.interaction_status!r} on turn_complete, expected IDLE")
        out, _ = audio_of(msgs)
        check(len(out) > 0, "no audio came back")
    finally:
        await cm.__aexit__(None, None, None)
    # voice activity: asked for in the raw setup (explicitVadSignal, as the SDK writes it for Vertex AI)
    setup = {"model": f"models/{LIVE_MODEL}", "generationConfig": {"responseModalities": ["AUDIO"]},
             "proactivity": {"proactiveAudio": True}, "explicitVadSignal": True}
    raw = await asyncio.wait_for(raw_frames(base_url, args, setup, pcm), timeout=args.timeout)
    activity = [m.voice_activity for m in raw if m.voice_activity is not None]
    kinds = [a.voice_activity_type for a in activity]
    check(kinds == [types.VoiceActivityType.ACTIVITY_START, types.VoiceActivityType.ACTIVITY_END],
          f"voice_activity types {kinds}, expected ACTIVITY_START then ACTIVITY_END")
    check(all(isinstance(a.audio_offset, str) and a.audio_offset.endswith("s") for a in activity),
          f"audio_offset not a duration string: {[a.audio_offset for a in activity]}")
    check(raw[0].setup_complete.session_id not in (None, "", sid), "a fresh session_id per session")
    return (f"live38: session_id {sid}, {len(interim)} interim then final {final.text!r} (finished), IDLE; "
            f"voice_activity {[k.value for k in kinds]} at {[a.audio_offset for a in activity]}")


async def scenario_refused(base_url: str, args) -> str:
    from google.genai import errors

    cases = [
        ("thinking_config", live38_config(thinking_config=types.ThinkingConfig(thinking_level="LOW")),
         "thinkingConfig"),
        ("proactive_audio False", live38_config(proactivity=types.ProactivityConfig(proactive_audio=False)),
         "proactive audio"),
        ("TEXT", live38_config(response_modalities=[types.Modality.TEXT]), "AUDIO only"),
    ]
    seen = []
    for name, config, expect in cases:
        client = make_client(base_url, args)
        try:
            async with client.aio.live.connect(model=LIVE_MODEL, config=config) as session:
                # the SDK reads one message in connect(); a refusal is a close frame, raised when read
                async for msg in session.receive():
                    raise Deviation(f"{name}: the server accepted the setup ({summarize(msg)})")
                raise Deviation(f"{name}: the server closed without an error")
        except errors.APIError as e:
            text = str(e)
            check(getattr(e, "code", None) == 1007, f"{name}: close code {getattr(e, 'code', None)}: {text}")
            check(expect in text, f"{name}: reason {text!r} should mention {expect!r}")
            seen.append(f"{name} -> 1007")
        except Deviation:
            raise
        except Exception as e:
            text = f"{type(e).__name__}: {e}"
            check("1007" in text and expect in text, f"{name}: unexpected error {text}")
            seen.append(f"{name} -> {type(e).__name__} 1007")
    return "refused: " + ", ".join(seen)


async def scenario_utterances(base_url: str, args) -> str:
    client = make_client(base_url, args)
    deadline = time.monotonic() + args.timeout
    cm, session = await connect_checked(client, args, live38_config(), model=LIVE_MODEL)
    try:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="What time is it in Tokyo?")]),
            turn_complete=True)
        first = await receive_turn(session, args, deadline)
        second = await receive_turn(session, args, deadline)
        statuses = [t[-1].server_content.interaction_status for t in (first, second)]
        check(statuses == [types.InteractionStatus.IN_PROGRESS, types.InteractionStatus.IDLE],
              f"interaction_status per turn_complete {statuses}, expected IN_PROGRESS then IDLE")
        words = [transcript(t, "output_transcription") for t in (first, second)]
        check(words == ["Let me check.", "It is noon in Tokyo."], f"utterances {words}")
    finally:
        await cm.__aexit__(None, None, None)
    return f"utterances: {words[0]!r} (IN_PROGRESS) then {words[1]!r} (IDLE)"


SCENARIOS = {"audio": scenario_audio, "text": scenario_text, "image": scenario_image, "tool": scenario_tool,
             "tool38": scenario_tool38,
             "live38": scenario_live38, "refused": scenario_refused, "utterances": scenario_utterances,
             "token": scenario_token}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base-url", default=os.environ.get("VOXLIVE_BASE_URL"),
                   help="https://127.0.0.1:PORT of a server with the echo responder (env VOXLIVE_BASE_URL)")
    p.add_argument("--tool-base-url", default=os.environ.get("VOXLIVE_TOOL_BASE_URL"),
                   help="server with --responder script:tests/fixtures/sdk_tool_script.toml for the tool scenario "
                        "(env VOXLIVE_TOOL_BASE_URL; default: --base-url)")
    p.add_argument("--utterance-base-url", default=os.environ.get("VOXLIVE_UTTERANCE_BASE_URL"),
                   help="server with --responder script:tests/fixtures/sdk_utterances_script.toml for the "
                        "utterances scenario (env VOXLIVE_UTTERANCE_BASE_URL; default: --base-url)")
    p.add_argument("--ca-file", default=os.environ.get("VOXLIVE_CA_FILE") or os.environ.get("SSL_CERT_FILE"),
                   help="PEM certificate(s) to trust (env VOXLIVE_CA_FILE, then SSL_CERT_FILE)")
    p.add_argument("--api-key", default=os.environ.get("VOXLIVE_TEST_KEY") or os.environ.get("GEMINI_API_KEY"),
                   help="API key the server expects (env VOXLIVE_TEST_KEY, then GEMINI_API_KEY)")
    p.add_argument("--model", default=os.environ.get("VOXLIVE_MODEL", DEFAULT_MODEL))
    p.add_argument("--api-version", default=None, help="default: the SDK's own default (v1)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--wav", default=str(DEFAULT_WAV), help="16 kHz mono 16-bit WAV for the audio scenario")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("VOXLIVE_SDK_TIMEOUT", "20")),
                   help="seconds per scenario")
    p.add_argument("--realtime", action="store_true", help="pace audio at real time (100 ms chunks)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every server message to stderr")
    args = p.parse_args(argv)
    if not args.base_url:
        p.error("--base-url (or VOXLIVE_BASE_URL) is required")
    if not args.api_key:
        p.error("--api-key (or VOXLIVE_TEST_KEY / GEMINI_API_KEY) is required: the SDK refuses to run without one")
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    bad = [s for s in args.scenarios if s not in SCENARIOS]
    if bad:
        p.error(f"unknown scenario(s) {bad}; choose from {sorted(SCENARIOS)}")
    if args.ca_file and not Path(args.ca_file).is_file():
        p.error(f"--ca-file {args.ca_file} does not exist")
    return args


async def main_async(args) -> int:
    for name in args.scenarios:
        url = (args.tool_base_url or args.base_url) if name == "tool" else args.base_url
        if name == "utterances":
            url = args.utterance_base_url or args.base_url
        # The text scenario uses the other spelling of the base URL, so both ".../ws/..." and "...//ws/..." get
        # exercised (the SDK's default base URL ends in "/").
        if name == "text":
            url = url.rstrip("/") if url.endswith("/") else url + "/"
        try:
            # connect() itself has no timeout for the setup reply: bound the whole scenario.
            detail = await asyncio.wait_for(SCENARIOS[name](url, args), timeout=args.timeout + 10)
        except asyncio.TimeoutError:
            print(f"conformance: FAIL {name}: no progress within {args.timeout + 10:.0f} s (connect/setup hung?) "
                  f"[{preview_url(url, args)}]", flush=True)
            return 1
        except Deviation as e:
            print(f"conformance: FAIL {name}: {e} [{preview_url(url, args)}]", flush=True)
            return 1
        except Exception as e:  # connection refused, TLS, close codes (google.genai.errors.APIError), ...
            print(f"conformance: FAIL {name}: {type(e).__name__}: {e} [{preview_url(url, args)}]", flush=True)
            if args.verbose:
                import traceback
                traceback.print_exc()
            return 1
        print(f"conformance: PASS {detail}", flush=True)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    version = getattr(genai, "__version__", "?")
    if version != PINNED_SDK:
        print(f"conformance: note: google-genai {version} installed, tests are pinned to {PINNED_SDK}",
              file=sys.stderr)
    # Keep the environment from steering the SDK elsewhere (Vertex AI, another API version, proxies' keys).
    for var in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_API_VERSION",
                "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"):
        os.environ.pop(var, None)
    if args.ca_file:
        os.environ["SSL_CERT_FILE"] = args.ca_file
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
