//! `voxlive bench` measures what it says: a reply delay set on the embedded server shows in the time to
//! the first reply byte (within a loose sanity bound, never a speed target), the network shaping is applied
//! and reported, the JSON and CSV parse back with every stage, the SVG is XML with one series per stage, a
//! run compared with itself shows no change, and bad flags are one clear error line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use voxlive::bench::{self, compare, report, BenchOptions, Report, Stage, Target};
use voxlive::conversation::{TalkMode, VadSource};
use voxlive::server::NetShape;
use voxlive::session::ApiVersion;

use crate::util::{setup, MODEL};

fn bench_wav(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/bench").join(name)
}

fn voxlive(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voxlive"))
        .args(args)
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("voxlive-no-config"))
        .output()
        .expect("the voxlive binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn options(input: PathBuf, reply_delay: Option<Duration>, net: Option<NetShape>) -> BenchOptions {
    let mut s = setup(voxlive::protocol::Modality::Audio, true);
    s.model = MODEL.into();
    BenchOptions {
        inputs: vec![input],
        runs: 1,
        concurrency: 1,
        mode: TalkMode::HandsFree(VadSource::Local),
        echo_cancellation: false,
        reply_timeout: Duration::from_secs(20),
        setup: s,
        target: Target::Embedded {
            net,
            reply_delay,
            api_version: ApiVersion::V1beta,
        },
        progress: false,
        command: "test".into(),
    }
}

fn p50(report: &Report, stage: Stage) -> f64 {
    report
        .stage(stage)
        .unwrap_or_else(|| panic!("no {stage:?} in {:?}", report.stages))
        .summary
        .p50
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_delay_shows_in_the_time_to_first_byte() {
    let delay = Duration::from_millis(400);
    let report = bench::run(options(bench_wav("01_short.wav"), Some(delay), None))
        .await
        .expect("bench runs");
    assert_eq!(report.turns.len(), 1, "{:?}", report.turns);
    let to_byte = p50(&report, Stage::TurnEndToFirstByte);
    // the server waits 400 ms; loopback and the echo responder add little: a sanity bound, not a target
    assert!(
        (400.0..400.0 + 300.0).contains(&to_byte),
        "activityEnd -> first byte {to_byte} ms with a 400 ms reply delay"
    );
    let from_speech = p50(&report, Stage::SpeechEndToFirstByte);
    assert!(
        from_speech >= to_byte,
        "end of speech comes before activityEnd: {from_speech} < {to_byte}"
    );
    let heard = p50(&report, Stage::SpeechEndToHeard);
    assert!(heard > from_speech, "a reply is heard after its first byte arrived");
    assert_eq!(report.settings.reply_delay_ms, Some(400.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_delay_is_applied_to_replies_and_reported() {
    let net: NetShape = "delay=250ms,seed=3".parse().unwrap();
    let report = bench::run(options(bench_wav("01_short.wav"), None, Some(net)))
        .await
        .expect("bench runs");
    let to_byte = p50(&report, Stage::TurnEndToFirstByte);
    assert!(
        (250.0..250.0 + 300.0).contains(&to_byte),
        "activityEnd -> first byte {to_byte} ms behind a 250 ms downlink delay"
    );
    let setup_ms = p50(&report, Stage::Setup);
    assert!(
        setup_ms >= 250.0,
        "setupComplete also comes down the delayed link: {setup_ms} ms"
    );
    let applied = report.net_applied.as_ref().expect("the report says what was applied");
    assert!(applied.spec.contains("delay=250ms"), "{applied:?}");
    assert!(applied.writes > 0 && applied.mean_hold_ms >= 249.0, "{applied:?}");
    assert_eq!(report.settings.net.as_deref(), Some(applied.spec.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_are_counted_from_the_session_not_assumed() {
    let counts = voxlive::server::FaultCounts::default();
    let server = crate::util::start_server(voxlive::server::ServerConfig {
        faults: "drop-every=1500ms".parse().expect("the spec parses"),
        fault_counts: counts.clone(),
        ..voxlive::server::ServerConfig::default()
    })
    .await;
    let mut o = options(bench_wav("03_long.wav"), None, None);
    o.target = Target::Remote(crate::util::endpoint(&server, None));
    o.setup.session_resumption = Some(voxlive::protocol::SessionResumptionConfig::default());
    let report = bench::run(o).await.expect("bench runs across the drops");
    let drops = counts.get("drop");
    assert!(drops > 0, "the server dropped no connection during a long file");
    // every drop while the session was up is one reconnect; the last may fall after the session closed
    let reconnects = report.counters.reconnects;
    assert!(
        reconnects >= 1 && reconnects <= drops,
        "{reconnects} reconnects counted for {drops} drops"
    );
    assert_eq!(report.sessions[0].counters.reconnects, reconnects);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_talk_times_the_release_at_the_last_word() {
    let mut o = options(bench_wav("05_long_pause.wav"), None, None);
    o.mode = TalkMode::PushToTalk;
    let report = bench::run(o).await.expect("bench runs");
    assert_eq!(report.settings.mode, "ptt");
    // two utterances: the key goes down before each and up at its last word, so each is a turn
    assert_eq!(report.turns.len(), 2, "{:?}", report.turns);
    for t in &report.turns {
        let end = t.turn_end_ms.unwrap_or_else(|| panic!("no activityEnd for {t:?}"));
        assert!(end >= 0.0, "activityEnd before the key was released: {t:?}");
        assert!(
            t.first_byte_ms.is_some_and(|b| b >= end),
            "a reply after the turn ended: {t:?}"
        );
    }
    assert_eq!(report.counters.early_turn_ends, 0);
}

/// One CLI run shared by the report tests: two files at once (the second exercises barge-in), every
/// report written.
struct CliRun {
    _dir: tempfile::TempDir,
    json: PathBuf,
    csv: PathBuf,
    svg: PathBuf,
    stdout: String,
}

fn cli_run() -> &'static CliRun {
    static RUN: OnceLock<CliRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (json, csv, svg) = (
            dir.path().join("r.json"),
            dir.path().join("r.csv"),
            dir.path().join("r.svg"),
        );
        let two = bench_wav("06_two_utterances.wav");
        let short = bench_wav("01_short.wav");
        let o = voxlive(&[
            "bench",
            "--input",
            two.to_str().unwrap(),
            short.to_str().unwrap(),
            "--concurrency",
            "2",
            "--mode",
            "hands-free",
            "--vad",
            "local",
            "--no-aec",
            "--json",
            json.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "bench failed: {}", stderr(&o));
        CliRun {
            _dir: dir,
            json,
            csv,
            svg,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        }
    })
}

fn read_report(path: &Path) -> Report {
    report::json::read(path).expect("the JSON report parses back")
}

#[test]
fn json_report_parses_back_with_every_stage_turn_and_session() {
    let run = cli_run();
    let r = read_report(&run.json);
    let keys: BTreeSet<&str> = r.stages.iter().map(|s| s.stage.key()).collect();
    // every stage: the second utterance of 06 is spoken over the first reply (barge-in)
    let all: BTreeSet<&str> = Stage::ALL.iter().map(|s| s.key()).collect();
    assert_eq!(keys, all, "every stage measured");
    assert_eq!(r.sessions.len(), 2, "per-session figures");
    assert!(
        r.sessions.iter().all(|s| s.error.is_none() && !s.stages.is_empty()),
        "{:?}",
        r.sessions
    );
    assert_eq!(r.turns.len(), 3, "two utterances + one: {:?}", r.turns);
    assert!(
        r.turns.iter().all(|t| t.heard_ms.is_some()),
        "every turn answered and heard: {:?}",
        r.turns
    );
    assert!(r.machine.cores >= 1 && !r.machine.cpu_model.is_empty());
    assert_eq!(r.voxlive_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(r.settings.concurrency, 2);
    assert!(r.cpu_per_audio_sec.is_some_and(|c| c > 0.0) && r.peak_rss_mb.is_some_and(|m| m > 1.0));
    for stage in Stage::ALL {
        assert!(
            run.stdout.contains(stage.label()),
            "table row for {stage:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn csv_parses_back_with_every_stage_and_every_turn() {
    let run = cli_run();
    let r = read_report(&run.json);
    let text = std::fs::read_to_string(&run.csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(report::csv::HEADER));
    let columns = report::csv::HEADER.split(',').count();
    let mut aggregate = BTreeSet::new();
    let mut turn_rows = 0;
    for line in lines {
        // no field of this report is quoted (no commas in the file names)
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), columns, "{line}");
        let stage = Stage::from_key(f[4]).unwrap_or_else(|| panic!("unknown stage in {line}"));
        match f[0] {
            "aggregate" => {
                let p50: f64 = f[6].parse().unwrap();
                let want = r.stage(stage).unwrap().summary.p50;
                assert!((p50 - want).abs() < 1e-3, "{line}: p50 {p50} vs JSON {want}");
                aggregate.insert(stage);
            }
            "session" => assert!(f[7].parse::<f64>().is_ok(), "{line}"),
            "turn" => {
                let v: f64 = f[11].parse().unwrap();
                let turn: u32 = f[3].parse().unwrap();
                let t = r
                    .turns
                    .iter()
                    .find(|t| t.input == f[1] && t.turn == turn)
                    .unwrap_or_else(|| panic!("{line}: no such turn"));
                assert!((t.value(stage).unwrap() - v).abs() < 1e-3, "{line}");
                turn_rows += 1;
            }
            other => panic!("unknown scope {other}"),
        }
    }
    assert_eq!(aggregate.len(), r.stages.len(), "every stage has its row");
    let per_turn: usize = r
        .turns
        .iter()
        .map(|t| Stage::ALL.iter().filter(|&&s| t.value(s).is_some()).count())
        .sum();
    assert_eq!(turn_rows, per_turn, "every turn's every stage");
}

#[test]
fn svg_is_xml_with_one_series_per_stage() {
    let run = cli_run();
    let r = read_report(&run.json);
    let text = std::fs::read_to_string(&run.svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let series: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("series"))
        .filter_map(|n| n.attribute("data-stage"))
        .collect();
    let unique: BTreeSet<&str> = series.iter().copied().collect();
    assert_eq!(series.len(), unique.len(), "one series per stage, not more: {series:?}");
    let want: BTreeSet<&str> = r.stages.iter().map(|s| s.stage.key()).collect();
    assert_eq!(unique, want);
    let bars = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("turn"))
        .count();
    assert_eq!(bars, r.turns.len() * 3, "three waterfall segments per answered turn");
}

#[test]
fn compare_of_a_run_with_itself_shows_no_change() {
    let r = read_report(&cli_run().json);
    let c = compare::compare(&r, &r);
    assert!(c.unchanged(), "{c}");
    assert!(c.rows.iter().all(|row| row.ratio().is_none_or(|x| x == 1.0)), "{c}");
    let text = c.to_string();
    assert!(text.contains("no change in any metric"), "{text}");
    // and a different run is not "no change"
    let mut slower = r.clone();
    for s in &mut slower.stages {
        s.summary.p50 *= 2.0;
    }
    let c = compare::compare(&r, &slower);
    assert!(!c.unchanged());
    let row = c
        .rows
        .iter()
        .find(|row| row.metric.starts_with(Stage::SpeechEndToHeard.label()) && row.metric.contains("p50"))
        .unwrap();
    assert!((row.ratio().unwrap() - 2.0).abs() < 1e-9, "{row:?}");
}

/// One clear `voxlive: error:` line naming the problem, a failing exit, no panic.
fn assert_clear_failure(args: &[&str], expect: &str) {
    let o = voxlive(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} should fail: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("voxlive: error:"))
        .unwrap_or_else(|| panic!("no error line in {err:?}"));
    assert!(line.contains(expect), "error line {line:?} should mention {expect:?}");
}

#[test]
fn bad_bench_flags_are_one_clear_error() {
    let wav = bench_wav("01_short.wav");
    let wav = wav.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"not\": \"a report\"}").unwrap();
    let missing = dir.path().join("missing.wav");
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    for (args, expect) in [
        (vec!["--runs", "0"], "--runs 0"),
        (vec!["--runs", "100000"], "--runs 100000"),
        (vec!["--concurrency", "1000"], "--concurrency 1000"),
        (vec!["--net", "delay=1e300s"], "--net"),
        (vec!["--net", "loss=200%"], "loss"),
        (vec!["--net", "wobble=1"], "unknown part"),
        (vec!["--reply-delay", "99999999999"], "--reply-delay"),
        (vec!["--reply-timeout", "0"], "--reply-timeout"),
        (
            vec!["--compare", bad_json.to_str().unwrap()],
            "not a voxlive bench report",
        ),
    ] {
        let mut all = vec!["bench", "--input", wav];
        all.extend(args);
        assert_clear_failure(&all, expect);
    }
    assert_clear_failure(
        &["bench", "--input", wav, "--net", "delay=1ms,delay=2ms"],
        "given twice",
    );
    assert_clear_failure(&["bench", "--input", missing.to_str().unwrap()], "no such file");
    assert_clear_failure(&["bench", "--input", empty_dir.to_str().unwrap()], "no .wav files");
    assert_clear_failure(
        &[
            "--endpoint",
            "ws://127.0.0.1:9",
            "bench",
            "--input",
            wav,
            "--net",
            "delay=10ms",
        ],
        "embedded server",
    );
}

/// gemini-3.8-live may speak several times in one interaction (turnComplete with interactionStatus
/// IN_PROGRESS, then IDLE): the bench counts the interaction as the one reply to the question, not its
/// second utterance as a reply that answered nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_of_two_utterances_is_one_reply() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.toml");
    std::fs::write(
        &script,
        "[[turn]]\nutterances = [[{ text = \"Let me check.\" }], [{ text = \"It is noon in Tokyo.\" }]]\n",
    )
    .unwrap();
    let server = crate::util::start_server(voxlive::server::ServerConfig {
        responder: voxlive::server::ResponderKind::Scripted(
            voxlive::server::ScriptedResponder::from_path(&script).expect("script loads"),
        ),
        ..crate::util::fast_config()
    })
    .await;
    let mut o = options(bench_wav("01_short.wav"), None, None);
    o.setup.model = "models/gemini-3.8-live".into();
    o.target = Target::Remote(crate::util::endpoint(&server, None));
    let report = bench::run(o).await.expect("bench runs");
    assert_eq!(report.turns.len(), 1, "{:?}", report.turns);
    assert!(report.turns[0].first_byte_ms.is_some(), "{:?}", report.turns);
    assert_eq!(report.counters.extra_replies, 0, "{:?}", report.counters);
    assert_eq!(report.counters.unanswered_turns, 0, "{:?}", report.counters);
}

/// Checked before the first session: a report path that cannot be written and a file without speech at the
/// end of a set fail at once, naming the problem, before any session ran (no table on stdout).
#[test]
fn a_bad_report_path_or_a_speechless_file_fails_before_any_session() {
    let wav = bench_wav("01_short.wav");
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    let samples: Vec<i16> = (0..32_000).map(|i| ((i as f32 * 0.2).sin() * 8000.0) as i16).collect();
    voxlive::wav::write_pcm16(&tone, 16_000, &samples).unwrap();
    let nowhere = dir.path().join("no/such/dir/r.json");
    for (args, expect) in [
        (
            vec![
                "bench",
                "-i",
                wav.to_str().unwrap(),
                "--json",
                nowhere.to_str().unwrap(),
            ],
            "cannot write the report",
        ),
        (
            vec!["bench", "-i", wav.to_str().unwrap(), tone.to_str().unwrap()],
            "no speech found",
        ),
    ] {
        let o = voxlive(&args);
        assert_clear_failure(&args, expect);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("stage (ms)"), "a session ran before the error: {out}");
    }
}

/// A session that fails (here: no reply within --reply-timeout) still gets its table, and the exit
/// status says the bench failed.
#[test]
fn a_failed_session_fails_the_command_after_its_report() {
    let wav = bench_wav("01_short.wav");
    let args = [
        "bench",
        "-i",
        wav.to_str().unwrap(),
        "--vad",
        "local",
        "--reply-delay",
        "5000",
        "--reply-timeout",
        "1",
    ];
    let o = voxlive(&args);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!o.status.success(), "a failed session exited 0: {out}{err}");
    assert!(out.contains("failed:"), "the table names the failed session: {out}");
    assert!(err.contains("1 of 1 sessions failed"), "{err}");
}

/// A recording cut right after its last word: the bench goes on with silence, as an open microphone
/// would, so the server's VAD ends the turn (frames keep going up past the file's end for at least the
/// VAD's silence) instead of the end of the file; and with server VAD every answered turn has its end on
/// the socket (the frame holding the last word).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_at_its_last_word_is_ended_by_the_vad_not_by_the_file() {
    let (pcm, _) = voxlive::wav::read_pcm16(&bench_wav("01_short.wav"), 16_000).unwrap();
    let speech = bench::speech::utterances(&pcm, 16_000);
    let end = (speech.last().unwrap().end * 16_000.0) as usize;
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.wav");
    voxlive::wav::write_pcm16(&cut, 16_000, &pcm[..end.min(pcm.len())]).unwrap();
    let mut o = options(cut, None, None);
    o.mode = TalkMode::HandsFree(VadSource::Server);
    o.setup = setup(voxlive::protocol::Modality::Audio, false);
    o.setup.model = MODEL.into();
    let report = bench::run(o).await.unwrap();
    let file_secs = end as f64 / 16_000.0;
    let sent_secs = report.counters.frames_sent as f64 * 0.02;
    assert!(
        sent_secs >= file_secs + 0.5,
        "{sent_secs} s sent for a {file_secs} s file: the microphone stopped with the file"
    );
    assert_eq!(report.turns.len(), 1, "{:?}", report.turns);
    let t = &report.turns[0];
    assert!(t.first_byte_ms.is_some(), "unanswered: {t:?}");
    assert!(
        t.turn_end_ms.is_some(),
        "no turn end on the socket with server VAD: {t:?}"
    );
    assert!(
        t.first_byte_ms.unwrap() > t.turn_end_ms.unwrap(),
        "the reply came before the turn's end was sent: {t:?}"
    );
}
