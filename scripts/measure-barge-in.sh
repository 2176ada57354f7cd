#!/usr/bin/env bash
# Measures barge-in on the PulseAudio virtual devices against the embedded echo server (no API key): one live
# `voxlive --stats` session per run, N rounds each of: a question is played into the virtual microphone; once
# its echo reply is heard on the virtual speaker (detected on vox_speaker.monitor, not a fixed sleep), a second
# utterance is played over it ~0.5 s into the reply; the reply must stop. Prints per run voxlive's own
# "barge-in -> silence" figures (--stats: p50/p90/p99/max/count), its turns and interrupted turns, and,
# measured independently on the devices, the time from the interrupting utterance's onset in the microphone
# feed (vox_mic_feed.monitor) to the speaker going silent (vox_speaker.monitor, the last sample above
# -50 dBFS): both monitors are recorded through the same PulseAudio server and timestamped on one clock.
# Then the spread over runs, per VAD.
#
#   scripts/measure-barge-in.sh [--rounds N] [--runs K] [--vad server|local|both] [--keep DIR] [-- voxlive flags]
#     --rounds N   barge-in rounds per run (default 20; a run is bounded to < 2 min, fewer rounds if slow)
#     --runs K     runs per VAD (default 3)
#     --vad V      server, local or both (default both)
#     --keep DIR   keep every run's recordings, stdout and per-round figures in DIR
#
# The virtual devices come from scripts/virtual-audio.sh (set VOXLIVE_AUDIO_RUNTIME_DIR for a private PulseAudio
# server); a temp dir of its own (removed at exit); it kills what it started. Needs python3 (standard library).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

rounds=20 runs=3 vads="server local" keep="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --vad) case "$2" in both) vads="server local" ;; server|local) vads=$2 ;; *) echo "--vad server|local|both" >&2; exit 2 ;; esac; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ ]] || { echo "--rounds and --runs take positive integers" >&2; exit 2; }

bin=target/release/voxlive
newest_src=$( [ -x "$bin" ] && find src Cargo.toml Cargo.lock -newer "$bin" -print -quit 2>/dev/null || echo "$bin")
if [ ! -x "$bin" ] || [ -n "$newest_src" ]; then
  echo "building the release binary ($newest_src is missing or newer)" >&2
  if ! cargo build --release --quiet; then
    [ -x "$bin" ] || exit 1
    echo "the build failed: measuring the existing, older $bin" >&2
  fi
fi

# shellcheck source=scripts/virtual-audio.sh
source scripts/virtual-audio.sh start >/dev/null || { echo "no virtual audio devices" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/voxlive-barge-in.XXXXXX")
cleanup() {
  # the python driver kills its own children (parec, paplay, voxlive); this catches an interrupted driver
  if [ -n "${driver:-}" ]; then kill "$driver" 2>/dev/null || true; wait "$driver" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$tmp/driver.py" <<'PY'
"""One measured run: records both monitors with arrival timestamps, runs voxlive, plays the rounds, analyses."""
import array, json, os, re, signal, subprocess, sys, threading, time

BIN, VAD, ROUNDS, OUT, QUESTION, INTERRUPT = sys.argv[1:7]
EXTRA = sys.argv[7:]
ROUNDS = int(ROUNDS)
RATE = 16000
BUDGET = 115.0  # seconds for the whole run, start-up included (< 2 min)
LOUD = 32768 * 10 ** (-40 / 20)  # peak of a 10 ms window that counts as sound (reply onset, utterance onset)
SILENT = 32768 * 10 ** (-50 / 20)  # below this the speaker is silent
children = []


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    children.append(p)
    return p


def kill_all():
    for p in children:
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=5)
        except Exception:
            pass


class Recorder:
    """parec of one monitor; every read is timestamped on time.monotonic() to place samples on one clock.
    A monitor's sample clock drifts from time.monotonic() (up to ~0.1 % measured here: 100 ms over a run), so
    sample i is placed by the reads within 2.5 s of it: t0 near i = min(arrival - samples so far / rate)."""

    def __init__(self, source):
        self.p = spawn(["parec", "-d", source, "--format=s16le", f"--rate={RATE}", "--channels=1", "--raw",
                        "--latency-msec=5"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.t0 = float("inf")  # monotonic time of sample 0: min over reads of (arrival - samples so far / rate)
        self.ns, self.arrivals = [], []  # per read: samples so far, arrival time
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        fd = self.p.stdout.fileno()
        while True:
            b = os.read(fd, 65536)
            now = time.monotonic()
            if not b:
                return
            with self.lock:
                self.buf += b
                n = len(self.buf) // 2
            self.t0 = min(self.t0, now - n / RATE)
            self.ns.append(n)
            self.arrivals.append(now)

    def stop(self):
        self.p.kill()
        self.p.wait()
        self.thread.join(5)

    def t0_near(self, i, span=int(2.5 * RATE)):
        import bisect
        ns = self.ns[:]
        a, b = bisect.bisect_left(ns, i - span), bisect.bisect_right(ns, i + span)
        if a >= b:
            return self.t0
        return min(self.arrivals[k] - ns[k] / RATE for k in range(a, b))

    def drift_ppm(self):
        """How much faster than time.monotonic() the monitor delivers samples, from the first and last 5 s."""
        if not self.ns or self.ns[-1] < 20 * RATE:
            return float("nan")
        first, last = self.t0_near(int(2.5 * RATE)), self.t0_near(self.ns[-1] - int(2.5 * RATE))
        return (first - last) / ((self.ns[-1] - 5 * RATE) / RATE) * 1e6

    def n(self):
        return len(self.buf) // 2

    def samples(self, a, b):
        with self.lock:
            chunk = bytes(self.buf[2 * a:2 * b])
        return array.array("h", chunk)

    def index(self, t):
        i = max(0, int(round((t - self.t0) * RATE)))
        for _ in range(2):
            i = max(0, int(round((t - self.t0_near(i)) * RATE)))
        return i

    def time(self, i):
        return self.t0_near(i) + i / RATE

    def wait(self, pred, timeout, start=None, win=160):
        """Scans 10 ms windows from sample `start` (default: now) until pred(peak) holds; returns its index."""
        i = self.n() if start is None else start
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while i + win <= self.n():
                w = self.samples(i, i + win)
                if pred(max(abs(min(w)), abs(max(w)))):
                    return i
                i += win
            time.sleep(0.005)
        return None

    def wait_quiet(self, for_s, timeout):
        """Waits until the last `for_s` seconds were silent; returns the index where that run started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.n()
            k = int(for_s * RATE)
            if n >= k:
                w = self.samples(n - k, n)
                if max(abs(min(w)), abs(max(w))) < SILENT:
                    return n - k
            time.sleep(0.02)
        return None


def play(path):
    return spawn(["paplay", "-d", "vox_mic_feed", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def block_peaks(rec, a, b, block=16):
    x = rec.samples(a, b)
    return [max(abs(min(x[i:i + block])), abs(max(x[i:i + block]))) for i in range(0, len(x) - block + 1, block)]


def main():
    started = time.monotonic()
    mic, spk = Recorder("vox_mic_feed.monitor"), Recorder("vox_speaker.monitor")
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    env["XDG_CONFIG_HOME"] = os.path.join(OUT, "no-config")
    transcript = os.path.join(OUT, "transcript.jsonl")
    vox = spawn([BIN, "--mode", "hands-free", "--vad", VAD, "--stats", "--no-tui", "--duration", str(int(BUDGET) + 3),
                 "--transcript", transcript] + EXTRA, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=open(os.path.join(OUT, "stderr.txt"), "w"), env=env, text=True)
    lines = []
    listening = threading.Event()
    turns_done = [0]  # "(first reply after N ms[, interrupted])" lines: a turn's reply completed or was cut

    def read_stdout():
        for line in vox.stdout:
            lines.append(line)
            if "listening" in line:
                listening.set()
            if re.match(r"\[\s*[\d.]+\] \((first reply|interrupted)", line):
                turns_done[0] += 1

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    if not listening.wait(30):
        raise SystemExit("voxlive did not start listening:\n" + "".join(lines))
    time.sleep(0.5)  # past the capture stream's start-up burst (see shared/audio/README.md)
    plan = []  # per round: monotonic times of the two plays, and the reply onset seen
    for r in range(ROUNDS):
        if time.monotonic() - started > BUDGET - 7:
            print(f"stopping after {r} rounds: the run's time budget is spent", file=sys.stderr)
            break
        # the previous round is over: both its turns done (the echo ends in the server's trailing silence,
        # still playing for a moment after turnComplete), and the speaker quiet
        deadline = time.monotonic() + 8
        while turns_done[0] < 2 * r and time.monotonic() < deadline:
            time.sleep(0.01)
        if r:
            time.sleep(0.5)  # what follows turnComplete: the server's lead and the jitter buffer (~0.2 s)
        if spk.wait_quiet(0.3, 8) is None:
            print(f"round {r + 1}: the speaker never went quiet", file=sys.stderr)
            break
        q_at = time.monotonic()
        q = play(QUESTION)
        onset = spk.wait(lambda p: p >= LOUD, 8, start=spk.index(q_at))
        if onset is None:
            print(f"round {r + 1}: no reply heard", file=sys.stderr)
            q.wait()
            plan.append({"round": r + 1, "reply_at": None})
            continue
        reply_at = spk.time(onset)
        time.sleep(max(0.0, reply_at + 0.5 - time.monotonic()))
        i_at = time.monotonic()
        i = play(INTERRUPT)
        q.wait()
        i.wait()
        plan.append({"round": r + 1, "question_at": q_at, "reply_at": reply_at, "interrupt_at": i_at,
                     "interrupt_done": time.monotonic()})
    deadline = time.monotonic() + 8
    while turns_done[0] < 2 * len(plan) and time.monotonic() < deadline:
        time.sleep(0.01)
    spk.wait_quiet(0.3, 6)
    vox.send_signal(signal.SIGINT)
    try:
        vox.wait(timeout=20)
    except subprocess.TimeoutExpired:
        vox.kill()
    reader.join(5)
    time.sleep(0.1)
    mic.stop()
    spk.stop()
    stdout = "".join(lines)
    with open(os.path.join(OUT, "stdout.txt"), "w") as f:
        f.write(stdout)

    # ---- independent figure: mic-feed onset of the interrupting utterance -> speaker silent
    per_round = []
    for p in plan:
        if p.get("reply_at") is None:
            per_round.append(dict(p, result="no reply"))
            continue
        a = mic.index(p["interrupt_at"] - 0.05)
        b = mic.index(p["interrupt_done"] + 0.05)
        mp = block_peaks(mic, a, b)
        loud = [k for k, v in enumerate(mp) if v >= LOUD]
        if not loud:
            per_round.append(dict(p, result="interrupting utterance not found in the mic feed"))
            continue
        u_on = mic.time(a + 16 * loud[0])
        u_off = mic.time(a + 16 * (loud[-1] + 1))
        # the speaker from 150 ms before the onset to the utterance's end (no reply can start before it ends)
        sa, sb = spk.index(u_on - 0.15), spk.index(u_off)
        sp = block_peaks(spk, sa, sb)
        k_on = (spk.index(u_on) - sa) // 16
        before = sp[:k_on]
        if not before or max(before[-100:]) < LOUD:
            per_round.append(dict(p, result="the reply was not playing at the onset"))
            continue
        last_loud = max(k for k, v in enumerate(sp) if v >= SILENT)
        silent_at = spk.time(sa + 16 * (last_loud + 1))
        if silent_at >= u_off - 0.01:
            per_round.append(dict(p, result="the reply went on until the utterance ended"))
            continue
        per_round.append(dict(p, result="ok", onset_to_silence_ms=(silent_at - u_on) * 1e3,
                              utterance_ms=(u_off - u_on) * 1e3, reply_to_onset_ms=(u_on - p["reply_at"]) * 1e3))

    stats = {}
    m = re.search(r"barge-in -> silence\s+n=(\d+)\s+p50\s+([\d.]+) ms\s+p90\s+([\d.]+) ms\s+p99\s+([\d.]+) ms\s+max\s+([\d.]+) ms", stdout)
    if m:
        stats = dict(zip(["count", "p50", "p90", "p99", "max"], [int(m[1])] + [float(x) for x in m.groups()[1:]]))
    t = re.search(r"session: (\d+) turns", stdout)
    rows = []
    if os.path.exists(transcript):
        rows = [json.loads(l) for l in open(transcript) if l.strip()]
    result = {
        "vad": VAD, "rounds_played": len(plan), "voxlive": stats,
        "turns": int(t[1]) if t else None,
        "interrupted_turns": sum(1 for r in rows if r["role"] == "model" and r["interrupted"]),
        "interrupted_lines": stdout.count("interrupted)"),
        "rounds": per_round, "clock_offset_ms": (spk.t0 - mic.t0) * 1e3,
        "drift_ppm": {"mic": mic.drift_ppm(), "speaker": spk.drift_ppm()},
        "wall_s": time.monotonic() - started,
    }
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(OUT, "mic.raw"), "wb") as f:
        f.write(mic.buf)
    with open(os.path.join(OUT, "speaker.raw"), "wb") as f:
        f.write(spk.buf)


try:
    main()
finally:
    kill_all()
PY

cat > "$tmp/report.py" <<'PY'
"""Summarises result.json files: per run, then over all rounds and the spread over runs, per VAD."""
import json, sys


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(q / 100 * len(xs) + 0.5)) - 1))  # nearest rank
    return xs[k]


def fmt(xs):
    return (f"p50 {pct(xs, 50):6.1f}  p95 {pct(xs, 95):6.1f}  p99 {pct(xs, 99):6.1f}  max {max(xs):6.1f} ms"
            f"  (n={len(xs)})") if xs else "n/a"


by_vad = {}
for path in sys.argv[1:]:
    r = json.load(open(path))
    by_vad.setdefault(r["vad"], []).append(r)
for vad, rs in by_vad.items():
    print(f"\n== {vad} VAD: {len(rs)} runs")
    pooled = []
    for n, r in enumerate(rs, 1):
        ok = [x["onset_to_silence_ms"] for x in r["rounds"] if x["result"] == "ok"]
        bad = {}
        for x in r["rounds"]:
            if x["result"] != "ok":
                bad[x["result"]] = bad.get(x["result"], 0) + 1
        pooled += ok
        s = r["voxlive"]
        vs = (f"p50 {s['p50']:.1f} p90 {s['p90']:.1f} p99 {s['p99']:.1f} max {s['max']:.1f} ms (n={s['count']})"
              if s else "no barge-in -> silence line in --stats")
        d = r.get("drift_ppm", {})
        print(f"run {n}: {r['rounds_played']} rounds in {r['wall_s']:.0f} s; turns {r['turns']}, interrupted "
              f"{r['interrupted_turns']} (transcript) / {r['interrupted_lines']} (stdout); monitor clocks vs "
              f"monotonic: mic {d.get('mic', float('nan')):+.0f} ppm, speaker {d.get('speaker', float('nan')):+.0f} ppm")
        print(f"  voxlive --stats barge-in -> silence: {vs}")
        print(f"  mic-feed onset -> speaker silent:    {fmt(ok)}" + (f"; not measured: {bad}" if bad else ""))
    print(f"-- {vad} VAD, all rounds pooled, mic-feed onset -> speaker silent: {fmt(pooled)}")
    for key in ("p50", "p90", "p99", "max"):
        v = [r["voxlive"][key] for r in rs if r["voxlive"]]
        if v:
            print(f"   voxlive {key} over runs: min {min(v):.1f}  max {max(v):.1f} ms  ({', '.join(f'{x:.1f}' for x in v)})")
    for q in (50, 95):
        v = [pct([x["onset_to_silence_ms"] for x in r["rounds"] if x["result"] == "ok"], q) for r in rs]
        print(f"   onset->silent p{q} over runs: min {min(v):.1f}  max {max(v):.1f} ms  ({', '.join(f'{x:.1f}' for x in v)})")
    print(f"   target: onset -> playback silent p95 <= 30 ms")
PY

# the interrupting utterance starts ~0.5 s into the echo of the question; both with their leading and trailing
# silence trimmed (20 ms kept) and cut to 1.1 s and 0.5 s, so that 20 rounds fit in a run
question=$repo/models/samples/what_time_tokyo_16k.wav
interrupt=$repo/models/samples/please_stop_44k1_s24.wav
if command -v sox >/dev/null; then
  for f in question interrupt; do
    len=1.1; [ $f = interrupt ] && len=0.5
    sox "${!f}" -b 16 -c 1 -r 16000 "$tmp/$f.wav" silence 1 0.005 0.5% trim 0 $len reverse silence 1 0.005 0.5% reverse pad 0.02 0.02
    printf -v "$f" '%s' "$tmp/$f.wav"
  done
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: $rounds rounds per run, $runs runs per VAD ($vads), question what_time_tokyo_16k.wav ($(sox --i -D "$question" 2>/dev/null || echo 1.88) s), barge-in please_stop_44k1_s24.wav ($(sox --i -D "$interrupt" 2>/dev/null || echo 0.71) s) 0.5 s into the reply, voxlive flags: --mode hands-free --vad V --stats --no-tui ${extra[*]:-}"
results=()
for vad in $vads; do
  for run in $(seq "$runs"); do
    out=$tmp/$vad-$run
    mkdir -p "$out"
    python3 "$tmp/driver.py" "$repo/$bin" "$vad" "$rounds" "$out" "$question" "$interrupt" ${extra[@]+"${extra[@]}"} &
    driver=$!
    if wait "$driver"; then results+=("$out/result.json"); else echo "run $vad-$run failed (stderr: $(tail -3 "$out/stderr.txt" 2>/dev/null))" >&2; fi
    driver=""
    echo "ran $vad VAD run $run; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  done
done
[ ${#results[@]} -gt 0 ] || { echo "no run succeeded" >&2; exit 1; }
python3 "$tmp/report.py" "${results[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/server-* "$tmp"/local-* "$keep"/ 2>/dev/null || true; fi
