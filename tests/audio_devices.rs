//! The audio core on real devices: cpal streams through a PulseAudio server (on CI and headless machines the
//! virtual devices of `scripts/virtual-audio.sh`: speaker `vox_speaker`, microphone `vox_mic` fed by the
//! sink `vox_mic_feed`). `pacat` plays a 1 kHz tone into the microphone, which must come out of the engine's
//! uplink as 16 kHz frames, while the engine's Player plays 500 Hz to the speaker, which `pacat` records from
//! `vox_speaker.monitor`: real streams both ways, no mocks.
//!
//! With no audio server these tests FAIL with a clear message, unless VOXLIVE_SKIP_DEVICE_TESTS=1.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use voxlive::audio::{list_devices, open_host, pick, AudioConfig, AudioEngine, DeviceChoice, Direction};

fn skipped(test: &str) -> bool {
    let skip = std::env::var("VOXLIVE_SKIP_DEVICE_TESTS").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{test}: skipped (VOXLIVE_SKIP_DEVICE_TESTS=1)");
    }
    skip
}

const NO_SERVER: &str = "no audio server reachable. Start one (`source scripts/virtual-audio.sh start`, which also \
exports XDG_RUNTIME_DIR) or set VOXLIVE_SKIP_DEVICE_TESTS=1 to skip the device tests";

#[test]
fn devices_are_listed() {
    if skipped("devices_are_listed") {
        return;
    }
    let report = list_devices().unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let text = report.to_string();
    eprintln!("{text}");
    assert!(
        report
            .hosts
            .iter()
            .any(|h| !h.inputs.is_empty() && !h.outputs.is_empty()),
        "{NO_SERVER}:\n{text}"
    );
    assert!(text.contains("inputs:") && text.contains("outputs:"));
    // the virtual devices open, so the default listing shows them
    for name in ["vox_speaker", "vox_mic"] {
        assert!(text.contains(name), "{name} is not listed:\n{text}");
    }
}

/// The index `voxlive devices` prints next to a device is the one `--input-device N` / `--output-device N`
/// opens, although the default listing leaves devices out.
#[test]
fn listed_indexes_are_what_the_device_flags_open() {
    if skipped("listed_indexes_are_what_the_device_flags_open") {
        return;
    }
    let report = list_devices().unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let host = open_host().unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let selected = report
        .hosts
        .iter()
        .find(|h| h.is_default)
        .unwrap_or_else(|| panic!("no host is marked default:\n{report}"));
    let mut checked = 0;
    for (dir, list) in [
        (Direction::Input, &selected.inputs),
        (Direction::Output, &selected.outputs),
    ] {
        for d in list.iter().filter(|d| d.is_usable()) {
            let opened = pick(&host, dir, &DeviceChoice::Index(d.index))
                .unwrap_or_else(|e| panic!("{dir} device {} ({}): {e}", d.index, d.id));
            assert_eq!(opened.id, d.id, "{dir} index {} opens another device", d.index);
            checked += 1;
        }
    }
    assert!(checked >= 2, "no usable devices on the selected host:\n{report}");
}

/// Runs the `voxlive` binary offline (no API key, no config file) with extra environment (`None`: removed).
fn voxlive(args: &[&str], env: &[(&str, Option<&std::ffi::OsStr>)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voxlive"));
    cmd.args(args)
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env_remove("RUST_LOG")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("voxlive-no-config"))
        .env("VOXLIVE_DATA_DIR", crate::util::data_dir())
        .stdin(Stdio::null());
    for (k, v) in env {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.output().unwrap_or_else(|e| panic!("cannot run voxlive: {e}"))
}

/// What libasound and libjack print on their own when probing fails.
fn library_noise(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("ALSA lib") || l.contains("jack") || l.contains("Jack") || l.contains("Cannot connect"))
        .collect()
}

#[test]
fn devices_command_lists_the_virtual_devices_quietly() {
    if skipped("devices_command_lists_the_virtual_devices_quietly") {
        return;
    }
    let o = voxlive(&["devices"], &[]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{NO_SERVER}: {err}");
    assert!(err.trim().is_empty(), "stderr should be empty, got:\n{err}");
    for name in ["vox_speaker", "vox_mic"] {
        assert!(out.contains(name), "{name} is not listed:\n{out}");
    }
    let all = voxlive(&["devices", "--all"], &[]);
    let all_out = String::from_utf8_lossy(&all.stdout);
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    assert!(library_noise(&String::from_utf8_lossy(&all.stderr)).is_empty());
    // every device line of the default listing is in --all with the same index and text (the id column may
    // be wider there)
    let squeeze = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let all_lines: Vec<String> = all_out.lines().map(squeeze).collect();
    let device_lines: Vec<&str> = out.lines().filter(|l| l.contains(" Hz, ")).collect();
    assert!(device_lines.len() >= 4, "{out}");
    for line in device_lines {
        assert!(
            all_lines.contains(&squeeze(line)),
            "{line:?} is not in --all:\n{all_out}"
        );
    }
    assert!(
        all_out.lines().count() >= out.lines().count(),
        "--all lists less:\n{all_out}"
    );
    if out.contains("hidden") {
        assert!(out.contains("voxlive devices --all"), "{out}");
    }
}

/// With no sound server at all, the user sees voxlive's own lines only: no "ALSA lib ... Connection
/// refused", no JACK lines. Needs no audio server, so it is never skipped.
#[test]
fn without_a_sound_server_only_voxlive_speaks() {
    let dir = std::env::temp_dir().join(format!("voxlive-no-sound-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    // an empty runtime dir has no server socket; the client config keeps libpulse from spawning a server
    let client_conf = dir.join("client.conf");
    std::fs::write(&client_conf, "autospawn = no\n").unwrap_or_else(|e| panic!("{}: {e}", client_conf.display()));
    let env = [
        ("XDG_RUNTIME_DIR", Some(dir.as_os_str())),
        ("PULSE_CLIENTCONFIG", Some(client_conf.as_os_str())),
        ("PULSE_SERVER", None),
        ("PULSE_RUNTIME_PATH", None),
        ("VOXLIVE_AUDIO_HOST", None),
    ];
    let devices = voxlive(&["devices"], &env);
    let devices_err = String::from_utf8_lossy(&devices.stderr).into_owned();
    let live = voxlive(&["--duration", "1"], &env);
    let live_err = String::from_utf8_lossy(&live.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        library_noise(&devices_err).is_empty(),
        "`voxlive devices` stderr:\n{devices_err}"
    );
    assert!(library_noise(&live_err).is_empty(), "`voxlive` stderr:\n{live_err}");
    if !live.status.success() {
        // the usual case (no sound card either): one error line, and voxlive's notice about the offline server
        assert!(!live_err.contains("panicked"), "{live_err}");
        let errors = live_err.lines().filter(|l| l.starts_with("voxlive: error:")).count();
        assert_eq!(errors, 1, "{live_err}");
        for line in live_err.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.starts_with("voxlive: "),
                "not voxlive's own line: {line:?}\n{live_err}"
            );
        }
    }
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|s| s * s).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

/// Index of the strongest DFT bin of `x` among `bins` (bin k = k * rate / len Hz).
fn dominant_bin(x: &[f32], bins: std::ops::RangeInclusive<usize>) -> usize {
    let n = x.len() as f32;
    let power = |k: usize| {
        let w = 2.0 * std::f32::consts::PI * k as f32 / n;
        let (re, im) = x.iter().enumerate().fold((0.0f32, 0.0f32), |(re, im), (i, &s)| {
            (re + s * (w * i as f32).cos(), im - s * (w * i as f32).sin())
        });
        re * re + im * im
    };
    bins.max_by(|&a, &b| power(a).total_cmp(&power(b))).unwrap_or(0)
}

fn pacat(args: &[&str], stdin: bool) -> Child {
    Command::new("pacat")
        .args(["--format=s16le", "--rate=48000", "--channels=1", "--raw"])
        .args(args)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(if stdin { Stdio::null() } else { Stdio::piped() })
        .spawn()
        .unwrap_or_else(|e| panic!("{NO_SERVER}: cannot run pacat (pulseaudio-utils): {e}"))
}

fn tone_i16(freq: f32, rate: u32, secs: f32, amp: f32) -> Vec<i16> {
    (0..(rate as f32 * secs) as usize)
        .map(|i| (amp * 32767.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16)
        .collect()
}

#[test]
fn tones_go_through_the_real_microphone_and_speaker() {
    let _devices = crate::util::devices_lock();
    if skipped("tones_go_through_the_real_microphone_and_speaker") {
        return;
    }
    let amp = 0.316f32; // -10 dBFS
    let (engine, mut rx) = AudioEngine::start(AudioConfig::default()).unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let started = Instant::now();
    while engine.stats().input_callbacks == 0 || engine.stats().output_callbacks == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{NO_SERVER}: streams opened but never ran: {}",
            engine.stats()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // what the speaker plays, recorded from its monitor
    let mut recorder = pacat(&["--record", "-d", "vox_speaker.monitor"], false);
    let mut rec_out = recorder.stdout.take().unwrap_or_else(|| panic!("pacat has no stdout"));
    let recording = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = rec_out.read_to_end(&mut bytes);
        bytes
    });
    // the microphone: 1 kHz for 1.5 s into the sink that feeds vox_mic
    let mut mic = pacat(&["--playback", "-d", "vox_mic_feed"], true);
    let mic_bytes: Vec<u8> = tone_i16(1000.0, 48_000, 1.5, amp)
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    if let Some(mut stdin) = mic.stdin.take() {
        stdin
            .write_all(&mic_bytes)
            .unwrap_or_else(|e| panic!("feeding the microphone: {e}"));
    }
    // the speaker: 500 Hz for 1.5 s at 24 kHz, as the Live API sends it
    engine
        .player()
        .play(tone_i16(500.0, 24_000, 1.5, amp), Instant::now())
        .unwrap_or_else(|e| panic!("play: {e}"));

    // per 20 ms uplink frame: loud? 1 kHz the strongest bin (50 Hz bins)?
    let (mut loud, mut at_1k, mut levels) = (0, 0, Vec::new());
    for _ in 0..200 {
        let Some(frame) = rx.blocking_recv() else {
            panic!("uplink closed: {:?}", engine.failure())
        };
        let x: Vec<f32> = frame.samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
        if rms(&x) > amp / 4.0 {
            loud += 1;
            levels.push(rms(&x));
            at_1k += usize::from(dominant_bin(&x, 6..=40) == 20);
        }
    }
    let stats = engine.stats();
    engine.stop();
    let _ = mic.wait();
    let _ = recorder.kill();
    let _ = recorder.wait();
    let speaker: Vec<f32> = recording
        .join()
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect();
    eprintln!("{stats}");

    // 1.5 s is 75 frames; a loaded machine may glitch a few (cpal's ALSA buffer is only two periods)
    assert!(loud >= 50, "only {loud} loud frames came from the microphone: {stats}");
    assert!(
        at_1k * 10 >= loud * 8,
        "1 kHz dominated only {at_1k} of {loud} microphone frames: {stats}"
    );
    levels.sort_by(f32::total_cmp);
    let db = 20.0 * (levels[levels.len() / 2] / (amp / 2f32.sqrt())).log10();
    assert!(
        db.abs() < 1.0,
        "microphone tone came through {db:.2} dB off (median frame)"
    );

    // speaker: 960-sample blocks at 48 kHz are 50 Hz bins, 500 Hz is bin 10
    let blocks: Vec<&[f32]> = speaker.chunks_exact(960).filter(|b| rms(b) > amp / 4.0).collect();
    let at_500 = blocks.iter().filter(|b| dominant_bin(b, 4..=40) == 10).count();
    eprintln!(
        "microphone: {at_1k}/{loud} loud frames at 1 kHz; speaker: {at_500}/{} loud blocks at 500 Hz",
        blocks.len()
    );
    assert!(
        blocks.len() >= 50,
        "only {} loud 20 ms blocks reached the speaker: {stats}",
        blocks.len()
    );
    assert!(
        at_500 * 10 >= blocks.len() * 8,
        "500 Hz dominated only {at_500} of {} speaker blocks",
        blocks.len()
    );
    let mut levels: Vec<f32> = blocks.iter().map(|b| rms(b)).collect();
    levels.sort_by(f32::total_cmp);
    let db = 20.0 * (levels[levels.len() / 2] / (amp / 2f32.sqrt())).log10();
    assert!(db.abs() < 1.0, "speaker tone played {db:.2} dB off (median block)");
}

/// Polls `f` until it holds; false after `secs` (a broken engine fails the test instead of hanging it).
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn barge_in_on_the_real_speaker_goes_silent_and_is_measured() {
    let _devices = crate::util::devices_lock();
    if skipped("barge_in_on_the_real_speaker_goes_silent_and_is_measured") {
        return;
    }
    let (engine, _rx) = AudioEngine::start(AudioConfig::default()).unwrap_or_else(|e| panic!("{NO_SERVER}: {e}"));
    let player = engine.player();
    player
        .play(tone_i16(500.0, 24_000, 3.0, 0.316), Instant::now())
        .unwrap_or_else(|e| panic!("play: {e}"));
    assert!(player.is_playing());
    assert!(
        eventually(5, || player.levels().speaker_dbfs > -20.0),
        "the reply never reached the speaker: {}",
        engine.stats()
    );
    player.barge_in(Instant::now());
    assert!(
        eventually(5, || !player.is_playing()),
        "still playing after the barge-in: {}",
        engine.stats()
    );
    assert!(
        eventually(5, || player.levels().speaker_dbfs <= voxlive::audio::SILENCE_DBFS),
        "the speaker is not silent: {:?}",
        player.levels()
    );
    let stats = engine.stats();
    engine.stop();
    let barge = stats
        .latency
        .iter()
        .find(|s| s.stage == voxlive::audio::Stage::BargeInToSilence)
        .unwrap_or_else(|| panic!("no barge-in latency recorded: {stats}"));
    assert_eq!(barge.count, 1);
    eprintln!("{stats}");
}
