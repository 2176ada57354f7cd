//! voxlive patch: when the reactor polls its socket again after a wake-up (see [`Pacing`]).

use std::time::{Duration, Instant};

use crate::protocol;

/// voxlive patch: the longest the reactor lets data wait after a wake-up (see [`Pacing`]).
const MAX_PACE: Duration = Duration::from_millis(20);
/// voxlive patch: how long after a playback request is due the reactor wakes for it, as a share of the
/// request period (a quarter: 5 ms of 20), so that it is there although the server sends it up to one of its
/// sink's blocks late (3 ms on a null sink), and the stream's buffer still holds most of a period.
const REQUEST_SLACK_SHARE: u32 = 4;

/// voxlive patch: when the reactor polls the socket again after a wake-up, so that what the server sends in
/// between is handled in one wake-up. A server may send a record stream's data in chunks much smaller than the
/// fragment the client asked for (a PulseAudio monitor source delivers whatever its sink renders, 3 ms on a
/// null sink), and each message woke this thread: 550 wake-ups a second for one 10 ms capture and one 10 ms
/// playback stream, most of a live voice session's CPU on a VM where a wake-up costs 20-60 us.
///
/// A playback stream sets the rhythm: the server asks for more each time a minimum request has played, so
/// the reactor sleeps until the next request is due (plus [`REQUEST_SLACK_SHARE`] of a period) and handles
/// it together with the capture data that came meanwhile. The bet is that requests keep their rhythm: one
/// that comes earlier than due (a burst after a stream restart) waits for the end of the sleep, at most one
/// minimum request; one that is overdue when the reactor wakes shortens the next sleep to half of what the
/// stream's buffer holds beyond one request. Without playback, record data waits at most one fragment,
/// which is what the client asked the server for. Never more than [`MAX_PACE`].
///
/// The rhythm is the server's, so the next request is due one period after the latest one *arrived*, not
/// after this thread got to it: a request found waiting at the end of a sleep arrived at some unknown moment
/// of that sleep, and counting from the wake-up made every answer later than the one before by the slack
/// and the timer's lateness, until the stream's buffer ran dry (every ~2.6 s on the rig, where the server
/// then asked for its whole buffer at once: its queue for the stream had run empty).
/// [`Pacing::request_arrived`] takes the arrival to be when it was due, within the time the reactor could
/// not have seen it.
#[derive(Default)]
pub(super) struct Pacing {
    /// The shortest minimum request of the playback streams.
    pub(super) request: Option<Duration>,
    /// The shortest wait a playback request allows: half of what a stream's target length holds beyond a
    /// minimum request.
    pub(super) request_margin: Option<Duration>,
    /// The shortest fragment of the record streams.
    pub(super) fragment: Option<Duration>,
    /// When the latest playback request arrived (as [`Pacing::request_arrived`] reckons it).
    pub(super) last_request: Option<Instant>,
    /// When the reactor last finished handling what it had read: anything that arrived since waited unseen.
    pub(super) unseen_since: Option<Instant>,
}

impl Pacing {
    /// A playback request was read at `now`. It arrived at some moment since [`Pacing::unseen_since`]:
    /// when it was due (one period after the one before), if that lies in that time; the earliest moment
    /// it could have come, if it is later than due (the next wake-up is then early rather than late, and
    /// waits for it); `now`, if it came earlier than due or starts the rhythm.
    pub(super) fn request_arrived(&mut self, now: Instant) {
        let due = self.last_request.zip(self.request).map(|(at, period)| at + period);
        self.last_request = Some(match (due, self.unseen_since) {
            (Some(due), Some(since)) if due <= now => due.max(since.min(now)),
            _ => now,
        });
    }

    /// When to poll again after a wake-up at `woke`; `None`: at once.
    pub(super) fn next_poll(&self, woke: Instant) -> Option<Instant> {
        let latest = woke + MAX_PACE;
        if let (Some(period), Some(at)) = (self.request, self.last_request) {
            let due = at + period + period / REQUEST_SLACK_SHARE;
            if due > woke {
                return Some(due.min(latest));
            }
        }
        let wait = [self.request_margin, self.fragment].into_iter().flatten().min()?;
        Some((woke + wait).min(latest))
    }
}

/// voxlive patch: `len` bytes of `spec` audio as a duration; zero for a spec a server got wrong (no channels,
/// no rate, an invalid format), which then paces nothing.
pub(super) fn bytes_to_duration(spec: &protocol::SampleSpec, len: u32) -> Duration {
    let frame = spec.format.bytes_per_sample() as u64 * u64::from(spec.channels);
    if frame == 0 || spec.sample_rate == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(u64::from(len) / frame * 1_000_000_000 / u64::from(spec.sample_rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn pacing(request: Option<u64>, margin: Option<u64>, fragment: Option<u64>) -> Pacing {
        Pacing {
            request: request.map(Duration::from_millis),
            request_margin: margin.map(Duration::from_millis),
            fragment: fragment.map(Duration::from_millis),
            last_request: None,
            unseen_since: None,
        }
    }

    /// 10 ms playback requests (5 ms margin, 10 ms capture fragments), the first one read at `t`.
    fn rhythm_started() -> (Pacing, Instant) {
        let mut p = pacing(Some(10), Some(5), Some(10));
        let t = Instant::now();
        p.request_arrived(t);
        (p, t)
    }

    #[test]
    fn a_request_found_after_a_sleep_counts_from_when_it_was_due() {
        let (mut p, t) = rhythm_started();
        assert_eq!(p.last_request, Some(t), "the first request starts the rhythm");
        // asleep from t + 1 ms, awake and reading it at t + 12.5 ms: it came when due, at t + 10 ms
        p.unseen_since = Some(t + MS);
        p.request_arrived(t + MS * 12 + MS / 2);
        assert_eq!(p.last_request, Some(t + MS * 10));
    }

    #[test]
    fn the_rhythm_does_not_drift_later_with_each_late_wake_up() {
        let (mut p, t) = rhythm_started();
        let mut woke = t;
        for k in 1..=200u32 {
            p.unseen_since = Some(woke + MS / 10);
            let due = p.next_poll(woke).unwrap();
            // the timer fires 0.3 ms late and the request was there
            woke = due + MS * 3 / 10;
            p.request_arrived(woke);
            assert_eq!(p.last_request, Some(t + MS * 10 * k));
        }
        // every wake-up is the slack and the timer's lateness after the server's request, never more
        assert_eq!(woke, t + MS * 2000 + MS * 10 / REQUEST_SLACK_SHARE + MS * 3 / 10);
    }

    #[test]
    fn a_request_earlier_than_due_moves_the_rhythm_earlier() {
        let (mut p, t) = rhythm_started();
        p.unseen_since = Some(t + MS);
        p.request_arrived(t + MS * 8);
        assert_eq!(p.last_request, Some(t + MS * 8));
    }

    #[test]
    fn a_request_later_than_all_it_could_have_waited_counts_from_the_earliest_moment() {
        let (mut p, t) = rhythm_started();
        // no request for a while (playback paused), then one read 5 ms into a sleep that began at t + 30
        p.unseen_since = Some(t + MS * 30);
        p.request_arrived(t + MS * 35);
        assert_eq!(p.last_request, Some(t + MS * 30));
    }

    #[test]
    fn with_no_stream_the_reactor_polls_at_once() {
        assert_eq!(Pacing::default().next_poll(Instant::now()), None);
    }

    #[test]
    fn a_playback_stream_sets_the_rhythm_after_its_latest_request() {
        let mut p = pacing(Some(10), Some(5), Some(10));
        let t = Instant::now();
        p.last_request = Some(t);
        // woken by capture data 3 ms after the request: sleep until the next request is due
        assert_eq!(
            p.next_poll(t + MS * 3),
            Some(t + MS * 10 + MS * 10 / REQUEST_SLACK_SHARE)
        );
    }

    #[test]
    fn an_overdue_request_shortens_the_wait_to_the_streams_margin() {
        let mut p = pacing(Some(10), Some(5), Some(10));
        let t = Instant::now();
        p.last_request = Some(t);
        // due at 10 ms, woken past the slack (2.5 ms) with no request
        let woke = t + MS * 13;
        assert_eq!(p.next_poll(woke), Some(woke + MS * 5));
    }

    #[test]
    fn capture_alone_waits_one_fragment_and_never_more_than_max_pace() {
        let t = Instant::now();
        assert_eq!(pacing(None, None, Some(4)).next_poll(t), Some(t + MS * 4));
        assert_eq!(pacing(None, None, Some(2000)).next_poll(t), Some(t + MAX_PACE));
        // a long playback period is capped too
        let mut p = pacing(Some(500), Some(250), None);
        p.last_request = Some(t);
        assert_eq!(p.next_poll(t + MS), Some(t + MS + MAX_PACE));
    }

    #[test]
    fn a_sample_spec_a_server_got_wrong_paces_nothing() {
        let spec = protocol::SampleSpec {
            format: protocol::SampleFormat::Invalid,
            channels: 2,
            sample_rate: 48000,
        };
        assert_eq!(bytes_to_duration(&spec, 1920), Duration::ZERO);
        let spec = protocol::SampleSpec {
            format: protocol::SampleFormat::S16Le,
            channels: 2,
            sample_rate: 0,
        };
        assert_eq!(bytes_to_duration(&spec, 1920), Duration::ZERO);
        let spec = protocol::SampleSpec {
            sample_rate: 48000,
            ..spec
        };
        assert_eq!(bytes_to_duration(&spec, 1920), MS * 10);
        assert_eq!(
            bytes_to_duration(&spec, u32::MAX),
            Duration::from_nanos(u64::from(u32::MAX) / 4 * 1_000_000_000 / 48000)
        );
    }
}
