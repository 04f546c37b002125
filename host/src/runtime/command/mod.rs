//! Calls of WASI commands ([`ComponentKind::Command`](super::ComponentKind::Command)): core
//! modules with `_start` that the loader wrapped with the preview1 command adapter
//! ([`crate::loader::command`]), and components exporting `wasi:cli/run`.
//!
//! A command gets its request on stdin and answers on stdout, in one of two forms chosen at
//! deploy ([`Interface`](crate::model::Interface)):
//!
//! * **RPC** (the default): stdin is `{"method", "params"}` as JSON, the environment has the
//!   function's env and secrets plus `FDO_METHOD`; stdout is the result: JSON when it parses as
//!   JSON, otherwise a string (one trailing newline dropped), `null` when empty.
//! * **CGI** (`"interface": "http"`): the HTTP request as WAGI passes it (CGI 1.1 variables and
//!   `HTTP_*` headers in the environment, the body on stdin); stdout is headers, a blank line and
//!   the body, with `Status:` setting the status ([`cgi`]).
//!
//! Either way the command runs `_start` once in a fresh instance, with no arguments and no
//! preopened directories. Exit status 0 (or returning from `_start`) is success; any other
//! status fails the call with [`InvokeError::Exited`], which carries the status and the last
//! line the command wrote to stderr. stdout is kept in memory up to [`MAX_COMMAND_OUTPUT`]
//! bytes; a write past that fails the call ([`InvokeError::OutputLimit`]) instead of growing.
//! stderr goes to the function's logs like every guest's.
//!
//! The I/O of a call is plain bytes at both ends ([`Bytes`] in, `Vec<u8>` out), so the
//! buffering can be changed without touching dispatch.

pub mod cgi;

use std::time::Instant;

use bytes::Bytes;
use serde_json::value::RawValue;
use wasmtime::Store;
use wasmtime::component::InstancePre;
use wasmtime_wasi::p2::bindings::CommandPre;

use super::store::{classify, finish_output, new_command_store};
use super::{
    CallOutcome, CallOutput, CallSpec, CallState, HOST_CALL_GRACE, InvokeError, LoadedComponent,
    Runtime, millis,
};
use cgi::CgiRequest;

/// The interface the renamed `proc_exit` import comes from: the loader renames the import to
/// it, the runtime's linker implements it.
pub const EXIT_INTERFACE: &str = "fdo:command/exit@0.1.0";

/// The function of [`EXIT_INTERFACE`].
pub const EXIT_FUNCTION: &str = "exit";

/// A command ended its call through `proc_exit` (C's `exit`, a non-zero return from `main`,
/// Zig's `std.process.exit`, ...). Status 0 is a success like returning from `_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the command exited with status {0}")]
pub struct CommandExit(pub u32);

/// Most bytes a command may write to stdout in one call (its answer is held in memory).
pub const MAX_COMMAND_OUTPUT: usize = 8 << 20;

/// The environment variable holding the called method.
pub const METHOD_VAR: &str = "FDO_METHOD";

/// A command, pre-instantiated: what a call needs.
#[derive(Clone)]
pub struct Command {
    pre: CommandPre<CallState>,
}

impl Command {
    /// The command of a component that exports `wasi:cli/run`, if it does.
    pub(super) fn discover(pre: &InstancePre<CallState>) -> Option<Self> {
        CommandPre::new(pre.clone()).ok().map(|pre| Self { pre })
    }

    /// Runs `_start` (`wasi:cli/run`) in a fresh instance in `store`. `Ok(Ok(()))` is a
    /// successful exit; `Ok(Err(..))` a failed one; `Err` a trap, for the caller to classify.
    pub(super) async fn run(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<(), InvokeError>> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        let ran = instance.wasi_cli_run().call_run(&mut *store).await;
        let status = match ran {
            Ok(Ok(())) => return Ok(Ok(())),
            // A component's `run` returning an error (a WASI 0.2 program's failed `main`).
            Ok(Err(())) => 1,
            Err(err) => match exit_status(&err) {
                Some(0) => return Ok(Ok(())),
                Some(status) => status,
                None => return Err(err),
            },
        };
        let state = store.data();
        Ok(Err(InvokeError::Exited {
            status,
            stderr: state.stderr.last_line(),
            memory_limit_hit: state.limiter.hit,
        }))
    }
}

impl Runtime {
    /// Passes an HTTP request to a command deployed with `"interface": "http"`, CGI-style
    /// ([`cgi`]). The response is whole: a command's output is read to its end first.
    pub async fn call_cgi(
        &self,
        component: &LoadedComponent,
        spec: &CallSpec,
        request: CgiRequest,
    ) -> CallOutcome<http::Response<Bytes>> {
        let started = Instant::now();
        let fail = |e: InvokeError| CallOutcome {
            result: Err(e),
            output: CallOutput::default(),
            elapsed: started.elapsed(),
        };
        let Some(command) = component.command.clone() else {
            return fail(InvokeError::NotCallable(
                "this function is not a WASI command, so it cannot be a CGI handler".into(),
            ));
        };
        let permits = match self.admission.admit(spec).await {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let _guard = self.admission.in_flight_guard(&self.engine);
        let env = cgi::environment(&request, &spec.env);
        let mut store = new_command_store(&self.engine, spec, &env, request.body);
        let deadline = spec.limits.timeout + HOST_CALL_GRACE;
        let ran = tokio::time::timeout(deadline, command.run(&mut store)).await;
        // stdout is the answer, whole; it never goes to the logs.
        let stdout = store.data().stdout.take_bytes();
        let result = match ran {
            Ok(Ok(Ok(()))) => cgi::response(stdout).map_err(InvokeError::Failed),
            Ok(Ok(Err(failed))) => Err(failed),
            Ok(Err(err)) => Err(classify(err, &store, spec)),
            Err(_) => Err(InvokeError::Timeout(millis(spec.limits.timeout))),
        };
        drop(permits);
        CallOutcome {
            result,
            output: finish_output(&mut store),
            elapsed: started.elapsed(),
        }
    }
}

/// The exit status of an error that is an exit: fdo's renamed `proc_exit`, or WASI's own
/// `exit` (which only knows success and failure).
fn exit_status(err: &wasmtime::Error) -> Option<u32> {
    if let Some(exit) = err.downcast_ref::<CommandExit>() {
        return Some(exit.0);
    }
    err.downcast_ref::<wasmtime_wasi::I32Exit>()
        .map(|exit| u32::try_from(exit.0).unwrap_or(1))
}

/// The environment of an RPC call: the function's, then `FDO_METHOD`.
pub(super) fn rpc_env(env: &[(String, String)], method: &str) -> Vec<(String, String)> {
    let mut all = Vec::with_capacity(env.len() + 1);
    all.extend(env.iter().filter(|(k, _)| k != METHOD_VAR).cloned());
    all.push((METHOD_VAR.to_owned(), method.to_owned()));
    all
}

/// What an RPC call writes to the command's stdin: `{"method": .., "params": ..}`.
pub(super) fn rpc_stdin(method: &str, params: &RawValue) -> Bytes {
    let method = serde_json::Value::String(method.to_owned()).to_string();
    let mut text = String::with_capacity(method.len() + params.get().len() + 24);
    text.push_str("{\"method\":");
    text.push_str(&method);
    text.push_str(",\"params\":");
    text.push_str(params.get());
    text.push('}');
    Bytes::from(text)
}

/// The result of an RPC call from the command's stdout: the JSON it wrote, or else its text as
/// a JSON string (without one trailing newline); `null` when it wrote nothing.
pub(super) fn rpc_result(stdout: Vec<u8>) -> Result<Box<RawValue>, InvokeError> {
    let text = match String::from_utf8(stdout) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    let trimmed = text.trim_ascii();
    if trimmed.is_empty() {
        return Ok(raw("null".into()));
    }
    if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
        return Ok(raw(trimmed.to_owned()));
    }
    let line = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    Ok(raw(serde_json::Value::String(line.to_owned()).to_string()))
}

fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("`null` is JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_is_json_when_it_parses_and_a_string_otherwise() {
        let cases: [(&[u8], &str); 7] = [
            (b"{\"a\": 1}\n", "{\"a\": 1}"),
            (b"  42 ", "42"),
            (b"\"quoted\"", "\"quoted\""),
            (b"plain text\n", "\"plain text\""),
            (b"two\nlines\r\n", "\"two\\nlines\""),
            (b"", "null"),
            (b"{\"a\": 1} trailing", "\"{\\\"a\\\": 1} trailing\""),
        ];
        for (stdout, json) in cases {
            assert_eq!(
                rpc_result(stdout.to_vec()).unwrap().get(),
                json,
                "{stdout:?}"
            );
        }
        let big = format!("\"{}\"", "x".repeat(1 << 20));
        assert_eq!(rpc_result(big.clone().into_bytes()).unwrap().get(), big);
        // Bytes that are not UTF-8 are replaced, not refused.
        assert_eq!(rpc_result(vec![b'a', 0xff]).unwrap().get(), "\"a\u{fffd}\"");
    }

    #[test]
    fn the_request_object_carries_method_and_params() {
        let params = RawValue::from_string("{\"name\": \"Ada\"}".into()).unwrap();
        let stdin = rpc_stdin("he\"llo", &params);
        let value: serde_json::Value = serde_json::from_slice(&stdin).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"method": "he\"llo", "params": {"name": "Ada"}})
        );
    }

    #[test]
    fn the_method_variable_cannot_be_overridden_by_env() {
        let env = vec![
            ("FDO_METHOD".to_owned(), "spoofed".to_owned()),
            ("A".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            rpc_env(&env, "hello"),
            [
                ("A".to_owned(), "1".to_owned()),
                ("FDO_METHOD".to_owned(), "hello".to_owned())
            ]
        );
    }
}
