//! Turns matched from the clocks: each utterance of the file (its end of speech on the monotonic clock)
//! paired with the activityEnd the session wrote for it and the reply that answered it. Pure: every input
//! is an instant, so the rules are unit-tested without a session.

use std::time::{Duration, Instant};

use crate::audio::Span;

use super::record::TurnRecord;
use super::speech::Utterance;

/// Milliseconds from `a` to `b`, negative when `b` came first.
pub(super) fn ms(a: Instant, b: Instant) -> f64 {
    match b.checked_duration_since(a) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(a.duration_since(b).as_secs_f64() * 1e3),
    }
}

/// Turns as matched from the clocks: utterance `k` gets the first activityEnd written after it ended (less
/// [`EARLY`]) and before the next one began, and the first reply that started after that (with server VAD:
/// after the utterance ended, less [`EARLY`]) and before the next utterance ended.
pub struct Matched {
    pub turns: Vec<TurnRecord>,
    /// Replies that answered no utterance (most often: an early turn end's reply).
    pub extra_replies: u64,
    /// activityEnds written while the user was still speaking (the VAD ended the turn at a pause).
    pub early_turn_ends: u64,
}

/// How much earlier than the file's end of speech an activityEnd may come and still end that turn: the
/// file's level detector and the pipeline's VAD may disagree by a frame or two about the last word's tail.
pub const EARLY: Duration = Duration::from_millis(150);

/// Matches `speech` (seconds from `origin`) to the activityEnds written and the replies that started, as
/// [`Matched`] describes; the turns' `input`, `run` and `turn` are left for the caller to fill in.
pub fn match_turns(
    speech: &[Utterance],
    origin: Instant,
    activity_ends: &[Instant],
    reply_starts: &[Instant],
    stops: &[Instant],
    spans: &[Span],
) -> Matched {
    let at = |secs: f64| origin + Duration::from_secs_f64(secs.max(0.0));
    let (mut e, mut r) = (0, 0);
    let (mut extra, mut early) = (0, 0);
    let mut turns = Vec::with_capacity(speech.len());
    for (k, u) in speech.iter().enumerate() {
        let (start, end) = (at(u.start), at(u.end));
        let next_start = speech.get(k + 1).map(|n| at(n.start));
        let next_end = speech.get(k + 1).map(|n| at(n.end));
        // an activityEnd before the user finished (the VAD ended the turn at a pause) is not this turn's end
        while e < activity_ends.len() && activity_ends[e] < end.checked_sub(EARLY).unwrap_or(end) {
            if activity_ends[e] >= start {
                early += 1;
            }
            e += 1;
        }
        let turn_end = match activity_ends.get(e) {
            Some(&t) if next_start.is_none_or(|n| t < n) => {
                e += 1;
                Some(t)
            }
            _ => None,
        };
        // a reply that started before the user finished answers an early turn end, not this turn
        let after = turn_end.unwrap_or(end.checked_sub(EARLY).unwrap_or(end));
        while r < reply_starts.len() && reply_starts[r] < after {
            r += 1;
            extra += 1;
        }
        let reply = match reply_starts.get(r) {
            Some(&t) if next_end.is_none_or(|n| t < n) => {
                r += 1;
                Some(t)
            }
            _ => None,
        };
        let heard = reply.and_then(|t| {
            spans
                .iter()
                .find(|s| s.stage == crate::audio::Stage::FirstReplyToPlayout && s.start == t)
                .map(|s| s.end)
        });
        let interrupted = reply.is_some_and(|t| {
            let until = reply_starts.get(r).copied();
            stops.iter().any(|&s| s >= t && until.is_none_or(|u| s < u))
        });
        turns.push(TurnRecord {
            input: String::new(),
            run: 0,
            turn: 0,
            speech_start_s: u.start,
            speech_end_s: u.end,
            turn_end_ms: turn_end.map(|t| ms(end, t)),
            first_byte_ms: reply.map(|t| ms(end, t)),
            heard_ms: heard.map(|t| ms(end, t)),
            interrupted,
        });
    }
    extra += (reply_starts.len() - r) as u64;
    Matched {
        turns,
        extra_replies: extra,
        early_turn_ends: early,
    }
}

/// With server VAD the client writes no activityEnd: the turn's end on the socket is the first audio frame
/// captured at or after the end of each utterance (the frame holding the last word), from the session's
/// (capture, written) times in write order. One instant per utterance that such a frame followed.
pub fn frames_holding(speech: &[Utterance], origin: Instant, frames: &[(Instant, Instant)]) -> Vec<Instant> {
    speech
        .iter()
        .filter_map(|u| {
            let end = origin + Duration::from_secs_f64(u.end.max(0.0));
            let k = frames.partition_point(|(captured, _)| *captured < end);
            frames.get(k).map(|(_, written)| *written)
        })
        .collect()
}

/// Each barge-in timed from the user's onset in the file (the latest utterance that began before the VAD
/// heard it, plus [`EARLY`] of slack) to the playback's silence: the VAD's attack is part of what the user waits
/// through. A barge-in with no such utterance keeps the engine's own onset.
pub fn barge_in_from_onsets(speech: &[Utterance], origin: Instant, spans: &[Span]) -> Vec<f64> {
    spans
        .iter()
        .filter(|s| s.stage == crate::audio::Stage::BargeInToSilence)
        .map(|s| {
            let onset = speech
                .iter()
                .map(|u| origin + Duration::from_secs_f64(u.start.max(0.0)))
                .rfind(|&at| at <= s.start + EARLY)
                .unwrap_or(s.start);
            // a VAD that heard the user a frame before the file's detector did: from the VAD's onset
            ms(onset.min(s.start), s.end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::record::Stage;

    #[test]
    fn turns_match_their_own_activity_end_and_reply() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 1.5 }, Utterance { start: 4.0, end: 5.0 }];
        let ends = [t(1_800), t(5_300)];
        let replies = [t(1_900), t(5_450)];
        let spans = [Span {
            stage: crate::audio::Stage::FirstReplyToPlayout,
            start: t(1_900),
            end: t(1_960),
        }];
        let m = match_turns(&speech, o, &ends, &replies, &[t(4_200)], &spans);
        assert_eq!(m.extra_replies, 0);
        let [a, b] = &m.turns[..] else {
            panic!("{:?}", m.turns.len())
        };
        assert_eq!(
            (a.turn_end_ms, a.first_byte_ms, a.heard_ms),
            (Some(300.0), Some(400.0), Some(460.0))
        );
        assert!(a.interrupted, "a stop between its reply and the next one");
        assert_eq!(
            (b.turn_end_ms, b.first_byte_ms, b.heard_ms),
            (Some(300.0), Some(450.0), None)
        );
        assert_eq!(a.value(Stage::TurnEndToFirstByte), Some(100.0));
        assert_eq!(a.value(Stage::FirstByteToHeard), Some(60.0));
    }

    #[test]
    fn a_turn_ended_at_a_pause_is_counted_early_and_not_timed() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 4.0 }];
        // the VAD ended the turn at 2.0 s mid-sentence (its reply at 2.1 s), then again after the last word
        let m = match_turns(&speech, o, &[t(2_000), t(4_300)], &[t(2_100), t(4_400)], &[], &[]);
        assert_eq!((m.early_turn_ends, m.extra_replies), (1, 1));
        assert_eq!(m.turns[0].turn_end_ms, Some(300.0));
        assert_eq!(m.turns[0].first_byte_ms, Some(400.0));
    }

    #[test]
    fn a_turn_without_a_reply_does_not_take_the_next_ones() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 1.0 }, Utterance { start: 1.2, end: 2.0 }];
        // the VAD merged both: one activityEnd and one reply, after the second
        let m = match_turns(&speech, o, &[t(2_300)], &[t(2_400)], &[], &[]);
        assert_eq!((m.turns[0].turn_end_ms, m.turns[0].first_byte_ms), (None, None));
        assert_eq!(m.turns[1].turn_end_ms, Some(300.0));
        assert_eq!(
            m.turns[1].first_byte_ms,
            Some(400.0),
            "the reply belongs to the turn it followed"
        );
        assert_eq!(m.extra_replies, 0);
    }

    #[test]
    fn a_server_vad_turn_ends_with_the_frame_holding_the_last_word() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.1, end: 1.01 }, Utterance { start: 2.0, end: 2.5 }];
        // frames captured every 20 ms from 20 ms, each written 1 ms later; none after 2.4 s
        let frames: Vec<(Instant, Instant)> = (1..=120).map(|k| (t(20 * k), t(20 * k + 1))).collect();
        assert_eq!(frames_holding(&speech, o, &frames), vec![t(1_021)]);
        let m = match_turns(&speech, o, &frames_holding(&speech, o, &frames), &[t(1_600)], &[], &[]);
        let end = m.turns[0].turn_end_ms.unwrap();
        assert!((end - 11.0).abs() < 1e-6, "{end}");
        assert_eq!(m.turns[1].turn_end_ms, None);
    }

    #[test]
    fn a_barge_in_is_timed_from_the_users_onset_in_the_file() {
        let o = Instant::now();
        let t = |ms: u64| o + Duration::from_millis(ms);
        let speech = [Utterance { start: 0.5, end: 1.0 }, Utterance { start: 3.0, end: 4.0 }];
        let span = |start: u64, end: u64| Span {
            stage: crate::audio::Stage::BargeInToSilence,
            start: t(start),
            end: t(end),
        };
        // the VAD heard the second utterance 120 ms into it; silence 5 ms later
        let v = barge_in_from_onsets(&speech, o, &[span(3_120, 3_125)]);
        assert_eq!(v.len(), 1);
        assert!((v[0] - 125.0).abs() < 1e-6, "{v:?}");
        // a VAD onset a little before the file's (its frame straddles the onset): from the earlier one
        let v = barge_in_from_onsets(&speech, o, &[span(2_990, 2_995)]);
        assert!((v[0] - 5.0).abs() < 1e-6, "{v:?}");
    }
}
