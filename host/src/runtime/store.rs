//! One call's store: the function's memory limit and epoch deadline, WASI with its env and
//! captured stdio, and the outbound policy; what the guest said, and why a call failed.

use std::time::Instant;

use wasmtime::{Store, Trap, UpdateDeadline};

use super::state::{CallOutput, CallState, OutputLimit};
use super::{CallSpec, InvokeError, OutboundPolicy, command, millis};
use crate::engine::EngineHandle;
use crate::model::LogLevel;

/// A fresh store for one call of `spec`: its memory limit, and an epoch deadline that yields
/// to the executor every tick and interrupts the guest when its time is up.
pub(super) fn new_store(engine: &EngineHandle, spec: &CallSpec) -> Store<CallState> {
    let state = CallState::new(
        &spec.env,
        memory_bytes(spec),
        OutboundPolicy::new(spec.allowed_hosts.clone()),
    );
    limited_store(engine, spec, state)
}

/// A store for one run of a command: `env` is its whole environment, `stdin` all it reads.
pub(super) fn new_command_store(
    engine: &EngineHandle,
    spec: &CallSpec,
    env: &[(String, String)],
    stdin: bytes::Bytes,
) -> Store<CallState> {
    let state = CallState::command(
        env,
        memory_bytes(spec),
        OutboundPolicy::new(spec.allowed_hosts.clone()),
        stdin,
        command::MAX_COMMAND_OUTPUT,
    );
    limited_store(engine, spec, state)
}

fn limited_store(engine: &EngineHandle, spec: &CallSpec, state: CallState) -> Store<CallState> {
    let mut store = Store::new(engine.engine(), state);
    store.limiter(|s| &mut s.limiter);
    let deadline = Instant::now() + spec.limits.timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Ok(UpdateDeadline::Interrupt)
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Sorts a wasmtime error into the call's error kinds.
pub(super) fn classify(
    err: wasmtime::Error,
    store: &Store<CallState>,
    spec: &CallSpec,
) -> InvokeError {
    let state = store.data();
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        // `std::process::exit` (WASI `exit`): the guest ended the call without an answer.
        return InvokeError::Failed(format!(
            "the function exited (status {}) instead of returning a result",
            exit.0
        ));
    }
    if let Some(limit) = err.downcast_ref::<OutputLimit>() {
        return InvokeError::OutputLimit(*limit);
    }
    let trap = err.downcast_ref::<Trap>().copied();
    match trap {
        Some(Trap::Interrupt) => InvokeError::Timeout(millis(spec.limits.timeout)),
        Some(Trap::StackOverflow) => InvokeError::StackOverflow,
        _ if state.limiter.hit => InvokeError::MemoryLimit(spec.limits.memory_mb),
        Some(trap) => {
            let mut message = trap.to_string();
            let stderr = state.stderr.tail_for_error();
            if !stderr.is_empty() {
                message.push_str("; stderr: ");
                message.push_str(&stderr);
            }
            InvokeError::Trap(message)
        }
        None => InvokeError::Trap(format!("{err:#}")),
    }
}

pub(super) fn finish_output(store: &mut Store<CallState>) -> CallOutput {
    let state = store.data_mut();
    let denials = std::mem::take(&mut state.outbound.denials);
    for d in denials {
        state.push_log(LogLevel::Warn, d);
    }
    state.take_output()
}

pub(super) fn memory_bytes(spec: &CallSpec) -> usize {
    (spec.limits.memory_mb as usize).saturating_mul(1 << 20)
}
