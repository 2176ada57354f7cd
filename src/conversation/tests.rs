//! Table tests: sequences of timestamped inputs -> the actions they must cause. No devices, sockets or clocks.

use std::time::{Duration, Instant};

use crate::audio::{Frame, VadState, FRAME_SAMPLES};
use crate::session::Event;

use super::*;

/// A test clock: every input carries `t0 + ms`.
struct Script {
    t0: Instant,
    c: Conversation,
}

fn frame(tag: i16) -> Box<Frame> {
    Box::new([tag; FRAME_SAMPLES])
}

impl Script {
    fn new(mode: TalkMode) -> Self {
        Self::with(Policy::new(mode))
    }

    fn with(policy: Policy) -> Self {
        let t0 = Instant::now();
        Script {
            t0,
            c: Conversation::new(policy, t0),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// A frame tagged with its sample value, so tests can tell which frames went up.
    fn frame(&mut self, ms: u64, tag: i16, vad: VadState, playing: bool) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::Frame {
            samples: frame(tag),
            vad,
            at,
            playing,
        })
    }

    /// Frames every 20 ms from `from` (tags from `tag0` up), all with the same VAD state.
    fn frames(&mut self, from: u64, n: u64, tag0: i16, vad: VadState, playing: bool) -> Vec<Action> {
        (0..n)
            .flat_map(|i| self.frame(from + 20 * i, tag0 + i as i16, vad, playing))
            .collect()
    }

    fn key_down(&mut self, ms: u64) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::KeyDown { at })
    }

    fn key_up(&mut self, ms: u64) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::KeyUp { at })
    }

    fn server(&mut self, ms: u64, event: Event) -> Vec<Action> {
        let at = self.at(ms);
        self.c.handle(Input::Server { event, at })
    }

    fn audio(&mut self, ms: u64) -> Vec<Action> {
        let at = self.at(ms);
        self.server(
            ms,
            Event::Audio {
                samples: vec![1; 480],
                rate: 24_000,
                received_at: at,
            },
        )
    }

    fn turn_complete(&mut self, ms: u64) -> Vec<Action> {
        self.server(
            ms,
            Event::TurnComplete {
                usage: None,
                reason: None,
                interaction: None,
            },
        )
    }
}

/// The tags of the frames sent, and the signals, as a compact trace: "start 1 2 3 end".
fn trace(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAudio { samples, .. } => Some(samples[0].to_string()),
            Action::ActivityStart => Some("start".into()),
            Action::ActivityEnd => Some("end".into()),
            Action::AudioStreamEnd => Some("stream-end".into()),
            Action::StopPlayback { onset: Some(_) } => Some("barge-in".into()),
            Action::StopPlayback { onset: None } => Some("flush".into()),
            Action::Play { .. } => Some("play".into()),
            Action::EndOfReply => Some("eor".into()),
            Action::SendText { text, .. } => Some(format!("text:{text}")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn states(actions: &[Action]) -> Vec<State> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Show(Notice::State(s)) => Some(*s),
            _ => None,
        })
        .collect()
}

fn rows(actions: &[Action]) -> Vec<TranscriptRow> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transcript(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

use VadState::{Silence, Speech};

#[test]
fn ptt_press_sends_preroll_then_held_span_and_release_ends_it() {
    let mut policy = Policy::new(TalkMode::PushToTalk);
    policy.preroll_frames = 3;
    let mut s = Script::with(policy);
    // five frames before the press: only the last three are the pre-roll
    assert_eq!(
        trace(&s.frames(0, 5, 1, Silence, false)),
        "",
        "nothing goes up before the press"
    );
    let press = s.key_down(95);
    assert_eq!(
        trace(&press),
        "start 3 4 5",
        "activityStart, then the pre-roll, oldest first"
    );
    assert_eq!(states(&press), vec![State::UserSpeaking]);
    assert_eq!(trace(&s.frames(100, 3, 10, Speech, false)), "10 11 12");
    let release = s.key_up(160);
    assert_eq!(trace(&release), "end");
    assert_eq!(states(&release), vec![State::WaitingForReply]);
    assert_eq!(
        trace(&s.frames(180, 5, 20, Silence, false)),
        "",
        "nothing after the release"
    );
    assert!(s.c.awaiting_reply());
}

#[test]
fn ptt_ignores_vad_and_repeated_key_downs() {
    let mut s = Script::new(TalkMode::PushToTalk);
    assert_eq!(
        trace(&s.frames(0, 5, 1, Speech, false)),
        "",
        "speech without the key sends nothing"
    );
    let first = s.key_down(100);
    assert!(trace(&first).starts_with("start"));
    assert_eq!(trace(&s.key_down(120)), "", "auto-repeat key downs change nothing");
    assert_eq!(trace(&s.key_up(200)), "end");
    assert_eq!(trace(&s.key_up(210)), "", "a second release changes nothing");
}

#[test]
fn ptt_max_hold_ends_the_turn_with_a_warning() {
    let mut policy = Policy::new(TalkMode::PushToTalk);
    policy.max_hold = Duration::from_millis(100);
    let mut s = Script::with(policy);
    s.key_down(0);
    let actions = s.frames(20, 6, 1, Speech, false);
    assert_eq!(
        trace(&actions),
        "1 2 3 4 5 end",
        "the frame that reaches the limit is the last one"
    );
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Show(Notice::Warning(w)) if w.contains("maximum"))));
}

#[test]
fn ptt_press_over_the_tail_of_a_reply_barges_in() {
    let mut s = Script::new(TalkMode::PushToTalk);
    s.key_down(0);
    s.key_up(500);
    let a = s.audio(700);
    assert_eq!(trace(&a), "play");
    assert!(a.contains(&Action::FirstReply(Duration::from_millis(200))));
    s.turn_complete(800);
    // the reply is complete but its tail still plays: the player says so
    s.frames(820, 10, 1, Silence, true);
    assert_eq!(s.c.state(), State::AssistantSpeaking, "the tail is still heard");
    let press = s.key_down(1100);
    assert_eq!(
        trace(&press),
        "barge-in start 1 2 3 4 5 6 7 8 9 10",
        "the pre-roll covers the tail frames"
    );
    // audio of the next reply plays normally
    assert_eq!(trace(&s.audio(2000)), "play");
}

#[test]
fn tail_ends_when_the_player_reports_silence_not_at_turn_complete() {
    let mut s = Script::new(TalkMode::PushToTalk);
    s.key_down(0);
    s.key_up(300);
    s.audio(400);
    let done = s.turn_complete(450);
    assert_eq!(
        states(&done),
        vec![],
        "turnComplete with audio still playing keeps the state"
    );
    assert_eq!(s.c.turns(), 1);
    // a "not playing" report right after the last chunk was queued is not trusted yet
    s.frame(460, 1, Silence, false);
    assert_eq!(s.c.state(), State::AssistantSpeaking);
    s.frame(1000, 2, Silence, true);
    let quiet = s.frame(1020, 3, Silence, false);
    assert_eq!(states(&quiet), vec![State::Listening]);
    assert!(s.c.is_idle(s.at(1020)));
}

#[test]
fn playback_reports_between_frames_end_the_tail() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.audio(100);
    s.turn_complete(150);
    s.frame(400, 2, Silence, true);
    let at = s.at(500);
    s.c.handle(Input::SourceEnded { at });
    assert_eq!(s.c.state(), State::AssistantSpeaking);
    let at = s.at(900);
    let done = s.c.handle(Input::Playback { playing: false, at });
    assert_eq!(
        states(&done),
        vec![State::Listening],
        "no frame needed to see the tail end"
    );
    assert!(s.c.is_idle(at));
}

#[test]
fn local_vad_onset_sends_preroll_and_speech_end_closes_the_activity() {
    let mut policy = Policy::new(TalkMode::HandsFree(VadSource::Local));
    policy.preroll_frames = 4;
    let mut s = Script::with(policy);
    assert_eq!(trace(&s.frames(0, 10, 1, Silence, false)), "", "silence is never sent");
    // the smoother labels the onset frames Silence; the first Speech frame is the onset
    let onset = s.frame(200, 50, Speech, false);
    assert_eq!(trace(&onset), "start 7 8 9 10 50");
    assert_eq!(trace(&s.frames(220, 3, 51, Speech, false)), "51 52 53");
    let end = s.frame(280, 60, Silence, false);
    assert_eq!(
        trace(&end),
        "end",
        "the first Silence frame after the hangover is not sent"
    );
    assert_eq!(trace(&s.frames(300, 10, 61, Silence, false)), "");
}

#[test]
fn local_vad_flapping_inside_the_hangover_keeps_one_activity() {
    // the smoother holds Speech through short gaps: the frames stay Speech, so one activity covers both words
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    let mut all = s.frames(0, 3, 1, Speech, false);
    all.extend(s.frames(60, 5, 10, Speech, false)); // a gap inside the hangover, still labelled Speech
    all.extend(s.frames(160, 3, 20, Speech, false));
    all.extend(s.frame(220, 30, Silence, false));
    let t = trace(&all);
    assert_eq!(t.matches("start").count(), 1, "{t}");
    assert_eq!(t.matches("end").count(), 1, "{t}");
}

#[test]
fn local_speech_over_a_playing_reply_barges_in_and_drops_the_rest_of_it() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.audio(200);
    s.audio(220);
    s.frames(240, 3, 1, Silence, true);
    let barge = s.frame(300, 40, Speech, true);
    let t = trace(&barge);
    assert!(t.starts_with("barge-in start"), "{t}");
    assert!(
        barge
            .iter()
            .any(|a| matches!(a, Action::StopPlayback { onset: Some(at) } if *at == s.at(300))),
        "the barge-in is timed from the onset frame"
    );
    assert_eq!(states(&barge), vec![State::Interrupted, State::UserSpeaking]);
    let r = rows(&barge);
    assert_eq!(r.len(), 2, "the first turn's rows: {r:?}");
    assert!(r[1].role == Role::Model && r[1].interrupted);
    // the service keeps sending the interrupted reply until it notices: dropped
    assert_eq!(trace(&s.audio(320)), "", "late audio of the cut reply is not played");
    assert_eq!(trace(&s.server(400, Event::Interrupted)), "flush");
    assert_eq!(trace(&s.audio(900)), "play", "the next reply plays");
}

#[test]
fn interrupted_drops_queued_audio_and_closes_the_reply() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Server));
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.audio(100);
    let a = s.server(150, Event::Interrupted);
    assert_eq!(trace(&a), "flush");
    assert!(rows(&a).iter().any(|r| r.role == Role::Model && r.interrupted));
    assert_eq!(s.c.turns(), 1);
    // turnComplete after interrupted does not count a second turn
    s.turn_complete(200);
    assert_eq!(s.c.turns(), 1);
}

#[test]
fn server_vad_streams_speech_then_ends_the_stream_after_silence_and_resumes_with_preroll() {
    let mut policy = Policy::new(TalkMode::HandsFree(VadSource::Server));
    policy.preroll_frames = 2;
    policy.stream_end_after = Duration::from_millis(100);
    let mut s = Script::with(policy);
    assert_eq!(trace(&s.frames(0, 2, 1, Speech, false)), "1 2");
    // silence streams on until stream_end_after, then audioStreamEnd and a pause
    assert_eq!(
        trace(&s.frames(40, 8, 10, Silence, false)),
        "10 11 12 13 14 15 stream-end"
    );
    assert_eq!(
        trace(&s.frames(200, 3, 20, Silence, false)),
        "",
        "paused: nothing goes up"
    );
    assert_eq!(
        trace(&s.frame(260, 30, Speech, false)),
        "21 22 30",
        "the pre-roll, then the onset frame"
    );
    assert!(
        !trace(&s.frames(280, 2, 31, Speech, false)).contains("start"),
        "no activity signals"
    );
}

#[test]
fn quiet_room_sends_one_stream_end_and_nothing_else() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Server));
    let t = trace(&s.frames(0, 300, 1, Silence, false));
    assert_eq!(t.matches("stream-end").count(), 1, "{t}");
    assert!(t.ends_with("stream-end"));
    assert_eq!(s.c.turns(), 0);
    let mut local = Script::new(TalkMode::HandsFree(VadSource::Local));
    assert_eq!(trace(&local.frames(0, 300, 1, Silence, false)), "");
}

#[test]
fn typed_line_mid_reply_barges_in_and_goes_up_by_the_models_route() {
    let mut policy = Policy::new(TalkMode::HandsFree(VadSource::Server));
    policy.text_route = TextRoute::ClientContent;
    let mut s = Script::with(policy);
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.audio(100);
    let at = s.at(150);
    let a = s.c.handle(Input::Typed {
        text: "  actually, in French  ".into(),
        at,
    });
    assert_eq!(trace(&a), "barge-in text:actually, in French");
    assert!(a.contains(&Action::SendText {
        text: "actually, in French".into(),
        route: TextRoute::ClientContent
    }));
    assert_eq!(s.c.state(), State::WaitingForReply);
    // while holding the key, a typed line just goes up beside the audio
    let mut p = Script::new(TalkMode::PushToTalk);
    p.key_down(0);
    let at = p.at(10);
    let typed = p.c.handle(Input::Typed { text: "x".into(), at });
    assert_eq!(trace(&typed), "text:x");
    assert_eq!(p.c.state(), State::UserSpeaking);
}

#[test]
fn transcript_rows_carry_turns_roles_and_times() {
    let mut s = Script::new(TalkMode::PushToTalk);
    s.key_down(1000);
    s.server(1200, Event::InputTranscript("what time ".into()));
    s.server(1300, Event::InputTranscript("is it".into()));
    s.key_up(1500);
    s.audio(1700);
    s.server(1750, Event::OutputTranscript("It is noon.".into()));
    s.audio(1800);
    let done = s.turn_complete(1900);
    let r = rows(&done);
    assert_eq!(
        r,
        vec![
            TranscriptRow {
                turn: 1,
                role: Role::User,
                text: "what time is it".into(),
                start_ms: 1000,
                end_ms: 1500,
                interrupted: false
            },
            TranscriptRow {
                turn: 1,
                role: Role::Model,
                text: "It is noon.".into(),
                start_ms: 1700,
                end_ms: 1800,
                interrupted: false
            }
        ]
    );
    assert!(done.contains(&Action::Show(Notice::TurnDone {
        turn: 1,
        first_reply: Some(Duration::from_millis(200)),
        interrupted: false,
        tokens: None
    })));
    s.key_down(3000);
    s.key_up(3100);
    s.audio(3200);
    let second = rows(&s.turn_complete(3300));
    assert!(second.iter().all(|r| r.turn == 2));
}

#[test]
fn source_end_closes_an_open_turn() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    s.frames(0, 3, 1, Speech, false);
    let at = s.at(100);
    assert_eq!(trace(&s.c.handle(Input::SourceEnded { at })), "end");
    let mut server = Script::new(TalkMode::HandsFree(VadSource::Server));
    server.frames(0, 3, 1, Speech, false);
    let at = server.at(100);
    assert_eq!(trace(&server.c.handle(Input::SourceEnded { at })), "stream-end");
    assert!(server.c.awaiting_reply());
}

#[test]
fn close_ends_the_conversation() {
    let mut s = Script::new(TalkMode::PushToTalk);
    let a = s.server(
        10,
        Event::Closed {
            code: Some(1011),
            reason: "internal error".into(),
            class: crate::session::CloseClass::Retryable,
        },
    );
    assert_eq!(
        a,
        vec![Action::End {
            normal: false,
            reason: "internal error".into()
        }]
    );
    assert!(s.c.is_ended());
    assert!(s.key_down(20).is_empty(), "nothing after the end");
}

#[test]
fn no_barge_in_keeps_the_reply_playing() {
    let mut policy = Policy::new(TalkMode::HandsFree(VadSource::Server));
    policy.barge_in = false;
    let mut s = Script::with(policy);
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.audio(100);
    let a = s.frame(150, 5, Speech, true);
    assert!(!trace(&a).contains("barge-in"));
    assert_eq!(trace(&s.audio(170)), "play");
}

fn turns_done(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Show(Notice::TurnDone { .. })))
        .count()
}

fn tool_call(id: &str) -> Event {
    Event::ToolCall(vec![crate::protocol::FunctionCall {
        id: Some(id.into()),
        name: "calculator".into(),
        args: Default::default(),
    }])
}

#[test]
fn a_turn_closed_right_after_a_tool_call_is_not_the_end_of_the_reply() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    let at = s.at(0);
    s.c.handle(Input::Typed {
        text: "what is 6*7".into(),
        at,
    });
    s.server(100, tool_call("c1"));
    let closed = s.turn_complete(110);
    assert_eq!(
        turns_done(&closed),
        0,
        "the first turnComplete after a toolCall ended the reply"
    );
    assert!(!s.c.is_idle(s.at(200)) && s.c.awaiting_reply());
    let at = s.at(300);
    let answered = s.c.handle(Input::ToolAnswered {
        ids: vec!["c1".into()],
        spoken: true,
        at,
    });
    assert_eq!(turns_done(&answered), 0, "the answer turn is still to come");
    s.audio(400);
    let done = s.turn_complete(500);
    assert_eq!(turns_done(&done), 1);
    assert_eq!(trace(&done), "eor");
    assert_eq!(s.c.turns(), 1);
}

#[test]
fn interaction_status_holds_the_reply_until_idle_and_cancellation_releases_it() {
    use crate::protocol::InteractionStatus;
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    let at = s.at(0);
    s.c.handle(Input::Typed { text: "hi".into(), at });
    s.audio(50);
    let held = s.server(
        60,
        Event::TurnComplete {
            usage: None,
            reason: None,
            interaction: Some(InteractionStatus::InProgress),
        },
    );
    assert_eq!(turns_done(&held), 0);
    let idle = s.server(70, Event::Interaction(InteractionStatus::Idle));
    assert_eq!(turns_done(&idle), 1);
    // an older model: the only call is cancelled, so nothing more is coming
    let at = s.at(100);
    s.c.handle(Input::Typed {
        text: "again".into(),
        at,
    });
    s.server(110, tool_call("c2"));
    assert_eq!(turns_done(&s.turn_complete(120)), 0);
    let cancelled = s.server(130, Event::ToolCallCancellation(vec!["c2".into()]));
    assert_eq!(turns_done(&cancelled), 1);
}
