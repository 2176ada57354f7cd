//! Token usage of a turn, by a fixed, documented rule so tests can check it: audio counts 25 tokens per
//! second, rounded up; text one token per 4 characters, rounded up. Prompt tokens come from the user's
//! turn, response tokens from what the reply sent; both are reported per modality on turnComplete.

use crate::protocol::{ModalityTokenCount, UsageMetadata, INPUT_RATE, OUTPUT_RATE};

use super::reply::UserTurn;

/// Token counts of the turn being answered.
#[derive(Debug, Clone, Default)]
pub struct TurnUsage {
    prompt: Vec<ModalityTokenCount>,
    response: Vec<ModalityTokenCount>,
}

/// Tokens for `samples` of audio at `rate`: 25 per second, rounded up.
pub fn audio_tokens(samples: usize, rate: u32) -> u32 {
    (samples as u64 * 25).div_ceil(u64::from(rate.max(1))) as u32
}

/// Tokens for text: one per 4 characters, rounded up.
pub fn text_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}

fn add(list: &mut Vec<ModalityTokenCount>, modality: &str, tokens: u32) {
    if tokens == 0 {
        return;
    }
    match list.iter_mut().find(|m| m.modality == modality) {
        Some(m) => m.token_count += tokens,
        None => list.push(ModalityTokenCount {
            modality: modality.to_string(),
            token_count: tokens,
        }),
    }
}

impl TurnUsage {
    pub fn for_turn(turn: &UserTurn) -> Self {
        let mut usage = TurnUsage::default();
        add(&mut usage.prompt, "AUDIO", audio_tokens(turn.audio.len(), INPUT_RATE));
        add(
            &mut usage.prompt,
            "TEXT",
            turn.text.as_deref().map(text_tokens).unwrap_or(0),
        );
        usage
    }

    /// Adds `samples` of 24 kHz reply audio.
    pub fn add_response_audio(&mut self, samples: usize) {
        add(&mut self.response, "AUDIO", audio_tokens(samples, OUTPUT_RATE));
    }

    pub fn add_response_text(&mut self, text: &str) {
        add(&mut self.response, "TEXT", text_tokens(text));
    }

    pub fn metadata(&self) -> UsageMetadata {
        let sum = |l: &[ModalityTokenCount]| l.iter().map(|m| m.token_count).sum::<u32>();
        let (p, r) = (sum(&self.prompt), sum(&self.response));
        UsageMetadata {
            prompt_token_count: Some(p),
            response_token_count: Some(r),
            total_token_count: Some(p + r),
            prompt_tokens_details: self.prompt.clone(),
            response_tokens_details: self.response.clone(),
            ..UsageMetadata::default()
        }
    }
}
