//! When is the model done with what the user said? Not at the first turnComplete after a tool call: the
//! real service may close the turn right after a toolCall, and the answer that uses the tool's result comes
//! as a further model turn with no new user input; on gemini-3.8-live `interactionStatus` says outright
//! (IN_PROGRESS while background work goes on, IDLE when done). [`interaction_over`] is the one rule every
//! mode applies; [`ToolFlow`] is what it needs to know about tool calls.

use std::collections::HashSet;

use crate::protocol::InteractionStatus;

/// The tool calls of the interaction in progress: which are still open, and whether an answer that the
/// model will speak about has been sent and not yet been followed by model content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolFlow {
    open: HashSet<String>,
    answer_due: bool,
}

impl ToolFlow {
    /// A toolCall arrived with these call ids (a call without an id counts under its name).
    pub fn called(&mut self, ids: impl IntoIterator<Item = String>) {
        self.open.extend(ids);
    }

    /// toolCallCancellation: these will not be answered, and nothing follows from them.
    pub fn cancelled(&mut self, ids: &[String]) {
        for id in ids {
            self.open.remove(id);
        }
    }

    /// Answers were sent; `spoken`: at least one of them is not SILENT, so the model will say something.
    pub fn answered(&mut self, ids: &[String], spoken: bool) {
        for id in ids {
            self.open.remove(id);
        }
        self.answer_due |= spoken;
    }

    /// Model content (audio, text, transcript) arrived: an answer that was due has begun.
    pub fn model_spoke(&mut self) {
        if self.open.is_empty() {
            self.answer_due = false;
        }
    }

    /// A call is still running, or its answer has not been spoken about yet.
    pub fn awaiting_answer(&self) -> bool {
        !self.open.is_empty() || self.answer_due
    }

    /// A new interaction starts from nothing.
    pub fn reset(&mut self) {
        *self = ToolFlow::default();
    }
}

/// The key a call is tracked under: its id, else its name.
pub fn call_key(call: &crate::protocol::FunctionCall) -> String {
    call.id.clone().unwrap_or_else(|| call.name.clone())
}

/// Whether a turn that closed with `status` (the last `interactionStatus` heard, `None` from models that
/// do not send one) ends the interaction. IN_PROGRESS never does and IDLE always does (the server knows);
/// without a status it ends unless a tool call is still open or its answer is still to come.
pub fn interaction_over(status: Option<&InteractionStatus>, tools: &ToolFlow) -> bool {
    match status {
        Some(InteractionStatus::InProgress) => false,
        Some(InteractionStatus::Idle) => true,
        Some(InteractionStatus::Other(_)) | None => !tools.awaiting_answer(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_closed_around_a_tool_call_is_not_the_end() {
        let mut t = ToolFlow::default();
        t.called(["c1".to_string()]);
        assert!(!interaction_over(None, &t), "toolCall then turnComplete");
        t.answered(&["c1".to_string()], true);
        assert!(!interaction_over(None, &t), "answered, the model has not spoken yet");
        t.model_spoke();
        assert!(interaction_over(None, &t), "the answer turn closed");
    }

    #[test]
    fn status_wins_and_silent_or_cancelled_calls_expect_nothing() {
        let mut t = ToolFlow::default();
        assert!(!interaction_over(Some(&InteractionStatus::InProgress), &t));
        t.called(["a".to_string(), "b".to_string()]);
        assert!(interaction_over(Some(&InteractionStatus::Idle), &t));
        t.cancelled(&["a".to_string()]);
        t.answered(&["b".to_string()], false);
        assert!(interaction_over(None, &t));
        // content before the answers does not count as the answer
        let mut t = ToolFlow::default();
        t.called(["x".to_string()]);
        t.model_spoke();
        t.answered(&["x".to_string()], true);
        assert!(t.awaiting_answer());
    }
}
