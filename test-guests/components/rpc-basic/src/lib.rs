//! `rpc-basic`: a test guest for the `fdo:function/function` world.
//!
//! `call(method, params)` takes JSON text (an array for positional parameters or an object for
//! named ones) and answers with JSON text. Besides well-behaved methods it has deliberately
//! hostile ones, so the host's limits and error mapping can be tested against a real component:
//!
//! | method    | params                         | result                                          |
//! |-----------|--------------------------------|-------------------------------------------------|
//! | `echo`    | anything                       | the params, re-serialised                       |
//! | `add`     | `[a, b]` or `{"a", "b"}`       | `a + b` (integer if both are integers)          |
//! | `greet`   | `[name]` or `{"name"}`         | `"Hello, NAME!"`                                |
//! | `fail`    | anything                       | `call-error::failed("requested failure")`       |
//! | `panic`   | anything                       | a Rust panic, so a trap                         |
//! | `log`     | anything                       | logs at every level, one stdout and one stderr line, `"logged"` |
//! | `env`     | `[name]` or `{"name"}`         | the variable's value, or `null`                 |
//! | `spin`    | anything                       | never returns: an infinite loop                 |
//! | `alloc`   | `[mib]` or `{"mib"}`           | allocates and touches `mib` MiB, returns `mib`  |
//! | `recurse` | anything                       | unbounded recursion: a stack overflow           |
//! | `sleep`   | `[ms]` or `{"ms"}`             | sleeps through WASI clocks, returns `ms`        |
//!
//! Any other method is `unknown-method(name)`; params that are not JSON, or that do not fit the
//! method, are `invalid-params(reason)`.

use exports::fdo::function::rpc::{CallError, Guest};
use fdo::function::log::{Level, log};
use serde_json::Value;

wit_bindgen::generate!({
    path: "../../../wit",
    world: "fdo:function/function",
});

/// Largest allocation `alloc` accepts: a Rust allocation on wasm32 stays under 2 GiB.
const MAX_ALLOC_MIB: u64 = 2047;

/// Size of a WebAssembly page: `alloc` writes one byte into each.
const WASM_PAGE_SIZE: usize = 64 * 1024;

/// Longest sleep `sleep` accepts, so a typo cannot park an instance for days.
const MAX_SLEEP_MS: u64 = 60 * 60 * 1000;

/// The component: implements the exported `rpc` interface.
struct RpcBasic;

impl Guest for RpcBasic {
    fn call(method: String, params: String) -> Result<String, CallError> {
        let handler: fn(&Value) -> Result<Value, CallError> = match method.as_str() {
            "echo" => |p| Ok(p.clone()),
            "add" => add,
            "greet" => greet,
            "fail" => |_| Err(CallError::Failed("requested failure".to_string())),
            "panic" => |_| panic!("requested panic"),
            "log" => log_everywhere,
            "env" => env,
            "spin" => spin,
            "alloc" => alloc,
            "recurse" => |_| Ok(Value::from(recurse(0))),
            "sleep" => sleep,
            _ => return Err(CallError::UnknownMethod(method)),
        };
        let params: Value = serde_json::from_str(&params)
            .map_err(|e| CallError::InvalidParams(format!("params are not JSON: {e}")))?;
        let result = handler(&params)?;
        Ok(result.to_string())
    }
}

export!(RpcBasic);

/// Returns parameter `index` of a positional array, or `name` of an object.
fn param<'a>(params: &'a Value, index: usize, name: &str) -> Result<&'a Value, CallError> {
    let found = match params {
        Value::Array(items) => items.get(index),
        Value::Object(fields) => fields.get(name),
        _ => {
            return Err(CallError::InvalidParams(
                "params must be an array or an object".to_string(),
            ));
        }
    };
    found.ok_or_else(|| CallError::InvalidParams(format!("missing parameter `{name}`")))
}

/// Reads a non-negative integer parameter no larger than `max`.
fn u64_param(params: &Value, index: usize, name: &str, max: u64) -> Result<u64, CallError> {
    param(params, index, name)?
        .as_u64()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            CallError::InvalidParams(format!("`{name}` must be an integer from 0 to {max}"))
        })
}

/// Reads a string parameter.
fn str_param<'a>(params: &'a Value, index: usize, name: &str) -> Result<&'a str, CallError> {
    param(params, index, name)?
        .as_str()
        .ok_or_else(|| CallError::InvalidParams(format!("`{name}` must be a string")))
}

/// `add`: integer sum when both operands are integers (failing on overflow), float sum otherwise.
fn add(params: &Value) -> Result<Value, CallError> {
    let a = param(params, 0, "a")?;
    let b = param(params, 1, "b")?;
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x
            .checked_add(y)
            .map(Value::from)
            .ok_or_else(|| CallError::Failed(format!("{x} + {y} overflows a 64-bit integer")));
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => Ok(Value::from(x + y)),
        _ => Err(CallError::InvalidParams(
            "`a` and `b` must be numbers".to_string(),
        )),
    }
}

/// `greet`: `"Hello, NAME!"`.
fn greet(params: &Value) -> Result<Value, CallError> {
    let name = str_param(params, 0, "name")?;
    Ok(Value::from(format!("Hello, {name}!")))
}

/// `log`: one host log entry per level, one line on stdout, one on stderr.
fn log_everywhere(_: &Value) -> Result<Value, CallError> {
    for (level, name) in [
        (Level::Trace, "trace"),
        (Level::Debug, "debug"),
        (Level::Info, "info"),
        (Level::Warn, "warn"),
        (Level::Error, "error"),
    ] {
        log(level, &format!("rpc-basic {name} message"));
    }
    println!("rpc-basic stdout line");
    eprintln!("rpc-basic stderr line");
    Ok(Value::from("logged"))
}

/// `env`: the value of the named environment variable, or `null`.
fn env(params: &Value) -> Result<Value, CallError> {
    let name = str_param(params, 0, "name")?;
    Ok(std::env::var(name).map_or(Value::Null, Value::from))
}

/// `spin`: loops forever; only the host's deadline ends it.
fn spin(_: &Value) -> Result<Value, CallError> {
    let mut counter: u64 = 0;
    loop {
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}

/// `alloc`: allocates `mib` MiB and writes into every page so the memory is really used.
///
/// An allocation the host refuses aborts the guest (Rust's behaviour on out-of-memory), which
/// the host sees as a trap after its memory limit was hit.
fn alloc(params: &Value) -> Result<Value, CallError> {
    let mib = u64_param(params, 0, "mib", MAX_ALLOC_MIB)?;
    let bytes = usize::try_from(mib)
        .ok()
        .and_then(|m| m.checked_mul(1024 * 1024))
        .ok_or_else(|| CallError::InvalidParams(format!("{mib} MiB does not fit in memory")))?;
    let mut buffer = vec![0u8; bytes];
    for offset in (0..buffer.len()).step_by(WASM_PAGE_SIZE) {
        buffer[offset] = 1;
    }
    std::hint::black_box(&buffer);
    Ok(Value::from(mib))
}

/// `recurse`: recursion without end. The call is not in tail position and its result goes
/// through `black_box`, so the optimiser can turn it neither into a loop nor into nothing.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let below = recurse(std::hint::black_box(depth.wrapping_add(1)));
    std::hint::black_box(below).wrapping_add(depth)
}

/// `sleep`: sleeps `ms` milliseconds (WASI `poll_oneoff` on a clock).
fn sleep(params: &Value) -> Result<Value, CallError> {
    let ms = u64_param(params, 0, "ms", MAX_SLEEP_MS)?;
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Ok(Value::from(ms))
}
