//! What a tool is: a name, a declaration for setup, how the model waits for it (behaviour), how its
//! NON_BLOCKING answers are scheduled, whether the user must confirm it, and an async run.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};

use super::ToolError;

/// A run of a tool: owns what it needs ('static), so the runner can spawn and abort it.
pub type ToolFuture = Pin<Box<dyn Future<Output = Result<ToolOutput, ToolError>> + Send + 'static>>;

/// How long a tool may run unless it says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the model waits for the answer (BLOCKING) or goes on talking while the tool runs (NON_BLOCKING).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behavior {
    #[default]
    Blocking,
    NonBlocking,
}

impl Behavior {
    /// The `behavior` value of a function declaration.
    pub fn wire(self) -> &'static str {
        match self {
            Behavior::Blocking => "BLOCKING",
            Behavior::NonBlocking => "NON_BLOCKING",
        }
    }

    /// The behaviour a model gives a function declared without `behavior` (its profile says).
    pub fn model_default(profile: crate::models::FunctionBehavior) -> Behavior {
        match profile {
            crate::models::FunctionBehavior::Blocking => Behavior::Blocking,
            crate::models::FunctionBehavior::NonBlocking => Behavior::NonBlocking,
        }
    }
}

/// When the model uses a NON_BLOCKING answer: SILENT (take it in, say nothing), WHEN_IDLE (after what it is
/// saying), INTERRUPT (stop and answer now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduling {
    Silent,
    WhenIdle,
    Interrupt,
}

impl Scheduling {
    pub fn wire(self) -> &'static str {
        match self {
            Scheduling::Silent => "SILENT",
            Scheduling::WhenIdle => "WHEN_IDLE",
            Scheduling::Interrupt => "INTERRUPT",
        }
    }

    /// Parses a wire value (`SILENT`, `WHEN_IDLE`, `INTERRUPT`).
    pub fn from_wire(s: &str) -> Option<Scheduling> {
        match s {
            "SILENT" => Some(Scheduling::Silent),
            "WHEN_IDLE" => Some(Scheduling::WhenIdle),
            "INTERRUPT" => Some(Scheduling::Interrupt),
            _ => None,
        }
    }
}

/// A successful run: the `response` object, and optionally what the tool says about this answer's
/// scheduling and whether more answers for the same call follow (`willContinue`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    pub response: Map<String, Value>,
    pub scheduling: Option<Scheduling>,
    pub will_continue: Option<bool>,
}

impl ToolOutput {
    /// `{"result": value}`.
    pub fn result(value: impl Into<Value>) -> Self {
        let mut response = Map::new();
        response.insert("result".into(), value.into());
        ToolOutput {
            response,
            ..ToolOutput::default()
        }
    }

    /// An object as the response; any other value becomes `{"result": value}`.
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(response) => ToolOutput {
                response,
                ..ToolOutput::default()
            },
            other => ToolOutput::result(other),
        }
    }
}

/// A function the model may call.
pub trait Tool: Send + Sync {
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    /// The parameters' JSON schema (an object schema).
    fn parameters(&self) -> Value;
    fn behavior(&self) -> Behavior {
        Behavior::Blocking
    }
    /// Scheduling of this tool's answers when it is NON_BLOCKING (`None`: the service's default).
    fn scheduling(&self) -> Option<Scheduling> {
        None
    }
    /// The user must allow each call.
    fn needs_confirmation(&self) -> bool {
        false
    }
    /// The longest a run may take; past it the run is stopped and answered with a TIMEOUT error.
    fn timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }
    /// Runs with the call's arguments (a JSON object).
    fn run(&self, args: Value) -> ToolFuture;
}
