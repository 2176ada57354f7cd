//! Push-to-talk: the pre-roll before the press, the held span, the release, the hold limit, and a press over
//! the tail of a reply.

use super::*;

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
