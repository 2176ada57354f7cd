//! Tool calls on a connection: a toolCall opens its calls (BLOCKING ones hold the reply queue; when every
//! call is NON_BLOCKING, or the responder asks, the turn closes at once, with `interactionStatus:
//! IN_PROGRESS` on models that report it); each toolResponse is checked (every id must name an open call
//! with the same name, scheduling must be a known value) and answered: BLOCKING answers together by the
//! responder's continuation, each NON_BLOCKING answer as a further turn honouring its scheduling (SILENT:
//! nothing spoken; WHEN_IDLE: after what is queued; INTERRUPT: the current reply stops). Scheduled
//! cancellations send toolCallCancellation; on gemini-3.8-live new user input cancels open BLOCKING calls.
//! The last turn of an interaction closes with `interactionStatus: IDLE`.

use std::collections::HashMap;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::protocol::{
    FunctionResponse, InteractionStatus, ServerContent, ServerMessage, Setup, ToolCallCancellation, ToolResponse,
};

use super::super::handler::close;
use super::super::reply::{render, Outgoing, ToolCallMeta, TurnUsage};
use super::super::tool_calls::{OpenCall, OpenCalls};
use super::{Flow, Live};

/// What setup and the model's profile say about tool calls on this connection.
#[derive(Debug, Clone, Default)]
pub(super) struct ToolRules {
    /// Declared functions: whether each is BLOCKING.
    declared: HashMap<String, bool>,
    /// A function declared without `behavior` (or a call to an undeclared one) blocks.
    default_blocking: bool,
    /// The model reports `interactionStatus` and cancels BLOCKING calls on new input (gemini-3.8-live:
    /// the models whose functions are NON_BLOCKING by default).
    pub late_semantics: bool,
}

impl ToolRules {
    pub fn from_setup(setup: &Setup) -> ToolRules {
        let catalog = crate::models::Catalog::builtin();
        let late = catalog
            .model(&setup.model)
            .is_ok_and(|p| p.default_function_behavior == crate::models::FunctionBehavior::NonBlocking);
        let mut declared = HashMap::new();
        for f in setup.tools.iter().flat_map(|t| &t.function_declarations) {
            let blocking = match f.behavior.as_deref() {
                Some("BLOCKING") => true,
                Some("NON_BLOCKING") => false,
                _ => !late,
            };
            declared.insert(f.name.clone(), blocking);
        }
        ToolRules {
            declared,
            default_blocking: !late,
            late_semantics: late,
        }
    }

    fn blocking(&self, name: &str) -> bool {
        self.declared.get(name).copied().unwrap_or(self.default_blocking)
    }
}

fn status_message(turn_complete: bool, status: Option<InteractionStatus>) -> ServerMessage {
    ServerMessage::content(ServerContent {
        turn_complete: turn_complete.then_some(true),
        interaction_status: status,
        ..ServerContent::default()
    })
}

/// Sets `interactionStatus` on the turnComplete among `items`.
fn mark_interaction(items: &mut [Outgoing], status: InteractionStatus) {
    for item in items {
        if let Outgoing::TurnComplete(m, _) = item {
            if let Some(sc) = m.server_content.as_mut() {
                sc.interaction_status = Some(status.clone());
            }
        }
    }
}

/// Why a toolResponse is refused (closed 1007 with this reason).
fn check(open: &OpenCalls, response: &ToolResponse) -> Result<(), String> {
    for fr in &response.function_responses {
        let Some(id) = fr.id.as_deref() else {
            return Err(format!(
                "functionResponse for {:?} has no id: echo the call's id",
                fr.name
            ));
        };
        if let Some(s) = fr.scheduling.as_deref() {
            if crate::tools::Scheduling::from_wire(s).is_none() {
                return Err(format!(
                    "functionResponse {id}: scheduling {s:?} is not SILENT, WHEN_IDLE or INTERRUPT"
                ));
            }
        }
        if open.was_cancelled(id) {
            continue;
        }
        match open.find(id) {
            Some(call) if !fr.name.is_empty() && fr.name != call.name => {
                return Err(format!(
                    "functionResponse {id} names {:?}, but that call was {:?}",
                    fr.name, call.name
                ));
            }
            Some(_) => {}
            None => {
                return Err(format!(
                    "toolResponse names call id {id:?}, which is not an open call (open: {:?})",
                    open.ids()
                ))
            }
        }
    }
    Ok(())
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Live<S> {
    /// A toolCall went out: open its calls, and close the turn at once where that is what happens.
    pub(super) async fn tool_call_sent(&mut self, meta: ToolCallMeta) -> Result<(), WsError> {
        let now = Instant::now();
        let open = self.awaiting_tool.get_or_insert_with(OpenCalls::default);
        let mut any_blocking = false;
        for (i, (id, name)) in meta.calls.into_iter().enumerate() {
            let blocking = self.tool_rules.blocking(&name);
            any_blocking |= blocking;
            let cancel_at = meta
                .cancel_after
                .get(i)
                .copied()
                .flatten()
                .and_then(|d| now.checked_add(d));
            open.open(OpenCall {
                id,
                name,
                blocking,
                cancel_at,
            });
        }
        if meta.close_turn || !any_blocking {
            let status = self.tool_rules.late_semantics.then_some(InteractionStatus::InProgress);
            self.send(status_message(true, status)).await?;
        }
        Ok(())
    }

    pub(super) async fn on_tool_response(&mut self, response: ToolResponse) -> Result<Flow, WsError> {
        let open = self.awaiting_tool.get_or_insert_with(OpenCalls::default);
        if let Err(reason) = check(open, &response) {
            tracing::info!("refusing a toolResponse: {reason}");
            close(&mut self.ws, 1007, &reason).await?;
            return Ok(Flow::Stop);
        }
        let held = open.blocks();
        let mut later = Vec::new();
        for fr in response.function_responses {
            let id = fr.id.clone().unwrap_or_default();
            if open.was_cancelled(&id) {
                tracing::debug!(id = %id, "an answer to a cancelled call; ignored");
                continue;
            }
            let blocking = open.find(&id).is_some_and(|c| c.blocking);
            if blocking || fr.will_continue != Some(true) {
                open.remove(&id);
            }
            if blocking {
                open.answers.push(fr);
            } else {
                later.push(fr);
            }
        }
        if held && !open.blocks() {
            self.continue_after_blocking();
        }
        for fr in later {
            self.answer_non_blocking(fr).await?;
        }
        Ok(Flow::Continue)
    }

    /// Every BLOCKING call is answered or cancelled: the responder's continuation, with the answers.
    fn continue_after_blocking(&mut self) {
        let Some(open) = self.awaiting_tool.as_mut() else {
            return;
        };
        let answers = std::mem::take(&mut open.answers);
        let done = open.is_empty();
        let reply = self.responder.on_tool_response(
            &ToolResponse {
                function_responses: answers,
            },
            self.ctx.modality,
        );
        let mut items = render(reply, &self.ctx, &mut self.usage, &mut self.next_call_id);
        self.close_interaction(&mut items, done);
        self.enqueue(items);
    }

    fn close_interaction(&mut self, items: &mut [Outgoing], done: bool) {
        if self.tool_rules.late_semantics {
            let status = if done {
                InteractionStatus::Idle
            } else {
                InteractionStatus::InProgress
            };
            mark_interaction(items, status);
        }
    }

    /// One NON_BLOCKING answer, as its scheduling says.
    async fn answer_non_blocking(&mut self, fr: FunctionResponse) -> Result<(), WsError> {
        let done = self.awaiting_tool.as_ref().is_none_or(OpenCalls::is_empty);
        let scheduling = fr.scheduling.clone();
        if scheduling.as_deref() == Some("SILENT") {
            tracing::debug!(id = ?fr.id, "SILENT answer: nothing is said");
            if done && self.tool_rules.late_semantics {
                self.enqueue(vec![Outgoing::Message(status_message(
                    false,
                    Some(InteractionStatus::Idle),
                ))]);
            }
            return Ok(());
        }
        if scheduling.as_deref() == Some("INTERRUPT") && !self.queue.is_empty() {
            self.interrupt_reply().await?;
        }
        let reply = self.responder.on_tool_response(
            &ToolResponse {
                function_responses: vec![fr],
            },
            self.ctx.modality,
        );
        if reply.parts.is_empty() && !done {
            return Ok(());
        }
        let mut usage = TurnUsage::default();
        let mut items = render(reply, &self.ctx, &mut usage, &mut self.next_call_id);
        self.close_interaction(&mut items, done);
        self.enqueue(items);
        Ok(())
    }

    /// The earliest scheduled cancellation of an open call.
    pub(super) fn next_cancel(&self) -> Option<Instant> {
        self.awaiting_tool.as_ref().and_then(OpenCalls::next_cancel)
    }

    /// Sends the cancellations that are due; a BLOCKING turn they release continues.
    pub(super) async fn cancel_due(&mut self) -> Result<(), WsError> {
        let Some(open) = self.awaiting_tool.as_mut() else {
            return Ok(());
        };
        let held = open.blocks();
        let ids = open.cancel_due(Instant::now());
        if ids.is_empty() {
            return Ok(());
        }
        tracing::debug!(?ids, "cancelling tool calls");
        let released = held && !open.blocks();
        let done = open.is_empty();
        self.send(cancellation(ids)).await?;
        if released {
            self.continue_after_blocking();
        } else if done && self.tool_rules.late_semantics {
            self.enqueue(vec![Outgoing::Message(status_message(
                false,
                Some(InteractionStatus::Idle),
            ))]);
        }
        Ok(())
    }

    /// New user input on a model that cancels BLOCKING calls then: the toolCallCancellation to send first.
    pub(super) fn cancel_blocking_on_input(&mut self) -> Option<ServerMessage> {
        if !self.tool_rules.late_semantics {
            return None;
        }
        let open = self.awaiting_tool.as_mut()?;
        // the open calls stay known, empty or not: an answer that crosses the cancellation is ignored
        let ids = open.cancel_blocking();
        (!ids.is_empty()).then(|| {
            tracing::debug!(?ids, "new user input cancels the BLOCKING calls still open");
            cancellation(ids)
        })
    }
}

fn cancellation(ids: Vec<String>) -> ServerMessage {
    ServerMessage {
        tool_call_cancellation: Some(ToolCallCancellation { ids }),
        ..ServerMessage::default()
    }
}
