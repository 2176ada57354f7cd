//! The tool runner every mode uses. [`ToolRunner::dispatch`] takes the calls of one `toolCall` and runs
//! them concurrently (one tokio task each, each bounded by its tool's timeout); [`ToolRunner::next_event`]
//! hands back what to send and what to ask:
//! - the answers of a message's BLOCKING calls go up together in one toolResponse once all of them are done
//!   (the model waits for them anyway); each NON_BLOCKING answer goes up on its own as soon as it is ready,
//!   with its scheduling;
//! - a call naming an undeclared tool, a failure, a timeout or a refusal is answered with an error object
//!   carrying the call's id, never dropped;
//! - [`ToolRunner::cancel`] (toolCallCancellation) aborts the task (a command tool's process group is
//!   killed) and its answer is never sent;
//! - a tool that needs confirmation asks through [`RunnerEvent::Ask`].
//!
//! Every call is logged at info with its name, id and arguments (PII-masked under `--redact-pii`); results
//! at debug.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::protocol::{FunctionCall, FunctionResponse};

use super::confirm::confirm;
use super::{Behavior, ConfirmPolicy, ConfirmRequest, Registry, Scheduling, ToolError, ToolOutput};

/// Most calls running at once; more are answered with UNAVAILABLE (retryable) straight away.
pub const MAX_RUNNING: usize = 32;

/// What the front end must do next.
#[derive(Debug)]
pub enum RunnerEvent {
    /// Send these answers as one toolResponse.
    Respond(Vec<FunctionResponse>),
    /// Ask the user whether a call may run.
    Ask(ConfirmRequest),
}

/// What a runner is made of, cloneable (for options structs): the tools and the confirmation policy.
#[derive(Debug, Clone, Default)]
pub struct ToolBox {
    pub registry: Arc<Registry>,
    pub policy: ConfirmPolicy,
}

impl ToolBox {
    pub fn runner(&self) -> ToolRunner {
        ToolRunner::new(self.registry.clone(), self.policy)
    }
}

struct Running {
    abort: AbortHandle,
    /// The message's batch of BLOCKING calls; `None` for a NON_BLOCKING call.
    batch: Option<u64>,
}

#[derive(Default)]
struct Batch {
    waiting: HashSet<String>,
    responses: Vec<FunctionResponse>,
}

struct Done {
    key: String,
    response: FunctionResponse,
}

pub struct ToolRunner {
    registry: Arc<Registry>,
    policy: ConfirmPolicy,
    ask_tx: mpsc::Sender<ConfirmRequest>,
    ask_rx: mpsc::Receiver<ConfirmRequest>,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    running: HashMap<String, Running>,
    batches: HashMap<u64, Batch>,
    next_batch: u64,
    ready: VecDeque<Vec<FunctionResponse>>,
}

impl Default for ToolRunner {
    /// No tools: every call is answered with NOT_FOUND.
    fn default() -> Self {
        ToolRunner::new(Arc::new(Registry::new()), ConfirmPolicy::default())
    }
}

impl Drop for ToolRunner {
    fn drop(&mut self) {
        for r in self.running.values() {
            r.abort.abort();
        }
    }
}

/// The arguments as one log-safe line.
fn args_text(args: &serde_json::Map<String, Value>) -> String {
    let json = serde_json::to_string(args).unwrap_or_default();
    crate::redact::pii::scrub(&json)
}

impl ToolRunner {
    pub fn new(registry: Arc<Registry>, policy: ConfirmPolicy) -> Self {
        let (ask_tx, ask_rx) = mpsc::channel(MAX_RUNNING);
        let (done_tx, done_rx) = mpsc::channel(MAX_RUNNING * 2);
        ToolRunner {
            registry,
            policy,
            ask_tx,
            ask_rx,
            done_tx,
            done_rx,
            running: HashMap::new(),
            batches: HashMap::new(),
            next_batch: 0,
            ready: VecDeque::new(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Calls still running or answers not yet handed out.
    pub fn busy(&self) -> bool {
        !self.running.is_empty() || !self.ready.is_empty()
    }

    /// Starts every call of one toolCall message.
    pub fn dispatch(&mut self, calls: Vec<FunctionCall>) {
        let batch_id = self.next_batch;
        self.next_batch += 1;
        let mut batch = Batch::default();
        for (n, call) in calls.into_iter().enumerate() {
            let key = call.id.clone().unwrap_or_else(|| format!("#{batch_id}.{n}"));
            let args = args_text(&call.args);
            tracing::info!(tool = %call.name, id = %key, args = %args, "tool call");
            match self.start(key.clone(), call, args, batch_id) {
                Ok(true) => {
                    batch.waiting.insert(key);
                }
                Ok(false) => {}
                Err(response) => batch.responses.push(*response),
            }
        }
        if batch.waiting.is_empty() {
            if !batch.responses.is_empty() {
                self.ready.push_back(batch.responses);
            }
        } else {
            self.batches.insert(batch_id, batch);
        }
    }

    /// Spawns one call: `Ok(true)` for a BLOCKING call (answered with its batch), `Ok(false)` for a
    /// NON_BLOCKING one, `Err(answer)` when it is refused at once.
    fn start(
        &mut self,
        key: String,
        call: FunctionCall,
        args: String,
        batch: u64,
    ) -> Result<bool, Box<FunctionResponse>> {
        let refuse = |e: ToolError| {
            tracing::warn!(tool = %call.name, id = %key, "tool call refused: {e}");
            Box::new(error_response(&call, None, &e))
        };
        let Some(reg) = self.registry.get(&call.name).cloned() else {
            let e = ToolError::NotFound(format!("no tool named {:?} is declared in this session", call.name));
            return Err(refuse(e));
        };
        if self.running.contains_key(&key) {
            return Err(refuse(ToolError::InvalidArgument(format!(
                "call id {key} is already running"
            ))));
        }
        if self.running.len() >= MAX_RUNNING {
            let e = ToolError::Unavailable(format!("more than {MAX_RUNNING} tool calls at once; try again later"));
            return Err(refuse(e));
        }
        let blocking = reg.tool.behavior() == Behavior::Blocking;
        let (policy, ask, done) = (self.policy, self.ask_tx.clone(), self.done_tx.clone());
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let tool = reg.tool.clone();
            let run = async {
                if reg.confirm {
                    confirm(policy, &ask, call.id.clone(), &call.name, args).await?;
                }
                let timeout = tool.timeout();
                let args = Value::Object(call.args.clone());
                tokio::time::timeout(timeout, tool.run(args))
                    .await
                    .map_err(|_| ToolError::Timeout(timeout))?
            };
            let result = run.await;
            let scheduling = (!blocking).then(|| tool.scheduling()).flatten();
            let response = match result {
                Ok(out) => ok_response(&call, blocking, scheduling, out),
                Err(e) => {
                    tracing::info!(tool = %call.name, id = %task_key, status = e.status(), "tool call failed: {e}");
                    error_response(&call, scheduling, &e)
                }
            };
            tracing::debug!(tool = %call.name, id = %task_key, response = %args_text(&response.response), "tool result");
            let _ = done
                .send(Done {
                    key: task_key,
                    response,
                })
                .await;
        });
        let batch = blocking.then_some(batch);
        self.running.insert(
            key,
            Running {
                abort: task.abort_handle(),
                batch,
            },
        );
        Ok(blocking)
    }

    /// toolCallCancellation: stop these calls; their answers are never handed out.
    pub fn cancel(&mut self, ids: &[String]) {
        for id in ids {
            self.ready.retain_mut(|answers| {
                answers.retain(|r| r.id.as_deref() != Some(id.as_str()));
                !answers.is_empty()
            });
            let Some(run) = self.running.remove(id) else {
                tracing::debug!(id = %id, "cancellation of a call that is not running");
                continue;
            };
            run.abort.abort();
            tracing::info!(id = %id, "tool call cancelled: its answer will not be sent");
            if let Some(b) = run.batch {
                self.settle_batch(b, Some(id), None);
            }
        }
    }

    fn settle_batch(&mut self, b: u64, gone: Option<&str>, answer: Option<FunctionResponse>) {
        let Some(batch) = self.batches.get_mut(&b) else { return };
        if let Some(id) = gone {
            batch.waiting.remove(id);
        }
        batch.responses.extend(answer);
        if batch.waiting.is_empty() {
            if let Some(batch) = self.batches.remove(&b) {
                if !batch.responses.is_empty() {
                    self.ready.push_back(batch.responses);
                }
            }
        }
    }

    fn complete(&mut self, done: Done) {
        let Some(run) = self.running.remove(&done.key) else {
            tracing::debug!(id = %done.key, "the answer of a cancelled call is dropped");
            return;
        };
        match run.batch {
            None => self.ready.push_back(vec![done.response]),
            Some(b) => self.settle_batch(b, Some(&done.key), Some(done.response)),
        }
    }

    /// The next answers to send or question to ask; pending while there is neither.
    pub async fn next_event(&mut self) -> RunnerEvent {
        loop {
            if let Some(answers) = self.ready.pop_front() {
                return RunnerEvent::Respond(answers);
            }
            tokio::select! {
                Some(done) = self.done_rx.recv() => self.complete(done),
                Some(question) = self.ask_rx.recv() => return RunnerEvent::Ask(question),
            }
        }
    }
}

fn ok_response(
    call: &FunctionCall,
    blocking: bool,
    scheduling: Option<Scheduling>,
    out: ToolOutput,
) -> FunctionResponse {
    FunctionResponse {
        id: call.id.clone(),
        name: call.name.clone(),
        response: out.response,
        scheduling: (!blocking)
            .then(|| out.scheduling.or(scheduling))
            .flatten()
            .map(|s| s.wire().to_string()),
        will_continue: if blocking { None } else { out.will_continue },
    }
}

fn error_response(call: &FunctionCall, scheduling: Option<Scheduling>, e: &ToolError) -> FunctionResponse {
    FunctionResponse {
        id: call.id.clone(),
        name: call.name.clone(),
        response: e.to_response(),
        scheduling: scheduling.map(|s| s.wire().to_string()),
        will_continue: None,
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
