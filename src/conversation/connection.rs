//! What the connection went through, as notices for the front end: a goAway, a reconnection under way,
//! a resumed or restarted session, a malformed frame skipped. None of these changes the conversation's
//! state (the session keeps it going across connections), so they are only words on the screen.

use crate::session::Event;

use super::Notice;

/// The notice a connection event shows; `None` for any other event.
pub(super) fn connection_notice(event: Event) -> Option<Notice> {
    Some(match event {
        Event::GoAway { time_left } => Notice::Info(match time_left {
            Some(t) => format!("the server will close this connection in {:.0} s", t.as_secs_f64()),
            None => "the server will close this connection soon".to_string(),
        }),
        Event::Reconnecting { attempt, delay, reason } => Notice::Warning(format!(
            "connection lost ({reason}); reconnecting (attempt {attempt}, in {} ms)",
            delay.as_millis()
        )),
        Event::Resumed { replayed, downtime } => Notice::Info(match downtime {
            Some(d) => format!(
                "reconnected after {} ms; the conversation continues ({replayed} messages sent again)",
                d.as_millis()
            ),
            None => format!("switched to a new connection ({replayed} messages sent again)"),
        }),
        Event::Restarted { reason, history_turns } => Notice::Warning(format!(
            "the server could not resume the session ({reason}); started a new one with the {history_turns} turns so far as context"
        )),
        Event::ProtocolError(e) => Notice::Warning(format!("skipped a malformed server frame: {e}")),
        _ => return None,
    })
}
