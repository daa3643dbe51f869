//! Running tenant scripts (trigger conditions and script triggers). Lua runs in the
//! embedded sandbox ([`monitor::sandbox`]) on the blocking pool. Python, JavaScript and
//! Bash run as host processes with OZ's contract — the input JSON on stdin, killed at the
//! timeout — only where the operator switched host scripts on (self-hosted single-tenant
//! installs); otherwise they are refused with a clear error.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use monitor::config::ScriptLanguage;
use monitor::sandbox::{self, Limits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Operator settings.
#[derive(Clone, Debug)]
pub struct ScriptSettings {
    /// Let Python, JavaScript and Bash run as host processes.
    pub allow_host: bool,
    /// Sandbox bounds (the wall time is the script's own `timeout_ms`, capped below).
    pub limits: Limits,
    /// The longest any script may run, whatever its configuration says.
    pub max_timeout: Duration,
}

impl Default for ScriptSettings {
    fn default() -> Self {
        Self {
            allow_host: false,
            limits: Limits::default(),
            max_timeout: Duration::from_secs(5),
        }
    }
}

/// Most stdout kept from a host script.
const MAX_OUTPUT: usize = 64 * 1024;

/// A script ready to run.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub language: ScriptLanguage,
    lua: Option<sandbox::Script>,
    source: Arc<str>,
    pub args: Vec<String>,
    pub timeout: Duration,
}

impl Compiled {
    /// Prepares a script; Lua is compiled now.
    pub fn new(
        language: ScriptLanguage,
        source: &str,
        args: Vec<String>,
        timeout_ms: u32,
        settings: &ScriptSettings,
    ) -> Result<Self, String> {
        let lua = match language {
            ScriptLanguage::Lua => Some(sandbox::compile(source).map_err(|e| e.to_string())?),
            _ => None,
        };
        Ok(Self {
            language,
            lua,
            source: Arc::from(source),
            args,
            timeout: Duration::from_millis(u64::from(timeout_ms.max(1))).min(settings.max_timeout),
        })
    }
}

/// What a script produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// A Lua chunk's return value.
    Value(Value),
    /// A host script's standard output.
    Stdout(String),
}

/// Runs `script` on `matched` (OZ's JSON shape).
pub async fn run(
    script: &Compiled,
    matched: &Value,
    settings: &ScriptSettings,
) -> Result<Output, String> {
    match (&script.lua, script.language) {
        (Some(lua), _) => {
            let (lua, matched, args) = (lua.clone(), matched.clone(), script.args.clone());
            let limits = Limits {
                timeout: script.timeout,
                ..settings.limits
            };
            let timeout = limits.timeout;
            let task =
                tokio::task::spawn_blocking(move || sandbox::run(&lua, &matched, &args, &limits));
            // The sandbox stops itself at the limit; this is the backstop for anything
            // that escapes its hook, so the caller is never held.
            match tokio::time::timeout(timeout + Duration::from_secs(1), task).await {
                Ok(done) => done
                    .map_err(|e| format!("the sandbox failed: {e}"))?
                    .map(Output::Value)
                    .map_err(|e| e.to_string()),
                Err(_) => Err(format!("stopped: ran longer than {timeout:?}")),
            }
        }
        (None, language) if !settings.allow_host => Err(format!(
            "{language:?} scripts run as host processes, which this platform does not allow"
        )),
        (None, language) => host(language, script, matched).await.map(Output::Stdout),
    }
}

/// Runs a trigger condition: `Ok(true)` drops the match (a Lua chunk returning `true`,
/// or a host script whose last output line is `true`).
pub async fn condition(
    script: &Compiled,
    matched: &Value,
    settings: &ScriptSettings,
) -> Result<bool, String> {
    match run(script, matched, settings).await? {
        Output::Value(Value::Bool(b)) => Ok(b),
        Output::Value(other) => Err(format!(
            "a condition must return true or false, not {other}"
        )),
        Output::Stdout(text) => Ok(text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| l.trim() == "true")),
    }
}

async fn host(
    language: ScriptLanguage,
    script: &Compiled,
    matched: &Value,
) -> Result<String, String> {
    let mut cmd = match language {
        ScriptLanguage::Python => {
            let mut c = tokio::process::Command::new("python3");
            c.arg("-c").arg(&*script.source).args(&script.args);
            c
        }
        ScriptLanguage::JavaScript => {
            let mut c = tokio::process::Command::new("node");
            c.arg("-e")
                .arg(&*script.source)
                .arg("--")
                .args(&script.args);
            c
        }
        ScriptLanguage::Bash => {
            let mut c = tokio::process::Command::new("sh");
            c.arg("-c")
                .arg(&*script.source)
                .arg("sh")
                .args(&script.args);
            c
        }
        ScriptLanguage::Lua => unreachable!("Lua runs in the sandbox"),
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {language:?}: {e}"))?;
    let input =
        serde_json::to_vec(&serde_json::json!({"monitor_match": matched, "args": script.args}))
            .expect("JSON serializes");
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let work = async {
        // The script may not read its input; a closed pipe is not an error.
        let _ = stdin.write_all(&input).await;
        drop(stdin);
        let mut out = Vec::new();
        (&mut stdout)
            .take(MAX_OUTPUT as u64)
            .read_to_end(&mut out)
            .await
            .map_err(|e| e.to_string())?;
        // Whatever comes beyond the limit is drained so the script is not blocked.
        tokio::io::copy(&mut stdout, &mut tokio::io::sink())
            .await
            .map_err(|e| e.to_string())?;
        let status = child.wait().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((status, out))
    };
    match tokio::time::timeout(script.timeout, work).await {
        Ok(Ok((status, out))) if status.success() => Ok(String::from_utf8_lossy(&out).into_owned()),
        Ok(Ok((status, _))) => Err(format!("the script exited with {status}")),
        Ok(Err(e)) => Err(e),
        // Dropping the child kills it.
        Err(_) => Err(format!(
            "the script ran longer than {:?} and was killed",
            script.timeout
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"EVM": {"transaction": {"value": "5000"}}})
    }

    #[tokio::test]
    async fn lua_conditions_run_in_the_sandbox() {
        let s = ScriptSettings::default();
        let c = Compiled::new(
            ScriptLanguage::Lua,
            "return monitor_match.EVM.transaction.value == args[1]",
            vec!["5000".into()],
            500,
            &s,
        )
        .unwrap();
        assert_eq!(condition(&c, &sample(), &s).await, Ok(true));
        let bad = Compiled::new(ScriptLanguage::Lua, "return", vec![], 500, &s).unwrap();
        assert!(condition(&bad, &sample(), &s).await.is_err());
        assert!(Compiled::new(ScriptLanguage::Lua, "return (", vec![], 500, &s).is_err());
    }

    #[tokio::test]
    async fn host_scripts_need_the_operator_switch_and_are_killed_at_the_timeout() {
        let off = ScriptSettings::default();
        let c = Compiled::new(ScriptLanguage::Bash, "echo true", vec![], 500, &off).unwrap();
        assert!(
            condition(&c, &sample(), &off)
                .await
                .unwrap_err()
                .contains("does not allow")
        );
        let on = ScriptSettings {
            allow_host: true,
            ..ScriptSettings::default()
        };
        // Reads the match from stdin, OZ style.
        let c = Compiled::new(
            ScriptLanguage::Bash,
            "read input; case \"$input\" in *5000*) echo checking; echo true;; *) echo false;; esac",
            vec![],
            2_000,
            &on,
        )
        .unwrap();
        assert_eq!(condition(&c, &sample(), &on).await, Ok(true));
        let slow = Compiled::new(ScriptLanguage::Bash, "sleep 30", vec![], 200, &on).unwrap();
        let started = std::time::Instant::now();
        assert!(
            condition(&slow, &sample(), &on)
                .await
                .unwrap_err()
                .contains("killed")
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        let failing = Compiled::new(ScriptLanguage::Bash, "exit 3", vec![], 500, &on).unwrap();
        assert!(
            condition(&failing, &sample(), &on)
                .await
                .unwrap_err()
                .contains("exit")
        );
    }
}
