//! voxlive patch: when the reactor polls its socket again after a wake-up (see [`Pacing`]).

use std::time::{Duration, Instant};

use crate::protocol;

/// voxlive patch: the longest the reactor lets data wait after a wake-up (see [`Pacing`]).
const MAX_PACE: Duration = Duration::from_millis(20);
/// voxlive patch: how long after a playback request is due the reactor wakes for it, so that it is there.
const REQUEST_SLACK: Duration = Duration::from_micros(500);

/// voxlive patch: when the reactor polls the socket again after a wake-up, so that what the server sends in
/// between is handled in one wake-up. A server may send a record stream's data in chunks much smaller than the
/// fragment the client asked for (a PulseAudio monitor source delivers whatever its sink renders, 3 ms on a
/// null sink), and each message woke this thread: 550 wake-ups a second for one 10 ms capture and one 10 ms
/// playback stream, most of a live voice session's CPU on a VM where a wake-up costs 20-60 us.
///
/// A playback stream sets the rhythm: the server asks for more each time a minimum request has played, so
/// the reactor sleeps until the next request is due (plus [`REQUEST_SLACK`]) and handles it together with
/// the capture data that came meanwhile. The bet is that requests keep their rhythm: one that comes
/// earlier than due (a burst after a stream restart) waits for the end of the sleep, at most one minimum
/// request; one that is overdue when the reactor wakes shortens the next sleep to half of what the stream's
/// buffer holds beyond one request. Without playback, record data waits at most one fragment, which is
/// what the client asked the server for. Never more than [`MAX_PACE`].
#[derive(Default)]
pub(super) struct Pacing {
    /// The shortest minimum request of the playback streams.
    pub(super) request: Option<Duration>,
    /// The shortest wait a playback request allows: half of what a stream's target length holds beyond a
    /// minimum request.
    pub(super) request_margin: Option<Duration>,
    /// The shortest fragment of the record streams.
    pub(super) fragment: Option<Duration>,
    /// When the latest playback request arrived.
    pub(super) last_request: Option<Instant>,
}

impl Pacing {
    /// When to poll again after a wake-up at `woke`; `None`: at once.
    pub(super) fn next_poll(&self, woke: Instant) -> Option<Instant> {
        let latest = woke + MAX_PACE;
        if let (Some(period), Some(at)) = (self.request, self.last_request) {
            let due = at + period + REQUEST_SLACK;
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
        }
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
        assert_eq!(p.next_poll(t + MS * 3), Some(t + MS * 10 + REQUEST_SLACK));
    }

    #[test]
    fn an_overdue_request_shortens_the_wait_to_the_streams_margin() {
        let mut p = pacing(Some(10), Some(5), Some(10));
        let t = Instant::now();
        p.last_request = Some(t);
        let woke = t + MS * 12;
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
        assert_eq!(bytes_to_duration(&spec, u32::MAX), Duration::from_nanos(u64::from(u32::MAX) / 4 * 1_000_000_000 / 48000));
    }
}
