//! Tools declared in the config file, without code: a program (and its arguments, no shell) run with the
//! call's arguments as JSON on stdin; what it prints on stdout is the result (a JSON object as it is, other
//! JSON or plain text as `{"result": ...}`). A non-zero exit is an error carrying the tail of stderr; the
//! run is killed (its whole process group) on timeout, on cancellation, or when it prints more than the
//! output cap.
//!
//! ```toml
//! [[tool]]
//! name = "weather"
//! description = "Current weather for a city"
//! parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }
//! command = ["/usr/local/bin/weather", "--json"]
//! timeout_secs = 10          # 0 < t <= 600, default 10
//! max_output_bytes = 65536   # 1 .. 16 MiB, default 64 KiB
//! behavior = "non_blocking"  # or "blocking" (default)
//! scheduling = "when_idle"   # silent | when_idle | interrupt (NON_BLOCKING answers only)
//! confirm = true             # ask the user before each call
//! ```

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{Behavior, Scheduling, Tool, ToolError, ToolFuture, ToolOutput};

/// Longest timeout a command tool may have.
pub const MAX_TIMEOUT_SECS: f64 = 600.0;
/// Largest output cap a command tool may have.
pub const MAX_OUTPUT_LIMIT: u64 = 16 << 20;
const DEFAULT_OUTPUT: u64 = 64 * 1024;
/// How much of stderr an error keeps (its end: where programs say what went wrong).
const STDERR_TAIL: usize = 2048;

/// One `[[tool]]` table of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments (an object schema); default: no arguments.
    #[serde(default)]
    pub parameters: Option<Value>,
    /// The program and its arguments.
    pub command: Vec<String>,
    #[serde(default)]
    pub timeout_secs: Option<f64>,
    #[serde(default)]
    pub max_output_bytes: Option<u64>,
    #[serde(default)]
    pub behavior: Option<Behavior>,
    #[serde(default)]
    pub scheduling: Option<Scheduling>,
    #[serde(default)]
    pub confirm: bool,
}

/// A validated command tool.
#[derive(Debug, Clone)]
pub struct CommandTool {
    name: String,
    description: String,
    parameters: Value,
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
    max_output: u64,
    behavior: Behavior,
    scheduling: Option<Scheduling>,
    confirm: bool,
}

impl CommandTool {
    /// Checks a spec: a command, a sane timeout and cap, an object schema. The error names the tool.
    pub fn from_spec(spec: CommandSpec) -> Result<CommandTool, String> {
        let name = spec.name.clone();
        let bad = |what: String| format!("tool {name:?}: {what}");
        let mut command = spec.command.into_iter();
        let program = command
            .next()
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| bad("command must name a program, e.g. command = [\"/usr/bin/date\"]".into()))?;
        let secs = spec.timeout_secs.unwrap_or(super::DEFAULT_TIMEOUT.as_secs_f64());
        if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
            return Err(bad(format!(
                "timeout_secs {secs}: give more than 0 and at most {MAX_TIMEOUT_SECS}"
            )));
        }
        let max_output = spec.max_output_bytes.unwrap_or(DEFAULT_OUTPUT);
        if !(1..=MAX_OUTPUT_LIMIT).contains(&max_output) {
            return Err(bad(format!(
                "max_output_bytes {max_output}: give 1 to {MAX_OUTPUT_LIMIT}"
            )));
        }
        let parameters = spec
            .parameters
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        let is_object_schema = parameters
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("object"));
        if !is_object_schema {
            return Err(bad(
                "parameters must be an object schema ({ type = \"object\", ... })".into()
            ));
        }
        if spec.scheduling.is_some() && spec.behavior != Some(Behavior::NonBlocking) {
            return Err(bad(
                "scheduling applies to behavior = \"non_blocking\" tools only".into()
            ));
        }
        Ok(CommandTool {
            name: spec.name,
            description: spec.description,
            parameters,
            program: PathBuf::from(program),
            args: command.collect(),
            timeout: Duration::from_secs_f64(secs),
            max_output,
            behavior: spec.behavior.unwrap_or_default(),
            scheduling: spec.scheduling,
            confirm: spec.confirm,
        })
    }

    async fn execute(self, args: Value) -> Result<ToolOutput, ToolError> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd.spawn().map_err(|e| ToolError::Failed {
            message: format!("cannot start {}: {e}", self.program.display()),
            retryable: false,
        })?;
        // dropped before the child is reaped (timeout, cancellation, too much output): kill its group
        let mut guard = KillGroup(child.id());
        let input = serde_json::to_vec(&args).unwrap_or_else(|_| b"{}".to_vec());
        let stdin = child.stdin.take();
        let write = async move {
            if let Some(mut s) = stdin {
                // a program that does not read its input is fine: ignore a broken pipe
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
            Ok::<(), ToolError>(())
        };
        let name = self.name.clone();
        let read_out = read_capped(child.stdout.take(), self.max_output, &name);
        let read_err = async { Ok(read_tail(child.stderr.take(), STDERR_TAIL).await) };
        let ((), out, err) = tokio::try_join!(write, read_out, read_err)?;
        let status = child.wait().await.map_err(|e| ToolError::Failed {
            message: format!("{name}: waiting for the program failed: {e}"),
            retryable: true,
        })?;
        guard.0 = None;
        if !status.success() {
            let how = match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            };
            let tail = String::from_utf8_lossy(&err).trim().to_string();
            let message = if tail.is_empty() {
                format!("{name} {how}")
            } else {
                format!("{name} {how}: {tail}")
            };
            return Err(ToolError::Failed {
                message,
                retryable: false,
            });
        }
        parse_output(&name, out)
    }
}

/// stdout as the result: a JSON object as it is, other JSON or text as `{"result": ...}`.
fn parse_output(name: &str, out: Vec<u8>) -> Result<ToolOutput, ToolError> {
    let text = String::from_utf8(out).map_err(|_| ToolError::Failed {
        message: format!("{name} printed output that is not UTF-8"),
        retryable: false,
    })?;
    let text = text.trim();
    Ok(match serde_json::from_str::<Value>(text) {
        Ok(v) => ToolOutput::from_value(v),
        Err(_) => ToolOutput::result(text),
    })
}

/// Reads all of `r`, failing as soon as it exceeds `cap` bytes.
async fn read_capped(r: Option<impl AsyncRead + Unpin>, cap: u64, name: &str) -> Result<Vec<u8>, ToolError> {
    let Some(r) = r else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let read = r.take(cap + 1).read_to_end(&mut out).await;
    read.map_err(|e| ToolError::Failed {
        message: format!("{name}: reading its output failed: {e}"),
        retryable: true,
    })?;
    if out.len() as u64 > cap {
        return Err(ToolError::TooLarge(format!("{name} printed more than {cap} bytes")));
    }
    Ok(out)
}

/// Reads all of `r`, keeping only the last `keep` bytes.
async fn read_tail(r: Option<impl AsyncRead + Unpin>, keep: usize) -> Vec<u8> {
    let Some(mut r) = r else { return Vec::new() };
    let mut tail = Vec::with_capacity(keep * 2);
    let mut buf = [0u8; 4096];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > keep * 2 {
            tail.drain(..tail.len() - keep);
        }
    }
    if tail.len() > keep {
        tail.drain(..tail.len() - keep);
    }
    tail
}

/// Kills the process group of a child not yet reaped (its pid, which is also its group id, is still
/// ours until then).
struct KillGroup(Option<u32>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(pid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

impl Tool for CommandTool {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        self.parameters.clone()
    }

    fn behavior(&self) -> Behavior {
        self.behavior
    }

    fn scheduling(&self) -> Option<Scheduling> {
        self.scheduling
    }

    fn needs_confirmation(&self) -> bool {
        self.confirm
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    fn run(&self, args: Value) -> ToolFuture {
        Box::pin(self.clone().execute(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(command: &[&str]) -> CommandSpec {
        CommandSpec {
            name: "t".into(),
            description: "test".into(),
            parameters: None,
            command: command.iter().map(|s| s.to_string()).collect(),
            timeout_secs: Some(5.0),
            max_output_bytes: Some(64),
            behavior: None,
            scheduling: None,
            confirm: false,
        }
    }

    #[test]
    fn specs_are_validated() {
        assert!(CommandTool::from_spec(spec(&[])).unwrap_err().contains("program"));
        let mut s = spec(&["/bin/true"]);
        s.timeout_secs = Some(f64::NAN);
        assert!(CommandTool::from_spec(s).unwrap_err().contains("timeout_secs"));
        let mut s = spec(&["/bin/true"]);
        s.max_output_bytes = Some(0);
        assert!(CommandTool::from_spec(s).unwrap_err().contains("max_output_bytes"));
        let mut s = spec(&["/bin/true"]);
        s.parameters = Some(json!({"type": "string"}));
        assert!(CommandTool::from_spec(s).unwrap_err().contains("object schema"));
        let mut s = spec(&["/bin/true"]);
        s.scheduling = Some(Scheduling::Silent);
        assert!(CommandTool::from_spec(s).unwrap_err().contains("non_blocking"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn stdin_json_in_stdout_json_out() {
        let t = CommandTool::from_spec(spec(&["/bin/cat"])).unwrap();
        let out = t.run(json!({"city": "Kyoto"})).await.unwrap();
        assert_eq!(out.response["city"], "Kyoto");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn failure_output_cap_and_missing_program() {
        let fail = CommandTool::from_spec(spec(&["/bin/sh", "-c", "echo boom >&2; exit 3"])).unwrap();
        let e = fail.run(json!({})).await.unwrap_err();
        assert!(
            e.to_string().contains("status 3") && e.to_string().contains("boom"),
            "{e}"
        );
        let loud = CommandTool::from_spec(spec(&["/bin/sh", "-c", "yes"])).unwrap();
        assert_eq!(loud.run(json!({})).await.unwrap_err().status(), "RESOURCE_EXHAUSTED");
        let missing = CommandTool::from_spec(spec(&["/no/such/program"])).unwrap();
        assert!(missing
            .run(json!({}))
            .await
            .unwrap_err()
            .to_string()
            .contains("cannot start"));
        let text = CommandTool::from_spec(spec(&["/bin/echo", "plain"])).unwrap();
        assert_eq!(text.run(json!({})).await.unwrap().response["result"], "plain");
    }
}
