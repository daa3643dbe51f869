//! The sandbox for tenant code: trigger conditions and script triggers written in Lua
//! 5.4, run in an embedded interpreter with no access to files, processes, the network
//! or code loading (only the `string`, `table`, `math` and `utf8` libraries and the safe
//! part of the base library). Each run gets a fresh interpreter, bounded in memory,
//! instructions and wall time, and what OZ scripts get on stdin: `monitor_match` (the
//! match in OZ's JSON shape), `args` (the configured arguments) and `input` (both, as one
//! table). Arrays are Lua sequences (1-based).
//!
//! A trigger condition's chunk returns a boolean; `true` drops the match (OZ's rule for
//! a last stdout line `true`).
//!
//! (Lua rather than Rhai: casbin links Rhai with its `unchecked` feature, which would
//! silently switch off every limit of a Rhai sandbox in the same binary.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, LuaOptions, LuaSerdeExt, StdLib, Value as LuaValue, VmState};
use serde_json::Value;

/// Bounds of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Lua VM instructions.
    pub max_instructions: u64,
    /// Wall time.
    pub timeout: Duration,
    /// Bytes the interpreter may allocate (its own state included).
    pub max_memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_instructions: 10_000_000,
            timeout: Duration::from_millis(1_000),
            max_memory: 16 * 1024 * 1024,
        }
    }
}

/// Longest script source accepted.
pub const MAX_SOURCE: usize = 64 * 1024;

/// Instructions between two checks of the budget and the clock.
const CHECK_EVERY: u32 = 1_000;

const TOO_MANY: &str = "sandbox: instruction budget exhausted";
const TIMED_OUT: &str = "sandbox: time budget exhausted";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("syntax error at line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("the script is longer than {MAX_SOURCE} bytes")]
    TooLong,
    #[error("stopped: more than {0} instructions")]
    TooManyInstructions(u64),
    #[error("stopped: ran longer than {0:?}")]
    Timeout(Duration),
    #[error("stopped: more than {0} bytes of memory")]
    OutOfMemory(usize),
    #[error("not allowed: {0}")]
    NotAllowed(String),
    #[error("script error: {0}")]
    Runtime(String),
    #[error("a condition must return true or false, not {0}")]
    NotBool(String),
}

/// A checked script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    source: Arc<str>,
}

/// Globals of the base library a tenant must not have: code loading and the
/// collector's controls. (`io`, `os`, `package`, `debug` are never loaded.)
const REMOVED: &[&str] = &[
    "dofile",
    "loadfile",
    "load",
    "loadstring",
    "require",
    "collectgarbage",
    "print",
];

fn interpreter(limits: &Limits) -> Result<Lua, SandboxError> {
    let lua = Lua::new_with(
        StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8,
        LuaOptions::default(),
    )
    .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    let globals = lua.globals();
    for name in REMOVED {
        globals
            .set(*name, LuaValue::Nil)
            .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    }
    // A `print` that goes nowhere, so OZ-style scripts that print do not fail.
    let noop = lua
        .create_function(|_, _: mlua::MultiValue| Ok(()))
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    globals
        .set("print", noop)
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    // Lua patterns backtrack inside C, where the instruction and time limits cannot
    // reach: matching is plain-text only (`string.find(s, text)`), and `match`,
    // `gmatch` and `gsub` are absent.
    lua.load(
        r#"
        local find = string.find
        string.find = function(s, text, init) return find(s, text, init, true) end
        string.match, string.gmatch, string.gsub = nil, nil, nil
        "#,
    )
    .set_mode(mlua::ChunkMode::Text)
    .exec()
    .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    lua.set_memory_limit(limits.max_memory)
        .map_err(|e| SandboxError::Runtime(e.to_string()))?;
    Ok(lua)
}

fn syntax(message: &str) -> SandboxError {
    // `[string "script"]:3: unexpected symbol near 'x'`
    let rest = message.split_once("]:").map_or(message, |(_, r)| r);
    let (line, text) = match rest.split_once(':') {
        Some((n, text)) => (n.trim().parse().unwrap_or(0), text.trim()),
        None => (0, rest.trim()),
    };
    SandboxError::Syntax {
        line,
        message: text.to_owned(),
    }
}

/// Checks `source` compiles.
pub fn compile(source: &str) -> Result<Script, SandboxError> {
    if source.len() > MAX_SOURCE {
        return Err(SandboxError::TooLong);
    }
    let lua = interpreter(&Limits::default())?;
    lua.load(source)
        .set_name("script")
        .set_mode(mlua::ChunkMode::Text)
        .into_function()
        .map_err(|e| match e {
            mlua::Error::SyntaxError { message, .. } => syntax(&message),
            other => SandboxError::Runtime(other.to_string()),
        })?;
    Ok(Script {
        source: Arc::from(source),
    })
}

fn classify(err: &mlua::Error, limits: &Limits) -> SandboxError {
    let text = err.to_string();
    match err {
        mlua::Error::MemoryError(_) => SandboxError::OutOfMemory(limits.max_memory),
        _ if text.contains(TOO_MANY) => SandboxError::TooManyInstructions(limits.max_instructions),
        _ if text.contains(TIMED_OUT) => SandboxError::Timeout(limits.timeout),
        _ if text.contains("not enough memory") => SandboxError::OutOfMemory(limits.max_memory),
        _ if text.contains("attempt to call a nil value") => SandboxError::NotAllowed(format!(
            "{} (the sandbox has no file, process, network or code-loading functions)",
            first_line(&text)
        )),
        _ if text.contains("stack overflow") => {
            SandboxError::Runtime("calls nested too deeply (stack overflow)".to_owned())
        }
        _ => SandboxError::Runtime(first_line(&text).to_owned()),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// Runs `script` with the match and arguments in scope; returns what it returns, as
/// JSON.
pub fn run(
    script: &Script,
    monitor_match: &Value,
    args: &[String],
    limits: &Limits,
) -> Result<Value, SandboxError> {
    let lua = interpreter(limits)?;
    let started = Instant::now();
    let spent = Arc::new(AtomicU64::new(0));
    let (budget, timeout) = (limits.max_instructions, limits.timeout);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(CHECK_EVERY),
        move |_, _| {
            let used = spent.fetch_add(u64::from(CHECK_EVERY), Ordering::Relaxed);
            if used >= budget {
                return Err(mlua::Error::RuntimeError(TOO_MANY.to_owned()));
            }
            if started.elapsed() > timeout {
                return Err(mlua::Error::RuntimeError(TIMED_OUT.to_owned()));
            }
            Ok(VmState::Continue)
        },
    );
    let args_value = Value::from(args.to_vec());
    let input = serde_json::json!({"monitor_match": monitor_match, "args": args_value});
    let set = |name: &str, v: &Value| -> Result<(), SandboxError> {
        let value = lua.to_value(v).map_err(|e| classify(&e, limits))?;
        lua.globals()
            .set(name, value)
            .map_err(|e| classify(&e, limits))
    };
    set("monitor_match", monitor_match)?;
    set("args", &args_value)?;
    set("input", &input)?;
    let out: LuaValue = lua
        .load(&*script.source)
        .set_name("script")
        .set_mode(mlua::ChunkMode::Text)
        .eval()
        .map_err(|e| classify(&e, limits))?;
    match out {
        LuaValue::Nil => Ok(Value::Null),
        LuaValue::Boolean(b) => Ok(Value::Bool(b)),
        other => lua
            .from_value::<Value>(other)
            .map_err(|e| SandboxError::Runtime(e.to_string())),
    }
}

/// Runs a trigger condition: `Ok(true)` drops the match.
pub fn condition(
    script: &Script,
    monitor_match: &Value,
    args: &[String],
    limits: &Limits,
) -> Result<bool, SandboxError> {
    match run(script, monitor_match, args, limits)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Err(SandboxError::NotBool("nil".to_owned())),
        Value::Number(_) => Err(SandboxError::NotBool("a number".to_owned())),
        Value::String(_) => Err(SandboxError::NotBool("a string".to_owned())),
        _ => Err(SandboxError::NotBool("a table".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"EVM": {"monitor": {"name": "m"}, "transaction": {"value": "5000", "hash": "0xab"},
            "matched_on_args": {"events": [{"signature": "Transfer(address,address,uint256)",
                "args": [{"name": "value", "value": "5000", "kind": "uint256", "indexed": false}]}]}}})
    }

    fn quick() -> Limits {
        Limits {
            timeout: Duration::from_millis(300),
            ..Limits::default()
        }
    }

    #[test]
    fn conditions_see_the_match_and_the_arguments() {
        let s = compile(
            r#"
            local v = tonumber(monitor_match.EVM.matched_on_args.events[1].args[1].value)
            print("checking", v)
            return v < tonumber(args[1])
            "#,
        )
        .unwrap();
        assert_eq!(
            condition(&s, &sample(), &["10000".into()], &quick()),
            Ok(true)
        );
        assert_eq!(
            condition(&s, &sample(), &["100".into()], &quick()),
            Ok(false)
        );
        let whole = compile(
            "return #input.args == 1 and input.monitor_match.EVM.transaction.hash == '0xab'",
        )
        .unwrap();
        assert_eq!(
            condition(&whole, &sample(), &["x".into()], &quick()),
            Ok(true)
        );
    }

    #[test]
    fn an_endless_loop_is_stopped() {
        let s = compile("while true do end").unwrap();
        let err = condition(&s, &sample(), &[], &quick()).unwrap_err();
        assert!(
            matches!(
                err,
                SandboxError::TooManyInstructions(_) | SandboxError::Timeout(_)
            ),
            "{err}"
        );
        // With an unlimited instruction budget the wall clock stops it.
        let limits = Limits {
            max_instructions: u64::MAX,
            timeout: Duration::from_millis(100),
            ..Limits::default()
        };
        let started = Instant::now();
        assert_eq!(
            condition(&s, &sample(), &[], &limits),
            Err(SandboxError::Timeout(Duration::from_millis(100)))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // A loop inside a library call (string.rep) is bounded by memory instead.
        let s = compile("local s = string.rep('x', 1 << 40) return true").unwrap();
        assert!(condition(&s, &sample(), &[], &quick()).is_err());
    }

    #[test]
    fn unbounded_allocation_is_refused() {
        for source in [
            "local s = 'x' while true do s = s .. s end",
            "local t = {} local i = 0 while true do i = i + 1 t[i] = i end",
            "local t = {} while true do t = {t, t, {}} end",
            "local function f(n) return f(n + 1) + 1 end return f(0)",
        ] {
            let s = compile(source).unwrap();
            let err = run(&s, &sample(), &[], &quick()).unwrap_err();
            assert!(
                matches!(
                    err,
                    SandboxError::OutOfMemory(_)
                        | SandboxError::TooManyInstructions(_)
                        | SandboxError::Timeout(_)
                        | SandboxError::Runtime(_)
                ),
                "{source}: {err}"
            );
        }
        let s = compile("local s = 'x' while true do s = s .. s end").unwrap();
        assert_eq!(
            run(&s, &sample(), &[], &quick()),
            Err(SandboxError::OutOfMemory(16 * 1024 * 1024))
        );
    }

    #[test]
    fn files_processes_and_code_loading_are_not_available() {
        for source in [
            "return io.open('/etc/passwd')",
            "return os.execute('id')",
            "return dofile('/etc/passwd')",
            "return loadfile('/etc/passwd')",
            "return load('return 1')()",
            "return require('socket')",
            "return package.loadlib('libc.so.6', 'system')",
            "return debug.getinfo(1)",
            "return collectgarbage('count')",
            "return string.match('aaaa', 'a-b')",
            "return ('x'):gsub('x', 'y')",
        ] {
            let s = compile(source).unwrap();
            let err = run(&s, &sample(), &[], &quick()).unwrap_err();
            assert!(
                matches!(err, SandboxError::NotAllowed(_) | SandboxError::Runtime(_)),
                "{source}: {err}"
            );
        }
        let err = run(
            &compile("return os.execute('id')").unwrap(),
            &sample(),
            &[],
            &quick(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("index a nil value"), "{err}");
        let err = run(
            &compile("return dofile('/etc/passwd')").unwrap(),
            &sample(),
            &[],
            &quick(),
        )
        .unwrap_err();
        assert!(matches!(err, SandboxError::NotAllowed(_)), "{err}");
    }

    #[test]
    fn pattern_matching_cannot_run_away() {
        // The classic backtracking bomb is plain text here: found or not, at once.
        let s = compile(
            "return string.find(string.rep('a', 10000), string.rep('a-', 40) .. 'b') == nil",
        )
        .unwrap();
        let started = Instant::now();
        assert_eq!(condition(&s, &sample(), &[], &quick()), Ok(true));
        assert!(started.elapsed() < Duration::from_secs(2));
        let s = compile("return ('hello world'):find('o w') == 5").unwrap();
        assert_eq!(condition(&s, &sample(), &[], &quick()), Ok(true));
    }

    #[test]
    fn errors_are_clear() {
        assert_eq!(
            compile("local x = \n = 1"),
            Err(SandboxError::Syntax {
                line: 2,
                message: "unexpected symbol near '='".into()
            })
        );
        let s = compile("return 42").unwrap();
        assert_eq!(
            condition(&s, &sample(), &[], &quick()),
            Err(SandboxError::NotBool("a number".into()))
        );
        let s = compile("error('nope')").unwrap();
        assert!(
            matches!(condition(&s, &sample(), &[], &quick()), Err(SandboxError::Runtime(m)) if m.contains("nope"))
        );
        assert_eq!(
            compile(&"x = 1\n".repeat(20_000)).unwrap_err(),
            SandboxError::TooLong
        );
    }
}
