//! What the host provides to guests: the linker every component is pre-instantiated against.

use wasmtime::component::{HasSelf, Linker};

use super::bindings;
use super::state::CallState;
use crate::engine::EngineHandle;
use crate::model::LogLevel;

/// The linker every component is pre-instantiated against: WASI 0.2 (no preopened
/// directories, no sockets: the context grants none), `wasi:http` (outbound through the
/// allow-list) and fdo's log interface.
pub(super) fn build_linker(engine: &EngineHandle) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine.engine());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::fdo::function::log::add_to_linker::<CallState, HasSelf<CallState>>(
        &mut linker,
        |s| s,
    )?;
    // What a WASI command's renamed `proc_exit` calls (`loader::command`): ends the call with
    // the exit status, which `command::Command::run` reads back.
    linker.instance(super::command::EXIT_INTERFACE)?.func_wrap(
        super::command::EXIT_FUNCTION,
        |_, (status,): (u32,)| -> wasmtime::Result<()> {
            Err(super::command::CommandExit(status).into())
        },
    )?;
    Ok(linker)
}

impl bindings::fdo::function::log::Host for CallState {
    fn log(&mut self, level: bindings::fdo::function::log::Level, message: String) {
        use bindings::fdo::function::log::Level;
        let level = match level {
            // One scale from guest to API: a trace line is kept as debug.
            Level::Trace | Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.push_log(level, message);
    }
}
