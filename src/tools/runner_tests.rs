use std::time::Duration;

use serde_json::{json, Map, Value};

use super::*;
use crate::tools::{Tool, ToolFuture};

/// Sleeps `ms` from its arguments, then answers `{"slept": ms}`; a NON_BLOCKING variant says willContinue.
struct Sleeper {
    name: &'static str,
    behavior: Behavior,
}

impl Tool for Sleeper {
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        "sleeps"
    }
    fn parameters(&self) -> Value {
        json!({"type": "object"})
    }
    fn behavior(&self) -> Behavior {
        self.behavior
    }
    fn scheduling(&self) -> Option<Scheduling> {
        Some(Scheduling::WhenIdle)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn run(&self, args: Value) -> ToolFuture {
        let blocking = self.behavior == Behavior::Blocking;
        Box::pin(async move {
            let ms = args["ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let mut out = ToolOutput::from_value(json!({ "slept": ms }));
            out.will_continue = (!blocking).then_some(false);
            Ok(out)
        })
    }
}

fn runner() -> ToolRunner {
    let mut r = Registry::new();
    r.add(
        Arc::new(Sleeper {
            name: "slow",
            behavior: Behavior::Blocking,
        }),
        false,
    )
    .unwrap();
    r.add(
        Arc::new(Sleeper {
            name: "bg",
            behavior: Behavior::NonBlocking,
        }),
        false,
    )
    .unwrap();
    ToolRunner::new(Arc::new(r), ConfirmPolicy::default())
}

fn call(id: &str, name: &str, ms: u64) -> FunctionCall {
    let mut args = Map::new();
    args.insert("ms".into(), json!(ms));
    FunctionCall {
        id: Some(id.into()),
        name: name.into(),
        args,
    }
}

async fn respond(r: &mut ToolRunner) -> Vec<FunctionResponse> {
    match r.next_event().await {
        RunnerEvent::Respond(v) => v,
        RunnerEvent::Ask(q) => panic!("unexpected question {q:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn blocking_calls_of_one_message_are_answered_together() {
    let mut r = runner();
    r.dispatch(vec![call("a", "slow", 300), call("b", "slow", 100)]);
    let answers = respond(&mut r).await;
    let ids: Vec<_> = answers.iter().map(|a| a.id.clone().unwrap()).collect();
    assert_eq!(ids, vec!["b", "a"], "finished order, one message");
    assert!(answers
        .iter()
        .all(|a| a.scheduling.is_none() && a.will_continue.is_none()));
    assert!(!r.busy());
}

#[tokio::test(start_paused = true)]
async fn non_blocking_answers_go_alone_with_their_scheduling() {
    let mut r = runner();
    r.dispatch(vec![call("a", "bg", 200), call("b", "slow", 100)]);
    let first = respond(&mut r).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id.as_deref(), Some("b"));
    let second = respond(&mut r).await;
    assert_eq!(second[0].id.as_deref(), Some("a"));
    assert_eq!(second[0].scheduling.as_deref(), Some("WHEN_IDLE"));
    assert_eq!(second[0].will_continue, Some(false));
}

#[tokio::test(start_paused = true)]
async fn undeclared_tools_and_timeouts_are_error_answers_with_the_id() {
    let mut r = runner();
    r.dispatch(vec![call("x", "rm_rf", 0)]);
    let a = respond(&mut r).await;
    assert_eq!(a[0].id.as_deref(), Some("x"));
    assert_eq!(a[0].response["error"]["status"], "NOT_FOUND");
    r.dispatch(vec![call("t", "slow", 5_000)]);
    let a = respond(&mut r).await;
    assert_eq!(a[0].response["error"]["status"], "TIMEOUT");
    assert_eq!(a[0].response["error"]["retryable"], true);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_never_answered_and_releases_its_batch() {
    let mut r = runner();
    r.dispatch(vec![call("keep", "slow", 100), call("drop", "slow", 500)]);
    r.cancel(&["drop".to_string()]);
    let a = respond(&mut r).await;
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].id.as_deref(), Some("keep"));
    // nothing else comes, even after the cancelled call's time has passed
    let more = tokio::time::timeout(Duration::from_secs(5), r.next_event()).await;
    assert!(more.is_err(), "the cancelled call was answered: {more:?}");
}

#[tokio::test(start_paused = true)]
async fn confirmation_questions_reach_the_front_end() {
    let mut reg = Registry::new();
    reg.add(
        Arc::new(Sleeper {
            name: "slow",
            behavior: Behavior::Blocking,
        }),
        true,
    )
    .unwrap();
    let policy = ConfirmPolicy {
        asker: crate::tools::Asker::FrontEnd,
        ..ConfirmPolicy::default()
    };
    let mut r = ToolRunner::new(Arc::new(reg), policy);
    r.dispatch(vec![call("c", "slow", 0), call("d", "slow", 0)]);
    let mut asked = 0;
    loop {
        match r.next_event().await {
            RunnerEvent::Ask(q) => {
                asked += 1;
                let allow = q.id.as_deref() == Some("c");
                q.answer(allow);
            }
            RunnerEvent::Respond(a) => {
                assert_eq!(asked, 2);
                let by_id = |id: &str| a.iter().find(|x| x.id.as_deref() == Some(id)).unwrap().clone();
                assert_eq!(by_id("c").response["slept"], 0);
                assert_eq!(by_id("d").response["error"]["status"], "PERMISSION_DENIED");
                break;
            }
        }
    }
}
