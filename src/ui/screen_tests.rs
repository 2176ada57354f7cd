use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::conversation::VadSource;
use crate::ui::{Frames, Levels};

/// The screen drawn on a `w`x`h` test terminal, one string per row.
fn draw(screen: &Screen, w: u16, h: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| screen.render(f)).unwrap();
    let buf = term.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf.cell((x, y)).unwrap().symbol()).collect::<String>())
        .collect()
}

fn has(rows: &[String], needle: &str) -> bool {
    rows.iter().any(|r| r.contains(needle))
}

fn ptt_screen() -> Screen {
    Screen::new(
        TalkMode::PushToTalk,
        Some("tap space to start and stop talking".to_string()),
    )
}

#[test]
fn shows_state_talk_mode_and_key_mode() {
    let mut s = ptt_screen();
    s.apply(&Notice::State(State::UserSpeaking));
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "YOU ARE SPEAKING"), "{rows:#?}");
    assert!(has(&rows, "push-to-talk"), "{rows:#?}");
    assert!(has(&rows, "tap space to start and stop talking"), "{rows:#?}");
    let hands_free = Screen::new(TalkMode::HandsFree(VadSource::Local), None);
    let rows = draw(&hands_free, 100, 20);
    assert!(
        has(&rows, "LISTENING") && has(&rows, "hands-free (local VAD)"),
        "{rows:#?}"
    );
    assert!(has(&rows, "just talk"), "{rows:#?}");
}

#[test]
fn state_banner_is_coloured_by_state() {
    let mut s = ptt_screen();
    let colour_at = |s: &Screen| {
        let mut term = Terminal::new(TestBackend::new(80, 12)).unwrap();
        term.draw(|f| s.render(f)).unwrap();
        term.backend().buffer().cell((1, 1)).unwrap().bg
    };
    assert_eq!(colour_at(&s), Color::Blue);
    s.apply(&Notice::State(State::AssistantSpeaking));
    assert_eq!(colour_at(&s), Color::Magenta);
}

#[test]
fn transcripts_stream_live_and_are_sanitized() {
    let mut s = ptt_screen();
    s.apply(&Notice::UserTranscript {
        turn: 1,
        text: "what's the ".into(),
    });
    s.apply(&Notice::UserTranscript {
        turn: 1,
        text: "weather\u{1b}[2J?".into(),
    });
    s.apply(&Notice::ToolCall {
        turn: 1,
        names: vec!["get_weather".into()],
    });
    s.apply(&Notice::ModelTranscript {
        turn: 1,
        text: "Sunny\u{1b}]0;pwned\u{7} and".into(),
    });
    let rows = draw(&s, 80, 16);
    assert!(has(&rows, "you: what's the weather[2J?"), "{rows:#?}");
    assert!(has(&rows, "tool call: get_weather"), "{rows:#?}");
    assert!(has(&rows, "voxlive: Sunny]0;pwned and"), "{rows:#?}");
    assert!(!rows.iter().any(|r| r.contains('\u{1b}') || r.contains('\u{7}')));
    s.apply(&Notice::TurnDone {
        turn: 1,
        first_reply: Some(Duration::from_millis(420)),
        interrupted: false,
        tokens: None,
    });
    s.apply(&Notice::UserTyped {
        turn: 2,
        text: "thanks".into(),
    });
    let rows = draw(&s, 80, 16);
    let at = |needle: &str| rows.iter().position(|r| r.contains(needle)).expect(needle);
    assert!(at("you: what's") < at("voxlive: Sunny"));
    assert!(at("voxlive: Sunny") < at("(turn 1: first reply after 420 ms)"));
    assert!(at("first reply after 420 ms)") < at("you (typed): thanks"));
    assert!(has(&rows, "first reply 420 ms"), "the counters line: {rows:#?}");
}

#[test]
fn earlier_turns_scroll_up_and_long_lines_wrap() {
    let mut s = ptt_screen();
    for turn in 1..=30 {
        s.apply(&Notice::ModelTranscript {
            turn,
            text: format!("reply number {turn}"),
        });
    }
    s.apply(&Notice::ModelTranscript {
        turn: 31,
        text: "word ".repeat(30),
    });
    let rows = draw(&s, 60, 16);
    assert!(has(&rows, "reply number 30"), "{rows:#?}");
    assert!(
        !has(&rows, "reply number 1 "),
        "the oldest turn scrolled away: {rows:#?}"
    );
    let wrapped = rows.iter().filter(|r| r.contains("word word")).count();
    assert!(wrapped >= 2, "a long reply wraps: {rows:#?}");
}

#[test]
fn meters_counters_vad_and_input_line() {
    let mut s = ptt_screen();
    s.set_status(&Status {
        state: State::UserSpeaking,
        mic_dbfs: -12.0,
        speaker_dbfs: -60.0,
        vad_speech: true,
        turns: 7,
        underruns: 3,
        frames_dropped: 4,
        chunks_dropped: 5,
        reconnects: 2,
        ..Status::default()
    });
    s.set_input("hello\u{1b}[31m");
    let rows = draw(&s, 100, 20);
    let mic = rows.iter().find(|r| r.contains("mic")).expect("a mic meter");
    assert!(mic.contains("-12 dBFS") && mic.contains("VAD speech"), "{mic}");
    assert!(mic.matches('█').count() > 20, "a loud mic fills most of the bar: {mic}");
    let spk = rows.iter().find(|r| r.contains("speaker")).expect("a speaker meter");
    assert!(spk.contains("-60 dBFS") && !spk.contains('█'), "{spk}");
    assert!(has(&rows, "turns 7"), "{rows:#?}");
    assert!(has(&rows, "underruns 3 | drops 4/5 | reconnects 2"), "{rows:#?}");
    assert!(has(&rows, "> hello[31m_"), "{rows:#?}");
    assert!(has(&rows, "YOU ARE SPEAKING"), "status carries the state");
}

#[test]
fn a_tiny_terminal_does_not_panic() {
    let mut s = ptt_screen();
    s.apply(&Notice::Warning("x".repeat(500)));
    for (w, h) in [(1, 1), (5, 3), (20, 6), (200, 2)] {
        draw(&s, w, h);
    }
}

#[test]
fn wrap_splits_on_words_and_width() {
    assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
    assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
    assert_eq!(wrap("日本語", 4), vec!["日本", "語"]);
    assert_eq!(wrap("", 4), vec![""]);
}

#[test]
fn meters_start_empty_and_turn_latency_survives_a_status_without_one() {
    let mut s = ptt_screen();
    let rows = draw(&s, 100, 20);
    assert!(
        !rows.iter().any(|r| r.contains('█')),
        "no status yet: empty meters {rows:#?}"
    );
    s.apply(&Notice::TurnDone {
        turn: 1,
        first_reply: Some(Duration::from_millis(321)),
        interrupted: true,
        tokens: None,
    });
    s.set_status(&Status::default());
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "first reply 321 ms"), "{rows:#?}");
    assert!(
        has(&rows, "(turn 1: first reply after 321 ms, interrupted)"),
        "{rows:#?}"
    );
}

#[test]
fn a_long_input_line_shows_its_end() {
    let mut s = ptt_screen();
    s.set_input(&format!("{}THE END", "x".repeat(200)));
    let rows = draw(&s, 40, 12);
    assert!(has(&rows, "xxTHE END_"), "{rows:#?}");
    assert_eq!(tail_fitting("abcdef", 3), "def");
    assert_eq!(tail_fitting("ab", 3), "ab");
    assert_eq!(tail_fitting("日本語", 4), "本語");
}

#[test]
fn a_steady_status_changes_nothing_on_screen() {
    let mut s = ptt_screen();
    let st = Status {
        mic_dbfs: -40.2,
        ..Status::default()
    };
    assert_eq!(s.set_status(&st), Redraw::Meters, "the first snapshot moves the meters");
    assert_eq!(s.set_status(&st), Redraw::Nothing);
    let same_db = Status {
        mic_dbfs: -40.4,
        ..st.clone()
    };
    assert_eq!(
        s.set_status(&same_db),
        Redraw::Nothing,
        "printed as -40 dBFS either way"
    );
    let louder = Status {
        mic_dbfs: -20.0,
        ..st.clone()
    };
    assert_eq!(s.set_status(&louder), Redraw::Meters);
    let speech = Status {
        vad_speech: true,
        ..louder.clone()
    };
    assert_eq!(s.set_status(&speech), Redraw::Meters);
    let counted = Status { underruns: 1, ..speech };
    assert_eq!(s.set_status(&counted), Redraw::Everything);
    let speaking = Status {
        state: State::AssistantSpeaking,
        ..counted
    };
    assert_eq!(s.set_status(&speaking), Redraw::Everything);
}

/// Meter-only redraws between full frames must leave on the terminal exactly what full draws would.
#[test]
fn meter_only_redraws_show_what_full_draws_show() {
    let mut s = ptt_screen();
    s.apply(&Notice::UserTranscript {
        turn: 1,
        text: "what time is it in Tokyo".into(),
    });
    let quiet = Status {
        mic_dbfs: -50.0,
        speaker_dbfs: -58.0,
        ..Status::default()
    };
    s.set_status(&quiet);
    let area = Rect::new(0, 0, 80, 16);
    let mut frames = Frames::new(TestBackend::new(80, 16), area).unwrap();
    frames.draw_full(&s).unwrap();
    let steps = [
        (-20.0, -58.0, true, false),
        (-3.0, -12.5, true, true),
        (-60.0, -90.0, false, false),
    ];
    for (mic, spk, vad, more_text) in steps {
        let st = Status {
            mic_dbfs: mic,
            speaker_dbfs: spk,
            vad_speech: vad,
            ..quiet.clone()
        };
        assert_eq!(s.set_status(&st), Redraw::Meters);
        frames.draw_meters(&s).unwrap();
        let mut full = Terminal::new(TestBackend::new(80, 16)).unwrap();
        full.draw(|f| s.render(f)).unwrap();
        assert_eq!(
            frames.backend().buffer(),
            full.backend().buffer(),
            "mic {mic}, speaker {spk}"
        );
        if more_text {
            // a full frame after meter-only ones: its diff must start from what the meters left shown
            s.apply(&Notice::ModelTranscript {
                turn: 1,
                text: "It is nine in the evening.".into(),
            });
            frames.draw_full(&s).unwrap();
            let mut full = Terminal::new(TestBackend::new(80, 16)).unwrap();
            full.draw(|f| s.render(f)).unwrap();
            assert_eq!(frames.backend().buffer(), full.backend().buffer());
        }
    }
}

/// Levels read by the render thread replace those in status snapshots, and only their changes redraw.
#[test]
fn pulled_levels_win_over_snapshot_levels() {
    let mut s = ptt_screen();
    let l = Levels {
        mic_dbfs: -20.0,
        speaker_dbfs: -30.0,
    };
    assert_eq!(s.set_levels(l), Redraw::Meters);
    assert_eq!(s.set_levels(l), Redraw::Nothing);
    // a snapshot whose levels are stale changes nothing on screen
    assert_eq!(s.set_status(&Status::default()), Redraw::Nothing);
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "-20 dBFS"), "{rows:#?}");
    assert!(has(&rows, "-30 dBFS"), "{rows:#?}");
}

/// Meters rise at once and fall slowly, so a gap between reply chunks does not flash the bar to the floor.
#[test]
fn meters_fall_slowly_and_rise_at_once() {
    let mut s = ptt_screen();
    let loud = Levels {
        mic_dbfs: -60.0,
        speaker_dbfs: -10.0,
    };
    s.set_levels(loud);
    let gap = Levels {
        mic_dbfs: -60.0,
        speaker_dbfs: -90.0,
    };
    s.set_levels(gap);
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "-12 dBFS"), "one step down, not to the floor: {rows:#?}");
    for _ in 0..100 {
        s.set_levels(gap);
    }
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "-90 dBFS"), "{rows:#?}");
    s.set_levels(loud);
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "-10 dBFS"), "{rows:#?}");
}

/// Interim transcription (late 2026) shows live, each piece replacing the one before, and gives way to
/// the final transcript.
#[test]
fn interim_transcripts_are_replaced_by_the_final_one() {
    let mut s = ptt_screen();
    s.apply(&Notice::InterimUserTranscript {
        turn: 1,
        text: "what".into(),
    });
    s.apply(&Notice::InterimUserTranscript {
        turn: 1,
        text: "what time is".into(),
    });
    let rows = draw(&s, 80, 16);
    assert!(has(&rows, "you: what time is…"), "{rows:#?}");
    assert!(!has(&rows, "you: what…"), "the older interim is gone: {rows:#?}");
    s.apply(&Notice::UserTranscript {
        turn: 1,
        text: "what time is it".into(),
    });
    let rows = draw(&s, 80, 16);
    assert!(has(&rows, "you: what time is it"), "{rows:#?}");
    assert!(!has(&rows, "…"), "no interim left: {rows:#?}");
}

#[test]
fn the_servers_vad_shows_beside_the_local_one() {
    let mut s = Screen::new(TalkMode::HandsFree(VadSource::Server), None);
    let before = draw(&s, 100, 20);
    assert!(
        !has(&before, "server speech") && !has(&before, "server quiet"),
        "nothing before the server said"
    );
    let status = Status {
        server_vad: Some(true),
        ..Status::default()
    };
    assert_eq!(s.set_status(&status), Redraw::Meters);
    assert!(has(&draw(&s, 100, 20), "server speech"));
    s.set_status(&Status {
        server_vad: Some(false),
        ..Status::default()
    });
    assert!(has(&draw(&s, 100, 20), "server quiet"));
}

#[test]
fn a_tool_question_shows_in_its_turn_after_the_call_and_takes_the_banner() {
    let mut s = Screen::new(TalkMode::HandsFree(VadSource::Server), None);
    s.apply(&Notice::State(State::WaitingForReply));
    s.apply(&Notice::UserTranscript {
        turn: 1,
        text: "mark it".into(),
    });
    s.apply(&Notice::ToolCall {
        turn: 1,
        names: vec!["mark_file".into()],
    });
    s.apply(&Notice::Question("allow tool mark_file {}? [y/N]".into()));
    let rows = draw(&s, 100, 20);
    let at = |needle: &str| rows.iter().position(|r| r.contains(needle));
    let (call, asks) = (at("tool call: mark_file"), at("voxlive: asks: allow tool mark_file"));
    assert!(
        call.is_some() && asks > call,
        "the question follows its call: {rows:#?}"
    );
    assert!(!has(&rows, "tool call: question"), "{rows:#?}");
    assert!(has(&rows, "ANSWER Y OR N") && !has(&rows, "WAITING"), "{rows:#?}");
    assert!(has(&rows, "y: allow the tool call"), "{rows:#?}");
    s.apply(&Notice::QuestionClosed);
    s.apply(&Notice::Info("tool mark_file allowed".into()));
    let rows = draw(&s, 100, 20);
    assert!(has(&rows, "WAITING") && !has(&rows, "ANSWER Y OR N"), "{rows:#?}");
    let answered = rows.iter().position(|r| r.contains("tool mark_file allowed"));
    assert!(answered > rows.iter().position(|r| r.contains("asks:")), "{rows:#?}");
}
