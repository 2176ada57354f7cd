//! `voxlive models`: the catalog as a person reads it, one model a line with what its setup may ask for.

use std::fmt::Write;

use super::{Catalog, FunctionBehavior, ModelProfile, Status, Thinking};

impl Catalog {
    /// Every model, the default first marked `*`, served ones before shut-down ones, then the rules of the
    /// models that have any (what their setup may not ask for).
    pub fn listing(&self) -> String {
        let mut models: Vec<&ModelProfile> = self.models.iter().collect();
        models.sort_by_key(|m| (m.id != self.default_model, m.status == Status::Shutdown));
        let width = models.iter().map(|m| m.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for m in models {
            let mark = if m.id == self.default_model { '*' } else { ' ' };
            let _ = writeln!(
                out,
                "{mark} {:width$}  {:8}  {}",
                m.id,
                status(m.status),
                summary(self, m)
            );
        }
        let _ = writeln!(out, "(* the default; choose another with --model ID)");
        out
    }
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Current => "current",
        Status::Preview => "preview",
        Status::Shutdown => "shutdown",
    }
}

/// What the model answers with and takes, in a few words.
fn summary(catalog: &Catalog, m: &ModelProfile) -> String {
    if m.status == Status::Shutdown {
        return m.note.clone().unwrap_or_else(|| "no longer served".into());
    }
    let modalities: Vec<&str> = m
        .modalities
        .iter()
        .map(|x| match x {
            crate::protocol::Modality::Audio => "AUDIO",
            crate::protocol::Modality::Text => "TEXT",
            crate::protocol::Modality::Image => "IMAGE",
        })
        .collect();
    let mut parts = vec![
        modalities.join("/"),
        format!("{} voices", catalog.voices(m).len()),
        match m.thinking {
            Thinking::None => "no thinkingConfig".to_string(),
            Thinking::Budget => "thinkingBudget".to_string(),
            Thinking::Level => format!("thinkingLevel {}", m.thinking_levels.join("|")),
        },
    ];
    if m.proactive_audio_always {
        parts.push("proactive audio always on".into());
    } else if m.proactivity {
        parts.push("proactivity".into());
    }
    if m.affective_dialog {
        parts.push("affective dialog".into());
    }
    match (m.blocking_calls, m.default_function_behavior) {
        (false, _) => parts.push("functions async only".into()),
        (true, FunctionBehavior::NonBlocking) => parts.push("functions NON_BLOCKING by default".into()),
        (true, FunctionBehavior::Blocking) => {}
    }
    if let Some(n) = m.stream_minutes {
        parts.push(format!("streams at most {n} min"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_puts_the_default_first_and_names_every_model() {
        let c = Catalog::builtin();
        let text = c.listing();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("* gemini-3.8-live "), "{first}");
        assert!(first.contains("AUDIO, 30 voices, no thinkingConfig"), "{first}");
        for m in &c.models {
            assert!(text.contains(&m.id), "{} missing", m.id);
        }
        assert!(text.contains("thinkingLevel LOW|MEDIUM|HIGH"), "{text}");
        assert!(text.contains("streams at most 10 min"), "{text}");
    }
}
