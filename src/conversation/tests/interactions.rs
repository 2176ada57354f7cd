//! Interactions longer than one turn: tool calls and their answers, interactionStatus (IN_PROGRESS, IDLE),
//! cancellations, and the interim transcripts and server VAD the front end shows.

use super::*;

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

/// gemini-3.8-live: an IN_PROGRESS turnComplete ends an utterance (its audio plays out) but not the
/// interaction: the reply stays open, the state waits, the conversation is not idle, and the next utterance
/// belongs to the same turn; IDLE closes it.
#[test]
fn an_interaction_in_progress_is_not_the_end_of_the_reply() {
    use crate::protocol::InteractionStatus::{Idle, InProgress};
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.server(80, Event::OutputTranscript("Let me check.".into()));
    s.audio(100);
    let first = s.turn_complete_with(150, Some(InProgress));
    assert_eq!(trace(&first), "eor", "the utterance's audio plays to its end");
    assert_eq!(turns_done(&first), 0, "not the end of the turn");
    assert_eq!(s.c.turns(), 0);
    let quiet = s.frame(1000, 2, Silence, false);
    assert_eq!(
        states(&quiet),
        vec![State::WaitingForReply],
        "the model will speak again"
    );
    assert!(!s.c.is_idle(s.at(1000)));
    assert!(s.c.awaiting_since().is_some(), "a reply timeout still covers the wait");

    s.server(1100, Event::OutputTranscript("It is noon.".into()));
    s.audio(1120);
    let last = s.turn_complete_with(1200, Some(Idle));
    assert_eq!(turns_done(&last), 1);
    let model = rows(&last).into_iter().find(|r| r.role == Role::Model).unwrap();
    assert_eq!(model.text, "Let me check. It is noon.", "one turn, both utterances");
    s.frame(2000, 3, Silence, false);
    assert!(s.c.is_idle(s.at(2000)));
    assert_eq!(s.c.state(), State::Listening);
}

/// An interactionStatus IDLE without a turnComplete closes an interaction left in progress; a server
/// `interrupted` gives up waiting for the rest.
#[test]
fn idle_without_turn_complete_and_interrupted_end_the_interaction() {
    use crate::protocol::InteractionStatus::{Idle, InProgress};
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Local));
    s.frames(0, 3, 1, Speech, false);
    s.frame(60, 9, Silence, false);
    s.audio(100);
    s.turn_complete_with(150, Some(InProgress));
    let idle = s.server(300, Event::Interaction(Idle));
    assert_eq!(turns_done(&idle), 1);
    s.frame(1000, 2, Silence, false);
    assert!(s.c.is_idle(s.at(1000)));

    s.frames(1100, 3, 1, Speech, false);
    s.frame(1160, 9, Silence, false);
    s.audio(1200);
    s.turn_complete_with(1250, Some(InProgress));
    s.server(1300, Event::Interrupted);
    s.frame(2000, 2, Silence, false);
    assert!(s.c.is_idle(s.at(2000)));
}

#[test]
fn interim_transcripts_and_the_servers_vad_reach_the_front_end() {
    let mut s = Script::new(TalkMode::HandsFree(VadSource::Server));
    let shown = s.server(10, Event::InterimInputTranscript("what".into()));
    assert!(shown.contains(&Action::Show(Notice::InterimUserTranscript {
        turn: 1,
        text: "what".into()
    })));
    assert_eq!(s.c.server_vad(), None);
    s.server(
        20,
        Event::VoiceActivity {
            started: true,
            offset: Some(Duration::from_millis(500)),
        },
    );
    assert_eq!(s.c.server_vad(), Some(true));
    s.server(
        30,
        Event::VoiceActivity {
            started: false,
            offset: None,
        },
    );
    assert_eq!(s.c.server_vad(), Some(false));
}
