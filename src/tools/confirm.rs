//! Asking the user before a tool that needs confirmation runs. The runner's task sends a
//! [`ConfirmRequest`] to the front end (the chat prompt, or the terminal UI's question line) and waits at
//! most the policy's timeout; no answer, a closed input or no terminal at all means the default answer,
//! which is "no" unless configured otherwise. A refusal becomes a PERMISSION_DENIED error response.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::ToolError;

/// Longest a question may wait for an answer.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// How confirmation questions are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// Nobody can answer (no terminal): every question gets the default at once.
    Nobody,
    /// Questions go to the front end.
    FrontEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmPolicy {
    pub asker: Asker,
    /// The answer when nobody answers in time.
    pub default_allow: bool,
    pub timeout: Duration,
}

impl Default for ConfirmPolicy {
    fn default() -> Self {
        ConfirmPolicy {
            asker: Asker::Nobody,
            default_allow: false,
            timeout: Duration::from_secs(30),
        }
    }
}

/// One question for the front end. Answer it with [`ConfirmRequest::answer`]; when the call is cancelled or
/// timed out meanwhile, [`ConfirmRequest::is_dismissed`] turns true and the answer is ignored.
#[derive(Debug)]
pub struct ConfirmRequest {
    pub id: Option<String>,
    pub name: String,
    /// The arguments as JSON (PII-masked when `--redact-pii` is on).
    pub args: String,
    pub default_allow: bool,
    pub timeout: Duration,
    reply: oneshot::Sender<bool>,
}

impl ConfirmRequest {
    /// The question as a person reads it.
    pub fn question(&self) -> String {
        let (choices, default) = if self.default_allow {
            ("Y/n", "yes")
        } else {
            ("y/N", "no")
        };
        format!(
            "allow tool {}({})? [{choices}] ({} s, then {default})",
            self.name,
            self.args,
            self.timeout.as_secs()
        )
    }

    pub fn answer(self, allow: bool) {
        let _ = self.reply.send(allow);
    }

    pub fn is_dismissed(&self) -> bool {
        self.reply.is_closed()
    }

    /// Resolves when nobody waits for the answer any more.
    pub async fn dismissed(&mut self) {
        self.reply.closed().await
    }
}

/// `y`/`yes` is yes, `n`/`no` is no, anything else is not an answer.
pub fn parse_answer(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Some(true),
        "n" | "no" => Some(false),
        _ => None,
    }
}

/// Asks (or takes the default) and returns `Ok` when the call may run.
pub(super) async fn confirm(
    policy: ConfirmPolicy,
    ask: &mpsc::Sender<ConfirmRequest>,
    id: Option<String>,
    name: &str,
    args: String,
) -> Result<(), ToolError> {
    let (allow, why) = match policy.asker {
        Asker::Nobody => (policy.default_allow, "nobody could be asked (no terminal)"),
        Asker::FrontEnd => {
            let (reply, answer) = oneshot::channel();
            let request = ConfirmRequest {
                id,
                name: name.to_string(),
                args,
                default_allow: policy.default_allow,
                timeout: policy.timeout,
                reply,
            };
            if ask.send(request).await.is_err() {
                (policy.default_allow, "the front end is gone")
            } else {
                match tokio::time::timeout(policy.timeout, answer).await {
                    Ok(Ok(allow)) => (allow, "the user answered"),
                    Ok(Err(_)) => (policy.default_allow, "the question was dismissed"),
                    Err(_) => (policy.default_allow, "no answer in time"),
                }
            }
        }
    };
    tracing::info!(tool = name, allow, "confirmation: {why}");
    if allow {
        Ok(())
    } else {
        Err(ToolError::PermissionDenied(format!(
            "the user did not allow {name} to run ({why}; refused)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse() {
        assert_eq!(parse_answer(" Y "), Some(true));
        assert_eq!(parse_answer("no"), Some(false));
        assert_eq!(parse_answer("maybe"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn no_answer_in_time_is_the_default() {
        let (tx, mut rx) = mpsc::channel(1);
        let policy = ConfirmPolicy {
            asker: Asker::FrontEnd,
            default_allow: false,
            timeout: Duration::from_secs(5),
        };
        let asked = tokio::spawn(async move { confirm(policy, &tx, None, "t", "{}".into()).await });
        let req = rx.recv().await.unwrap();
        assert!(req.question().contains("[y/N]"));
        // keep the request (not answered): the paused clock runs out the timeout
        let r = asked.await.unwrap();
        assert_eq!(r.unwrap_err().status(), "PERMISSION_DENIED");
        assert!(req.is_dismissed());
    }

    #[tokio::test]
    async fn nobody_to_ask_takes_the_default() {
        let (tx, _rx) = mpsc::channel(1);
        let allow = ConfirmPolicy {
            default_allow: true,
            ..ConfirmPolicy::default()
        };
        assert!(confirm(allow, &tx, None, "t", "{}".into()).await.is_ok());
        assert!(confirm(ConfirmPolicy::default(), &tx, None, "t", "{}".into())
            .await
            .is_err());
    }
}
