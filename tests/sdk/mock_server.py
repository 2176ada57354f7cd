#!/usr/bin/env python3
"""A tiny stand-in for `voxlive serve`, used only to self-test the SDK harness (tests/sdk/run.sh --self-test)
while the real server is not available, and to record what the official SDK puts on the wire.

Same command line subset and announce line as `voxlive serve`:
    mock_server.py serve --tls --cert-out FILE [--addr 127.0.0.1:0] [--api-key-env VAR]
                         [--responder echo|script:FILE] [--wire-log FILE]
prints `voxlive: serving wss://127.0.0.1:PORT` once listening. Needs the `websockets` package (a dependency of
google-genai, so the SDK venv has it) and the openssl command line tool (for the self-signed certificate).
It is deliberately minimal: it is not a reference for the real server's behaviour beyond what
tests/sdk/conformance.py checks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import struct
import subprocess
import sys
import tempfile
import tomllib

from websockets.asyncio.server import serve

PATH_PREFIX = "/ws/google.ai.generativelanguage."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(s: str) -> bytes:
    s = s.replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4))


def upsample_16k_to_24k(pcm: bytes) -> bytes:
    """Linear interpolation, 2 input samples -> 3 output samples."""
    n = len(pcm) // 2
    x = struct.unpack(f"<{n}h", pcm[: 2 * n])
    out = []
    for i in range(n * 3 // 2):
        pos = i * 2 / 3
        j = int(pos)
        f = pos - j
        a = x[j]
        b = x[j + 1] if j + 1 < n else a
        out.append(int(round(a + (b - a) * f)))
    return struct.pack(f"<{len(out)}h", *out)


def get(d: dict, camel: str):
    """Accept both spellings, as the real server must."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return d.get(camel, d.get(snake))


class Session:
    def __init__(self, ws, args, wire_log):
        self.ws, self.args, self.wire_log = ws, args, wire_log
        self.audio = bytearray()
        self.setup: dict = {}
        self.turn_index = 0
        self.pending_tool: dict | None = None

    async def send(self, msg: dict):
        await self.ws.send(json.dumps(msg).encode())  # binary frames, like the real service

    def log(self, direction: str, raw):
        if self.wire_log:
            with open(self.wire_log, "a") as f:
                f.write(f"{direction} {raw if isinstance(raw, str) else raw.decode()}\n")

    def usage(self, n_in: int, n_out: int) -> dict:
        return {"promptTokenCount": n_in, "responseTokenCount": n_out, "totalTokenCount": n_in + n_out,
                "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": n_in}],
                "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": n_out}]}

    def modality(self) -> str:
        gc = get(self.setup, "generationConfig") or {}
        mods = get(gc, "responseModalities") or ["AUDIO"]
        return mods[0]

    async def reply(self, items: list):
        for item in items:
            if "text" in item:
                if self.modality() == "TEXT":
                    await self.send({"serverContent": {"modelTurn": {"parts": [{"text": item["text"]}]}}})
            elif "output_transcript" in item:
                await self.send({"serverContent": {"outputTranscription": {"text": item["output_transcript"]}}})
            elif "tool_call" in item:
                tc = item["tool_call"]
                call_id = f"call-{self.turn_index}"
                self.pending_tool = {"id": call_id}
                await self.send({"toolCall": {"functionCalls": [
                    {"id": call_id, "name": tc["name"], "args": tc.get("args", {})}]}})
                return False  # wait for the tool response
        return True

    async def finish(self, n_in=10, n_out=10):
        await self.send({"serverContent": {"generationComplete": True}})
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": self.usage(n_in, n_out)})

    async def user_turn(self, text: str | None):
        responder = self.args.responder
        if responder.startswith("script:"):
            script = tomllib.load(open(responder[len("script:"):], "rb"))
            turns = script.get("turn", [])
            turn = turns[self.turn_index % len(turns)] if turns else {"reply": [{"text": "(empty script)"}]}
            self.current = turn
            if await self.reply(turn.get("reply", [])):
                await self.finish()
                self.turn_index += 1
            return
        # echo
        if text is not None:
            if self.modality() == "TEXT":
                await self.send({"serverContent": {"modelTurn": {"parts": [{"text": f"You said: {text}"}]}}})
            else:
                await self.send({"serverContent": {"outputTranscription": {"text": text}}})
            await self.finish()
            return
        pcm = bytes(self.audio)
        self.audio.clear()
        if "inputAudioTranscription" in self.setup or "input_audio_transcription" in self.setup:
            await self.send({"serverContent": {"inputTranscription": {"text": "(echo input)"}}})
        out = upsample_16k_to_24k(pcm)
        for i in range(0, len(out), 9600):
            await self.send({"serverContent": {"modelTurn": {"parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": b64(out[i:i + 9600])}}]}}})
        if "outputAudioTranscription" in self.setup or "output_audio_transcription" in self.setup:
            await self.send({"serverContent": {"outputTranscription": {"text": "(echo output)"}}})
        await self.finish(len(pcm) // 640, len(out) // 960)

    async def run(self):
        async for raw in self.ws:
            self.log(">", raw)
            msg = json.loads(raw)
            if len(msg) != 1:
                await self.ws.close(1007, f"expected one top-level key, got {sorted(msg)}")
                return
            key, body = next(iter(msg.items()))
            if key == "setup":
                self.setup = body
                await self.send({"setupComplete": {}})
            elif key in ("realtimeInput", "realtime_input"):
                audio = get(body, "audio")
                if audio:
                    self.audio += unb64(audio["data"])
                if get(body, "audioStreamEnd"):
                    await self.user_turn(None)
                if get(body, "text"):
                    await self.user_turn(get(body, "text"))
            elif key in ("clientContent", "client_content"):
                if get(body, "turnComplete"):
                    texts = [p.get("text", "") for t in get(body, "turns") or [] for p in t.get("parts", [])]
                    await self.user_turn(" ".join(texts))
            elif key in ("toolResponse", "tool_response"):
                responses = get(body, "functionResponses") or []
                if not self.pending_tool or [r.get("id") for r in responses] != [self.pending_tool["id"]]:
                    await self.ws.close(1007, "toolResponse does not answer the pending call")
                    return
                self.pending_tool = None
                await self.reply(self.current.get("after_tool", []))
                await self.finish()
                self.turn_index += 1
            else:
                await self.ws.close(1007, f"unknown message {key}")
                return


def make_cert(cert_out: str) -> tuple[str, str]:
    key = tempfile.NamedTemporaryFile(prefix="mock-key-", suffix=".pem", delete=False).name
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert_out, "-days", "2", "-subj", "/CN=voxlive mock",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-addext", "keyUsage=critical,digitalSignature",
                    "-addext", "extendedKeyUsage=serverAuth"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert_out, key


async def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["serve"])
    p.add_argument("--addr", default="127.0.0.1:0")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--cert-out")
    p.add_argument("--api-key-env")
    p.add_argument("--responder", default="echo")
    p.add_argument("--wire-log", help="append every client message to this file")
    args = p.parse_args()
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    host, port = args.addr.rsplit(":", 1)

    async def handler(ws):
        path = ws.request.path
        if not path.lstrip("/").startswith(PATH_PREFIX.lstrip("/")) or "//" in path.lstrip("/"):
            await ws.close(1008, f"unknown path {path}")
            return
        if key is not None and ws.request.headers.get("x-goog-api-key") != key:
            await ws.close(1008, "API key not valid")
            return
        if args.wire_log:
            with open(args.wire_log, "a") as f:
                f.write(f"# GET {path} x-goog-api-key={'***' if ws.request.headers.get('x-goog-api-key') else None}"
                        f" extensions={ws.request.headers.get('Sec-WebSocket-Extensions')}\n")
        await Session(ws, args, args.wire_log).run()

    ctx = None
    if args.tls:
        cert = args.cert_out or tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
        cert, keyfile = make_cert(cert)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, keyfile)
    async with serve(handler, host, int(port), ssl=ctx, max_size=16 << 20) as server:
        real_port = server.sockets[0].getsockname()[1]
        print(f"voxlive: serving {'wss' if ctx else 'ws'}://{host}:{real_port}", flush=True)
        await asyncio.Future()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
