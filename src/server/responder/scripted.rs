//! The Scripted responder: canned turns from a TOML or JSON file (by extension; `.json` is JSON, anything
//! else TOML). Each user turn end plays the next script turn; past the end it says "(end of script)".
//!
//! ```toml
//! [[turn]]
//! parts = [{ input_transcript = "what time is it" }, { tool_call = { name = "get_time", args = {}, id = "t1" } }]
//! after_tool = [{ text = "It is noon." }, { audio = "noon.wav" }, { output_transcript = "It is noon." }]
//! go_away = "5s"        # optional: goAway with this timeLeft after the turn
//!
//! [[turn]]               # several calls in one toolCall; the turn closes at once; one is cancelled
//! parts = [{ tool_calls = [{ name = "a", id = "a1" }, { name = "b", cancel_after = "0.3s" }] }]
//! close_turn = true
//! after_tool = [{ text = "The tools said {result}." }]
//! ```
//! `{result}` in an after_tool text is replaced by the answers (`name {"result":...}`, `; ` between
//! them; a cancelled call is left out), so a test sees the tool's result come back in the reply.
//! `close_turn`: turnComplete right after the toolCall (the answer then comes as a further turn), as
//! the real service may do; calls to NON_BLOCKING functions always close it.
//! Parts: `text` (said: text in TEXT sessions, a tone plus transcript in AUDIO ones), `audio` (a WAV path
//! relative to the script, any format, converted to 24 kHz mono 16-bit at load time), `input_transcript`,
//! `output_transcript`, `tool_call` (at most one, last in `parts`; the turn continues with `after_tool`
//! once the client's toolResponse answers it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::protocol::codec::parse_duration;

/// A script's goAway timeLeft may be at most this (it sets a timer on the server).
pub const MAX_GO_AWAY: Duration = Duration::from_secs(3600);
use crate::protocol::{FunctionCall, Modality, ToolResponse, OUTPUT_RATE};

use super::super::reply::{Reply, ReplyPart, ToolCalls, UserTurn};
use super::Responder;

/// A script that cannot be used, naming the file and why. Not retryable: fix the file.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read script {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid script {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("cannot load audio {path} (named in script {script}): {reason}")]
    Audio {
        script: PathBuf,
        path: PathBuf,
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    #[serde(alias = "turns")]
    turn: Vec<TurnSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnSpec {
    #[serde(default)]
    parts: Vec<PartSpec>,
    #[serde(default)]
    after_tool: Vec<PartSpec>,
    #[serde(default)]
    go_away: Option<String>,
    #[serde(default)]
    close_turn: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum PartSpec {
    Text(String),
    Audio(PathBuf),
    InputTranscript(String),
    OutputTranscript(String),
    ToolCall(ToolCallSpec),
    ToolCalls(Vec<ToolCallSpec>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCallSpec {
    name: String,
    #[serde(default)]
    args: Map<String, Value>,
    #[serde(default)]
    id: Option<String>,
    /// Cancel the call (toolCallCancellation) this long after it was sent, if still open.
    #[serde(default)]
    cancel_after: Option<String>,
}

struct ScriptTurn {
    parts: Vec<ReplyPart>,
    after_tool: Vec<ReplyPart>,
    go_away: Option<Duration>,
}

/// A loaded script. Clone is cheap; each connection plays it through its own cursor.
#[derive(Clone)]
pub struct ScriptedResponder {
    turns: Arc<Vec<ScriptTurn>>,
}

impl std::fmt::Debug for ScriptedResponder {
    // The turns hold whole WAV files: show their number only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScriptedResponder({} turns)", self.turns.len())
    }
}

impl ScriptedResponder {
    /// Loads and checks a script, reading every WAV it names.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, ScriptError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: path.into(),
            source,
        })?;
        let invalid = |reason: String| ScriptError::Invalid {
            path: path.into(),
            reason,
        };
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let file: ScriptFile = if is_json {
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| invalid(e.to_string()))?
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut turns = Vec::with_capacity(file.turn.len());
        for (n, spec) in file.turn.into_iter().enumerate() {
            let mut parts = convert(spec.parts, base, path).map_err(|e| numbered(e, n))?;
            let calls = parts.iter().filter(|p| is_call(p)).count();
            if calls > 1 || (calls == 1 && !parts.last().is_some_and(is_call)) {
                return Err(invalid(format!(
                    "turn {}: a tool_call must be the one last part",
                    n + 1
                )));
            }
            if let Some(ReplyPart::ToolCalls(c)) = parts.last_mut() {
                c.close_turn = spec.close_turn;
            }
            let after_tool = convert(spec.after_tool, base, path).map_err(|e| numbered(e, n))?;
            if after_tool.iter().any(is_call) {
                return Err(invalid(format!("turn {}: after_tool cannot call another tool", n + 1)));
            }
            if calls == 0 && !after_tool.is_empty() {
                return Err(invalid(format!("turn {}: after_tool without a tool_call", n + 1)));
            }
            let go_away = match spec.go_away {
                Some(d) => {
                    let left = parse_duration(&d).map_err(|e| invalid(format!("turn {}: {e}", n + 1)))?;
                    if left > MAX_GO_AWAY {
                        return Err(invalid(format!(
                            "turn {}: go_away {d:?} is longer than {MAX_GO_AWAY:?}",
                            n + 1
                        )));
                    }
                    Some(left)
                }
                None => None,
            };
            turns.push(ScriptTurn {
                parts,
                after_tool,
                go_away,
            });
        }
        Ok(ScriptedResponder { turns: Arc::new(turns) })
    }

    /// Number of turns in the script.
    pub fn len(&self) -> usize {
        self.turns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    /// A per-connection player starting at turn `start` (the turns a resumed conversation already had).
    pub(crate) fn cursor(&self, start: u64) -> ScriptCursor {
        ScriptCursor {
            turns: Arc::clone(&self.turns),
            next: start as usize,
            after_tool: None,
        }
    }
}

fn is_call(p: &ReplyPart) -> bool {
    matches!(p, ReplyPart::ToolCall(_) | ReplyPart::ToolCalls(_))
}

/// Names the turn in an invalid-script error.
fn numbered(e: ScriptError, n: usize) -> ScriptError {
    match e {
        ScriptError::Invalid { path, reason } => ScriptError::Invalid {
            path,
            reason: format!("turn {}: {reason}", n + 1),
        },
        other => other,
    }
}

/// A script's `tool_call`/`tool_calls` as one toolCall message.
fn tool_calls(specs: Vec<ToolCallSpec>, script: &Path) -> Result<ReplyPart, ScriptError> {
    if specs.is_empty() || specs.len() > 16 {
        return Err(ScriptError::Invalid {
            path: script.into(),
            reason: "tool_calls takes 1 to 16 calls".into(),
        });
    }
    let mut calls = ToolCalls::default();
    for c in specs {
        let cancel = match c.cancel_after.as_deref().map(parse_duration).transpose() {
            Ok(Some(d)) if d > MAX_GO_AWAY => Err(format!("cancel_after is longer than {MAX_GO_AWAY:?}")),
            Ok(d) => Ok(d),
            Err(e) => Err(format!("cancel_after: {e}")),
        };
        let cancel = cancel.map_err(|reason| ScriptError::Invalid {
            path: script.into(),
            reason,
        })?;
        calls.cancel_after.push(cancel);
        calls.calls.push(FunctionCall {
            id: c.id,
            name: c.name,
            args: c.args,
        });
    }
    Ok(ReplyPart::ToolCalls(calls))
}

fn convert(specs: Vec<PartSpec>, base: &Path, script: &Path) -> Result<Vec<ReplyPart>, ScriptError> {
    specs
        .into_iter()
        .map(|spec| {
            Ok(match spec {
                PartSpec::Text(t) => ReplyPart::Say(t),
                PartSpec::InputTranscript(t) => ReplyPart::InputTranscript(t),
                PartSpec::OutputTranscript(t) => ReplyPart::OutputTranscript(t),
                PartSpec::ToolCall(c) => tool_calls(vec![c], script)?,
                PartSpec::ToolCalls(cs) => tool_calls(cs, script)?,
                PartSpec::Audio(rel) => {
                    let path = base.join(rel);
                    let samples = load_wav_24k(&path).map_err(|reason| ScriptError::Audio {
                        script: script.into(),
                        path: path.clone(),
                        reason,
                    })?;
                    ReplyPart::Audio(samples)
                }
            })
        })
        .collect()
}

/// Reads a WAV of any format as 24 kHz mono 16-bit samples (the same conversion `voxlive talk` uses).
pub fn load_wav_24k(path: &Path) -> Result<Vec<i16>, String> {
    crate::wav::read_pcm16(path, OUTPUT_RATE)
        .map(|(samples, _)| samples)
        .map_err(|e| e.to_string())
}

/// Plays a script for one connection.
pub(crate) struct ScriptCursor {
    turns: Arc<Vec<ScriptTurn>>,
    next: usize,
    /// The rest of a turn waiting on a toolResponse.
    after_tool: Option<Reply>,
}

impl Responder for ScriptCursor {
    fn on_turn(&mut self, _turn: &UserTurn, _modality: Modality) -> Reply {
        let Some(turn) = self.turns.get(self.next) else {
            return Reply::new(vec![ReplyPart::Say("(end of script)".into())]);
        };
        self.next += 1;
        let rest = Reply {
            parts: turn.after_tool.clone(),
            go_away: turn.go_away,
        };
        if turn.parts.last().is_some_and(is_call) {
            self.after_tool = Some(rest);
            Reply::new(turn.parts.clone())
        } else {
            Reply {
                parts: turn.parts.clone(),
                go_away: turn.go_away,
            }
        }
    }

    fn on_tool_response(&mut self, response: &ToolResponse, _modality: Modality) -> Reply {
        let mut reply = self.after_tool.take().unwrap_or_default();
        let result = quote(response);
        for part in &mut reply.parts {
            if let ReplyPart::Say(t) | ReplyPart::Text(t) | ReplyPart::OutputTranscript(t) = part {
                if t.contains("{result}") {
                    *t = t.replace("{result}", &result);
                }
            }
        }
        reply
    }
}

/// The answers as a reply quotes them: `name {json}` each, `; ` between (an empty toolResponse: "nothing").
pub fn quote(response: &ToolResponse) -> String {
    if response.function_responses.is_empty() {
        return "nothing".into();
    }
    response
        .function_responses
        .iter()
        .map(|r| {
            let json = serde_json::to_string(&r.response).unwrap_or_default();
            format!("{} {json}", r.name)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
