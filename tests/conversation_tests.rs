//! Ways of talking end to end, through the real audio engine (a WAV file as the microphone, paced in real
//! time, into a clock-driven speaker), the conversation core and the embedded server, which records every
//! message it received. No devices: these run anywhere.

use std::path::{Path, PathBuf};
use std::time::Duration;

use voxlive::conversation::{TalkMode, TextRoute, VadSource};
use voxlive::modes::talk::{talk, TalkOptions, TalkReply};
use voxlive::protocol::ClientMessage;
use voxlive::server::{MessageLog, ServerConfig};

use crate::util;

const RATE: u32 = 16_000;

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voxlive-conv-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn question(name: &str) -> Vec<i16> {
    voxlive::wav::read_pcm16(&util::sample(name), RATE).unwrap().0
}

fn silence(secs: f32) -> Vec<i16> {
    vec![0; (RATE as f32 * secs) as usize]
}

/// Low white noise (about -60 dBFS RMS): a quiet room, not digital silence.
fn room(secs: f32) -> Vec<i16> {
    let mut x: u32 = 0x1234_5678;
    (0..(RATE as f32 * secs) as usize)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((x >> 16) as i16) / 600
        })
        .collect()
}

fn write_wav(dir: &Path, name: &str, parts: &[Vec<i16>]) -> PathBuf {
    let path = dir.join(name);
    voxlive::wav::write_pcm16(&path, RATE, &parts.concat()).unwrap();
    path
}

/// What the server received, as a compact trace: "start", "end", "stream-end", "a" per audio frame.
fn received(log: &MessageLog) -> Vec<&'static str> {
    log.snapshot()
        .into_iter()
        .filter_map(|(_, m)| match m {
            ClientMessage::RealtimeInput(r) if r.activity_start.is_some() => Some("start"),
            ClientMessage::RealtimeInput(r) if r.activity_end.is_some() => Some("end"),
            ClientMessage::RealtimeInput(r) if r.audio_stream_end == Some(true) => Some("stream-end"),
            ClientMessage::RealtimeInput(r) if r.audio.is_some() => Some("a"),
            _ => None,
        })
        .collect()
}

/// Runs `wav` hands-free against an embedded echo server; returns the reply and what the server received.
async fn hands_free(wav: &Path, vad: VadSource, transcript: Option<PathBuf>) -> (TalkReply, Vec<&'static str>) {
    let log = MessageLog::default();
    let server = util::start_server(ServerConfig {
        message_log: Some(log.clone()),
        ..ServerConfig::default()
    })
    .await;
    let mode = TalkMode::HandsFree(vad);
    let setup = util::setup(voxlive::protocol::Modality::Audio, mode.manual_activity());
    let reply = talk(
        util::options(&server, setup),
        TalkOptions {
            question: Vec::new(),
            path: Some(wav.to_path_buf()),
            real_time: true,
            mode,
            reply_timeout: Duration::from_secs(20),
            transcript,
            text_route: TextRoute::RealtimeInput,
            tools: Default::default(),
        },
    )
    .await
    .expect("hands-free talk completes");
    (reply, received(&log))
}

fn count(trace: &[&str], what: &str) -> usize {
    trace.iter().filter(|&&t| t == what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_utterances_make_two_turns_with_local_vad_and_no_silence_is_sent() {
    let dir = temp_dir("local2");
    let parts = [
        silence(0.3),
        question("what_time_tokyo_16k.wav"),
        silence(2.5),
        question("joke_computers_16k.wav"),
        silence(1.0),
    ];
    let wav = write_wav(&dir, "two.wav", &parts);
    let (reply, trace) = hands_free(&wav, VadSource::Local, None).await;
    assert_eq!(reply.turns, 2, "two answered turns: {:?}", reply.output_transcript);
    assert_eq!(count(&trace, "start"), 2, "{trace:?}");
    assert_eq!(count(&trace, "end"), 2, "{trace:?}");
    // every audio frame sits inside an activity: silence between the utterances is never sent
    let mut open = false;
    for t in &trace {
        match *t {
            "start" => open = true,
            "end" => open = false,
            "a" => assert!(open, "audio outside an activity: {trace:?}"),
            _ => {}
        }
    }
    let sent = count(&trace, "a");
    let file_frames = parts.iter().map(Vec::len).sum::<usize>() / 320;
    assert!(
        sent < file_frames * 3 / 4,
        "{sent} of {file_frames} frames sent: silence went up"
    );
    // the answer keeps the file's timeline: both echoes, in order, with the pause between them
    let secs = reply.audio.len() as f32 / reply.rate as f32;
    assert!(secs > 7.0, "the answer WAV covers the conversation ({secs:.2} s)");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_utterances_make_two_turns_with_server_vad() {
    let dir = temp_dir("server2");
    let wav = write_wav(
        &dir,
        "two.wav",
        &[
            silence(0.3),
            question("what_time_tokyo_16k.wav"),
            silence(3.0),
            question("joke_computers_16k.wav"),
            silence(1.0),
        ],
    );
    let (reply, trace) = hands_free(&wav, VadSource::Server, None).await;
    assert_eq!(reply.turns, 2, "two answered turns");
    assert_eq!(count(&trace, "start"), 0, "server VAD: no activity signals: {trace:?}");
    assert!(
        count(&trace, "stream-end") >= 1,
        "the long pause pauses the stream with audioStreamEnd: {trace:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_room_makes_no_turn() {
    let dir = temp_dir("quiet");
    let wav = write_wav(&dir, "room.wav", &[room(3.0)]);
    let (reply, trace) = hands_free(&wav, VadSource::Local, None).await;
    assert_eq!(reply.turns, 0);
    assert!(trace.is_empty(), "local VAD sends nothing in a quiet room: {trace:?}");
    let (reply, trace) = hands_free(&wav, VadSource::Server, None).await;
    assert_eq!(reply.turns, 0);
    assert_eq!(
        count(&trace, "stream-end"),
        1,
        "one audioStreamEnd when the mic stays silent: {trace:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Peak of `x` in dBFS.
fn peak_db(x: &[i16]) -> f32 {
    let p = x.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    20.0 * (f32::from(p.max(1)) / 32768.0).log10()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_over_a_reply_silences_it_at_once_and_drops_the_rest() {
    let dir = temp_dir("barge");
    // the echo of the first question is still playing when the second one starts
    let wav = write_wav(
        &dir,
        "barge.wav",
        &[
            silence(0.3),
            question("what_time_tokyo_16k.wav"),
            silence(0.9),
            question("joke_computers_16k.wav"),
            silence(1.0),
        ],
    );
    let rows_path = dir.join("rows.jsonl");
    let (reply, _trace) = hands_free(&wav, VadSource::Local, Some(rows_path.clone())).await;
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&rows_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cut = rows
        .iter()
        .find(|r| r["role"] == "model" && r["interrupted"] == true)
        .unwrap_or_else(|| panic!("the first reply is interrupted: {rows:?}"));
    let second = rows
        .iter()
        .find(|r| r["role"] == "user" && r["turn"] == 2)
        .unwrap_or_else(|| panic!("a second user turn: {rows:?}"));
    assert!(
        rows.iter().any(|r| r["role"] == "model" && r["turn"] == 2),
        "the second question is answered: {rows:?}"
    );
    let onset_ms = second["start_ms"].as_u64().unwrap();
    assert!(cut["end_ms"].as_u64().unwrap() <= onset_ms + 20, "{rows:?}");
    // the speaker timeline: loud just before the onset, silent right after it (queued audio dropped)
    let at = |ms: u64| (ms as usize * reply.rate as usize / 1000).min(reply.audio.len());
    let before = &reply.audio[at(onset_ms.saturating_sub(400))..at(onset_ms)];
    let after = &reply.audio[at(onset_ms + 80)..at(onset_ms + 500)];
    assert!(
        peak_db(before) > -30.0,
        "the reply was playing before the onset ({:.1} dBFS)",
        peak_db(before)
    );
    assert!(
        peak_db(after) < -60.0,
        "silent after the barge-in ({:.1} dBFS)",
        peak_db(after)
    );
    std::fs::remove_dir_all(&dir).ok();
}
