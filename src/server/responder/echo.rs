//! The Echo responder: plays the user's turn back, so a client can check the whole audio path end to end
//! with exact, predictable samples (see [`echo_reply_samples`]).

use crate::protocol::{Modality, INPUT_RATE};

use super::super::reply::{Reply, ReplyPart, UserTurn};
use super::Responder;

pub use super::signal::echo_reply_samples;

/// Audio turn: input transcript "(1.4 s of speech)", the audio upsampled to 24 kHz, output transcript
/// "(echo of 1.4 s)"; in a TEXT session the text "You said: (1.4 s of speech)". Text turn: "You said: TEXT"
/// (text in a TEXT session, a speech-like tone plus output transcript in an AUDIO session). Images sent
/// since the previous turn are acknowledged in the reply's text or transcript: "You said: hi. I see 2
/// images, the last 768x512".
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoResponder;

impl Responder for EchoResponder {
    fn on_turn(&mut self, turn: &UserTurn, modality: Modality) -> Reply {
        let seen = turn.images.sentence().map(|s| format!(". {s}")).unwrap_or_default();
        if let Some(text) = &turn.text {
            return Reply::new(vec![ReplyPart::Say(format!("You said: {text}{seen}"))]);
        }
        let secs = turn.audio.len() as f64 / f64::from(INPUT_RATE);
        let heard = format!("({secs:.1} s of speech)");
        let mut parts = vec![ReplyPart::InputTranscript(heard.clone())];
        if modality == Modality::Text {
            parts.push(ReplyPart::Text(format!("You said: {heard}{seen}")));
        } else {
            parts.push(ReplyPart::OutputTranscript(format!("(echo of {secs:.1} s){seen}")));
            parts.push(ReplyPart::Audio(echo_reply_samples(&turn.audio)));
        }
        Reply::new(parts)
    }
}
