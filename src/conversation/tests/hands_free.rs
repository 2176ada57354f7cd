//! Hands-free turn taking: local VAD (onset with pre-roll, end of speech, flapping inside the hangover) and
//! server VAD (streaming, audioStreamEnd after silence, resuming with the pre-roll), and the end of the source.

use super::*;

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
fn the_stream_end_waits_beyond_a_longer_server_silence() {
    let policy = Policy::new(TalkMode::HandsFree(VadSource::Server));
    assert_eq!(
        policy.clone().after_server_silence(None).stream_end_after,
        Duration::from_millis(1500)
    );
    assert_eq!(
        policy
            .clone()
            .after_server_silence(Some(Duration::from_millis(500)))
            .stream_end_after,
        Duration::from_millis(1500),
        "a shorter silence keeps the default"
    );
    // --silence-ms 3000: audioStreamEnd (which flushes the turn) must not cut the service's wait short
    let mut s = Script::with(policy.after_server_silence(Some(Duration::from_secs(3))));
    s.frames(0, 2, 1, Speech, false);
    let waiting = trace(&s.frames(40, 150, 10, Silence, false));
    assert!(
        !waiting.contains("stream-end"),
        "ended within 3 s of silence: {waiting}"
    );
    let later = trace(&s.frames(40 + 150 * 20, 30, 200, Silence, false));
    assert_eq!(later.matches("stream-end").count(), 1, "{later}");
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
