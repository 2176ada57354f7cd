//! The tool calls a connection has open: which BLOCKING calls hold the reply queue, the answers collected
//! for the continuation, scheduled cancellations, and the ids already cancelled (an answer that crossed
//! its cancellation on the wire is ignored, not an error). Kept with the conversation across a resume.

use std::collections::VecDeque;

use tokio::time::Instant;

use crate::protocol::FunctionResponse;

/// Cancelled ids remembered (older ones are forgotten: a peer cannot grow this without bound).
pub const MAX_CANCELLED: usize = 256;
/// Open calls at most; a responder asking for more is cut off here.
pub const MAX_OPEN: usize = 128;

#[derive(Debug, Clone)]
pub struct OpenCall {
    pub id: String,
    pub name: String,
    pub blocking: bool,
    pub cancel_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct OpenCalls {
    pub calls: Vec<OpenCall>,
    /// Answers of BLOCKING calls, for the continuation once none is open.
    pub answers: Vec<FunctionResponse>,
    cancelled: VecDeque<String>,
}

impl OpenCalls {
    /// A BLOCKING call is open: the reply queue waits.
    pub fn blocks(&self) -> bool {
        self.calls.iter().any(|c| c.blocking)
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn open(&mut self, call: OpenCall) {
        if self.calls.len() < MAX_OPEN {
            self.calls.push(call);
        } else {
            tracing::warn!(id = %call.id, "too many open tool calls; this one is not tracked");
        }
    }

    pub fn find(&self, id: &str) -> Option<&OpenCall> {
        self.calls.iter().find(|c| c.id == id)
    }

    pub fn ids(&self) -> Vec<String> {
        self.calls.iter().map(|c| c.id.clone()).collect()
    }

    pub fn was_cancelled(&self, id: &str) -> bool {
        self.cancelled.iter().any(|c| c == id)
    }

    /// Takes an answered call off the list.
    pub fn remove(&mut self, id: &str) -> Option<OpenCall> {
        let i = self.calls.iter().position(|c| c.id == id)?;
        Some(self.calls.remove(i))
    }

    fn cancel_where(&mut self, pick: impl Fn(&OpenCall) -> bool) -> Vec<String> {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.calls).into_iter().partition(|c| pick(c));
        self.calls = kept;
        let ids: Vec<String> = gone.into_iter().map(|c| c.id).collect();
        for id in &ids {
            if self.cancelled.len() >= MAX_CANCELLED {
                self.cancelled.pop_front();
            }
            self.cancelled.push_back(id.clone());
        }
        ids
    }

    /// The calls whose scheduled cancellation is due at `now`, now cancelled.
    pub fn cancel_due(&mut self, now: Instant) -> Vec<String> {
        self.cancel_where(|c| c.cancel_at.is_some_and(|t| t <= now))
    }

    /// Every open BLOCKING call, now cancelled (new user input on gemini-3.8-live).
    pub fn cancel_blocking(&mut self) -> Vec<String> {
        self.answers.clear();
        self.cancel_where(|c| c.blocking)
    }

    /// The earliest scheduled cancellation.
    pub fn next_cancel(&self) -> Option<Instant> {
        self.calls.iter().filter_map(|c| c.cancel_at).min()
    }
}
