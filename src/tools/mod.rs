//! Function calling: the [`Tool`] trait, the [`Registry`] of the tools a session declares, the built-ins (one
//! file each) and the [`ToolRunner`] every mode uses to answer `toolCall` messages.
//!
//! - `tool.rs`: the trait, behaviour (BLOCKING / NON_BLOCKING), scheduling and what a run returns.
//! - `error.rs`: [`ToolError`], which becomes the informative error object a failed call answers with.
//! - `registry.rs`: the enabled tools by name, and the `functionDeclarations` setup carries for them.
//! - `settings.rs`: the tool flags and config-file keys, validated into a registry.
//! - built-ins: `clock.rs` (current time and date), `calc.rs` (a small safe expression evaluator),
//!   `read_file.rs` (a text file from an allowed folder); `command.rs`: tools declared in the config file,
//!   run as a program with the arguments as JSON on stdin.
//! - `confirm.rs`: asking the user before a tool that needs confirmation runs.
//! - `runner.rs`: runs the calls of a toolCall concurrently, each with its timeout, and hands back the
//!   responses to send; cancelled calls are aborted and never answered.
//!
//! Only declared tools run: a call naming anything else is answered with a NOT_FOUND error carrying its id.

pub mod calc;
pub mod clock;
pub mod command;
pub mod confirm;
mod error;
pub mod read_file;
mod registry;
mod runner;
pub mod settings;
mod tool;

pub use confirm::{parse_answer, Asker, ConfirmPolicy, ConfirmRequest};
pub use error::ToolError;
pub use registry::{valid_name as registry_name_ok, Registered, Registry};
pub use runner::{RunnerEvent, ToolBox, ToolRunner};
pub use settings::{ToolSettings, ToolSettingsError};
pub use tool::{Behavior, Scheduling, Tool, ToolFuture, ToolOutput, DEFAULT_TIMEOUT};
