//! Replies: the tail heard out before listening again, barge-in (by voice, by a typed line) and the server's
//! `interrupted`, transcript rows, the session's close, and `--no-barge-in`.

use super::*;

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
