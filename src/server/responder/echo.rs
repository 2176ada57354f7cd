//! The Echo responder: plays the user's turn back, so a client can check the whole audio path end to end
//! with exact, predictable samples (see [`echo_reply_samples`]).

use crate::protocol::{Modality, INPUT_RATE};

use super::super::reply::{Reply, ReplyPart, ToolCalls, UserTurn};
use super::Responder;
use crate::protocol::{FunctionCall, ToolResponse};

pub use super::signal::echo_reply_samples;

/// A text turn `call NAME {ARGS}` (or several: `call a {} ; b {"x": 1}`) makes one toolCall with those calls
/// instead, and the answer after the toolResponse says what each tool returned ("NAME returned {json}"), so
/// any client can try function calling against the default embedded server.
///
/// Audio turn: input transcript "(1.4 s of speech)", the audio upsampled to 24 kHz, output transcript
/// "(echo of 1.4 s)"; in a TEXT session the text "You said: (1.4 s of speech)". Text turn: "You said: TEXT"
/// (text in a TEXT session, a speech-like tone plus output transcript in an AUDIO session).
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoResponder;

impl Responder for EchoResponder {
    fn on_turn(&mut self, turn: &UserTurn, modality: Modality) -> Reply {
        if let Some(text) = &turn.text {
            if let Some(calls) = text.trim().strip_prefix("call ").and_then(parse_calls) {
                return Reply::new(vec![ReplyPart::ToolCalls(ToolCalls {
                    calls,
                    ..ToolCalls::default()
                })]);
            }
            return Reply::new(vec![ReplyPart::Say(format!("You said: {text}"))]);
        }
        let secs = turn.audio.len() as f64 / f64::from(INPUT_RATE);
        let heard = format!("({secs:.1} s of speech)");
        let mut parts = vec![ReplyPart::InputTranscript(heard.clone())];
        if modality == Modality::Text {
            parts.push(ReplyPart::Text(format!("You said: {heard}")));
        } else {
            parts.push(ReplyPart::OutputTranscript(format!("(echo of {secs:.1} s)")));
            parts.push(ReplyPart::Audio(echo_reply_samples(&turn.audio)));
        }
        Reply::new(parts)
    }

    fn on_tool_response(&mut self, response: &ToolResponse, _modality: Modality) -> Reply {
        EchoResponder::answer(response)
    }
}

/// `NAME {ARGS}` items separated by `;`: `None` when any is not a name with an optional JSON object.
fn parse_calls(text: &str) -> Option<Vec<FunctionCall>> {
    let calls: Option<Vec<FunctionCall>> = text
        .split(';')
        .take(16)
        .map(|item| {
            let item = item.trim();
            let (name, args) = item.split_once(char::is_whitespace).unwrap_or((item, ""));
            if !crate::tools::registry_name_ok(name) {
                return None;
            }
            let args = match args.trim() {
                "" => serde_json::Map::new(),
                json => serde_json::from_str(json).ok()?,
            };
            Some(FunctionCall {
                id: None,
                name: name.to_string(),
                args,
            })
        })
        .collect();
    calls.filter(|c| !c.is_empty())
}

impl EchoResponder {
    fn answer(response: &ToolResponse) -> Reply {
        let said: Vec<String> = response
            .function_responses
            .iter()
            .map(|r| {
                format!(
                    "{} returned {}",
                    r.name,
                    serde_json::to_string(&r.response).unwrap_or_default()
                )
            })
            .collect();
        if said.is_empty() {
            return Reply::default();
        }
        Reply::new(vec![ReplyPart::Say(said.join("; "))])
    }
}
