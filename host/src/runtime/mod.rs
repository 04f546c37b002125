//! Running calls: a fresh, limited store and instance per call, and the three ways into a guest.
//!
//! * **RPC**: components exporting `fdo:function/rpc` get `call(method, params)`.
//! * **Typed exports**: any other exported function is called by name with JSON params
//!   ([`typed`] documents the mapping).
//! * **HTTP**: components exporting `wasi:http/incoming-handler` get the request as is.
//! * **Commands**: WASI command modules (and components exporting `wasi:cli/run`) run `_start`
//!   with the request on stdin and answer on stdout, as RPC or CGI ([`command`]).
//!
//! Every call is admitted by two semaphores (the function's `maxConcurrency` and the host-wide
//! instance cap); a call that cannot get both within the queue timeout fails as
//! [`InvokeError::Busy`]. Inside, the store carries the function's memory limit and an epoch
//! deadline: the guest yields to the executor every tick, so a spinning guest cannot starve its
//! neighbours, and is interrupted when its time is up.

pub mod command;
pub mod outbound;
pub mod state;
pub mod typed;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, Val};
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::engine::EngineHandle;
use crate::validate::AllowedHost;
pub use outbound::OutboundPolicy;
pub use command::cgi::CgiRequest;
pub use state::{CallOutput, CallState, GuestLog, LogLevel, OutputLimit};
use typed::TypedExports;

/// Default memory limit of one instance, in MiB.
pub const DEFAULT_MEMORY_MB: u32 = 128;
/// Default time a call may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default number of instances of one function running at once.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 64;
/// Default time an excess call waits for a free instance slot before it is refused as busy.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_millis(2000);
/// Extra time past the epoch deadline before a call blocked in a host call (a sleep, an
/// outbound request) is abandoned: the epoch only interrupts running wasm.
const HOST_CALL_GRACE: Duration = Duration::from_millis(100);

#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "fdo:function/function",
        exports: { default: async },
    });
}

pub use bindings::exports::fdo::function::rpc::CallError as GuestCallError;

impl bindings::fdo::function::log::Host for CallState {
    fn log(&mut self, level: bindings::fdo::function::log::Level, message: String) {
        use bindings::fdo::function::log::Level;
        let level = match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        self.push_log(level, message);
    }
}

/// The resource limits of one function's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory cap per instance, MiB.
    pub memory_mb: u32,
    /// Wall-clock time a call may take.
    pub timeout: Duration,
    /// Instances of this function running at once.
    pub max_concurrency: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mb: DEFAULT_MEMORY_MB,
            timeout: DEFAULT_TIMEOUT,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

/// Who is being called and under which rules.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The function id (keys the concurrency limit).
    pub function_id: Arc<str>,
    /// Environment variables, secrets included.
    pub env: Arc<Vec<(String, String)>>,
    /// The function's limits.
    pub limits: Limits,
    /// The outbound allow-list.
    pub allowed_hosts: Arc<Vec<AllowedHost>>,
}

/// How a component is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    /// Exports `fdo:function/rpc`.
    Rpc,
    /// Exports `wasi:http/incoming-handler`.
    Http,
    /// Exports plain functions.
    Typed,
    /// A WASI command: a preview1 module with `_start` (wrapped at compile time), or a
    /// component exporting `wasi:cli/run`.
    Command,
}

impl ComponentKind {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Rpc => "rpc",
            ComponentKind::Http => "http",
            ComponentKind::Typed => "typed",
            ComponentKind::Command => "command",
        }
    }
}

/// A compiled component, pre-instantiated against the host's linker: what a call needs.
pub struct LoadedComponent {
    /// sha256 of the component's bytes, hex.
    pub digest: String,
    /// Size of the compiled code in bytes (the memory cache's weight).
    pub compiled_bytes: usize,
    component: Component,
    pre: InstancePre<CallState>,
    rpc: Option<bindings::FunctionPre<CallState>>,
    http: Option<ProxyPre<CallState>>,
    command: Option<command::Command>,
    typed: TypedExports,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("digest", &self.digest)
            .field("kind", &self.kind())
            .field("compiled_bytes", &self.compiled_bytes)
            .finish_non_exhaustive()
    }
}

impl LoadedComponent {
    /// Pre-instantiates `component` against `linker`: fails when it imports something the host
    /// does not provide, or exports nothing callable.
    pub fn prepare(
        linker: &Linker<CallState>,
        digest: String,
        component: Component,
    ) -> Result<Self, PrepareError> {
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        let rpc = bindings::FunctionPre::new(pre.clone()).ok();
        let http = ProxyPre::new(pre.clone()).ok();
        let command = command::Command::discover(&pre);
        let typed = TypedExports::discover(linker.engine(), &component);
        if rpc.is_none() && http.is_none() && command.is_none() && typed.is_empty() {
            return Err(PrepareError::NothingCallable);
        }
        let range = component.image_range();
        let compiled_bytes = (range.end as usize).saturating_sub(range.start as usize);
        Ok(Self {
            digest,
            compiled_bytes,
            component,
            pre,
            rpc,
            http,
            command,
            typed,
        })
    }

    /// How this component is called.
    pub fn kind(&self) -> ComponentKind {
        if self.http.is_some() {
            ComponentKind::Http
        } else if self.rpc.is_some() {
            ComponentKind::Rpc
        } else if self.command.is_some() {
            ComponentKind::Command
        } else {
            ComponentKind::Typed
        }
    }

    /// The typed exports (empty for pure RPC or HTTP components; for a command, its
    /// `wasi:cli/run`, which is not called by name).
    pub fn typed_exports(&self) -> &TypedExports {
        &self.typed
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }
}

/// Why a compiled component cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// It imports something fdo does not provide (or with an incompatible type).
    #[error("component cannot be linked: {0}")]
    Link(String),
    /// It exports neither `fdo:function/rpc`, nor `wasi:http/incoming-handler`, nor functions.
    #[error(
        "component exports nothing callable: export fdo:function/rpc, wasi:http/incoming-handler or plain functions"
    )]
    NothingCallable,
}

/// Why a call failed. Each is a distinct, stable kind ([`InvokeError::kind`]).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum InvokeError {
    /// No method by that name.
    #[error("unknown method `{method}`{}", available_hint(.available))]
    UnknownMethod {
        /// What was asked for.
        method: String,
        /// What exists (for typed components).
        available: Vec<String>,
    },
    /// The params do not fit the method.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The request does not fit the component (an RPC body for an HTTP-only component...).
    #[error("{0}")]
    NotCallable(String),
    /// The guest ran and reported a failure.
    #[error("function failed: {0}")]
    Failed(String),
    /// The guest trapped (a panic, an unreachable, a bad memory access...).
    #[error("guest trapped: {0}")]
    Trap(String),
    /// The guest ran past its timeout and was stopped.
    #[error("function timed out after {0} ms")]
    Timeout(u64),
    /// The guest needed more memory than its limit.
    #[error("function exceeded its memory limit of {0} MB")]
    MemoryLimit(u32),
    /// The guest overflowed its stack.
    #[error("function overflowed its stack")]
    StackOverflow,
    /// No instance slot became free within the queue timeout.
    #[error("function busy: {0}")]
    Busy(String),
    /// Instantiation failed for another reason.
    #[error("could not instantiate the function: {0}")]
    Instantiate(String),
    /// A command exited with a status other than 0.
    #[error(
        "the command exited with status {status}{}{}",
        if .stderr.is_empty() { " and wrote nothing to stderr".to_owned() } else { format!(": {}", .stderr) },
        if *.memory_limit_hit { " (it ran into its memory limit)" } else { "" }
    )]
    Exited {
        /// The exit status.
        status: u32,
        /// The last line it wrote to stderr.
        stderr: String,
        /// Whether it had been refused memory before (a likely cause).
        memory_limit_hit: bool,
    },
    /// A command wrote more than its answer may hold.
    #[error("{0}")]
    OutputLimit(OutputLimit),
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        String::new()
    } else {
        format!(" (available: {})", available.join(", "))
    }
}

impl InvokeError {
    /// A stable, kebab-case name for logs, metrics and the API's error context.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::UnknownMethod { .. } => "unknown-method",
            InvokeError::InvalidParams(_) => "invalid-params",
            InvokeError::NotCallable(_) => "not-callable",
            InvokeError::Failed(_) => "failed",
            InvokeError::Trap(_) => "trap",
            InvokeError::Timeout(_) => "timeout",
            InvokeError::MemoryLimit(_) => "memory-limit",
            InvokeError::StackOverflow => "stack-overflow",
            InvokeError::Busy(_) => "busy",
            InvokeError::Instantiate(_) => "instantiate",
            InvokeError::Exited { .. } => "exit",
            InvokeError::OutputLimit(_) => "output-limit",
        }
    }

    /// Whether the caller's request was at fault (and the answer is a 4xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            InvokeError::UnknownMethod { .. }
                | InvokeError::InvalidParams(_)
                | InvokeError::NotCallable(_)
        )
    }
}

/// The result of one call with what the guest said and how long it took.
#[derive(Debug)]
pub struct CallOutcome<T> {
    /// The call's result.
    pub result: Result<T, InvokeError>,
    /// Logs, stdout and stderr of the call (and outbound denials, as warnings).
    pub output: CallOutput,
    /// Time from admission to the end of the call.
    pub elapsed: Duration,
}

/// An HTTP call in progress: the response (its body may still be streaming from the guest)
/// and a future that completes with the call's outcome when the guest is done.
pub struct HttpCall {
    /// The guest's response, or why there is none.
    pub response: Result<http::Response<HyperOutgoingBody>, InvokeError>,
    /// Completes when the guest finished (to record logs and metrics).
    pub completion: Pin<Box<dyn Future<Output = CallOutcome<()>> + Send>>,
}

/// Runs calls. One per host; cheap to share behind an `Arc`.
pub struct Runtime {
    engine: EngineHandle,
    linker: Arc<Linker<CallState>>,
    /// Host-wide instance cap: never more instances than the pooling allocator holds, so a
    /// burst waits here instead of failing inside wasmtime.
    instances: Arc<Semaphore>,
    /// Per-function caps, keyed by function id, with the limit they were created for.
    functions: DashMap<Arc<str>, (u32, Arc<Semaphore>), crate::FastHash>,
    queue_timeout: Duration,
    in_flight: Arc<AtomicU64>,
}

impl Runtime {
    /// A runtime on `engine` whose excess calls wait up to `queue_timeout`.
    pub fn new(engine: EngineHandle, queue_timeout: Duration) -> anyhow::Result<Self> {
        let linker = Arc::new(build_linker(&engine)?);
        let cap = engine.config().max_instances as usize;
        Ok(Self {
            engine,
            linker,
            instances: Arc::new(Semaphore::new(cap)),
            functions: DashMap::default(),
            queue_timeout,
            in_flight: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &EngineHandle {
        &self.engine
    }

    /// The linker every component is pre-instantiated against.
    pub fn linker(&self) -> &Linker<CallState> {
        &self.linker
    }

    /// Instances running right now.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Calls `method` with `params` (JSON text): through `fdo:function/rpc` when the component
    /// exports it (the text is passed as is), otherwise the typed export of that name. The
    /// result is the guest's JSON, validated.
    pub async fn call(
        &self,
        component: &LoadedComponent,
        spec: &CallSpec,
        method: &str,
        params: &RawValue,
    ) -> CallOutcome<Box<RawValue>> {
        let started = Instant::now();
        let plan = match self.plan(component, method, params) {
            Ok(plan) => plan,
            Err(e) => {
                return CallOutcome {
                    result: Err(e),
                    output: CallOutput::default(),
                    elapsed: started.elapsed(),
                };
            }
        };
        let permits = match self.admit(spec).await {
            Ok(p) => p,
            Err(e) => {
                return CallOutcome {
                    result: Err(e),
                    output: CallOutput::default(),
                    elapsed: started.elapsed(),
                };
            }
        };
        let _guard = InFlight::new(&self.in_flight, &self.engine);
        let is_command = matches!(plan, Plan::Command(_));
        let mut store = match &plan {
            Plan::Command(_) => self.new_command_store(
                spec,
                &command::rpc_env(&spec.env, method),
                command::rpc_stdin(method, params),
            ),
            _ => self.new_store(spec),
        };
        let deadline = spec.limits.timeout + HOST_CALL_GRACE;
        let run = tokio::time::timeout(deadline, run_plan(&mut store, component, plan, method));
        let result = match run.await {
            Ok(Ok(r)) => r,
            Ok(Err(err)) => Err(classify(err, &store, spec)),
            Err(_) => Err(InvokeError::Timeout(millis(spec.limits.timeout))),
        };
        drop(permits);
        if is_command {
            // A command's stdout is its answer (taken by then when it succeeded), never logs.
            drop(store.data().stdout.take_bytes());
        }
        let output = finish_output(&mut store);
        CallOutcome {
            result,
            output,
            elapsed: started.elapsed(),
        }
    }

    /// Passes an HTTP request to a `wasi:http` component. `request`'s URI is what the guest
    /// sees (the server strips the function prefix).
    pub async fn handle_http(
        &self,
        component: Arc<LoadedComponent>,
        spec: &CallSpec,
        request: http::Request<HyperIncomingBody>,
    ) -> HttpCall {
        let started = Instant::now();
        let fail = |e: InvokeError| HttpCall {
            response: Err(e.clone()),
            completion: Box::pin(std::future::ready(CallOutcome {
                result: Err(e),
                output: CallOutput::default(),
                elapsed: started.elapsed(),
            })),
        };
        let Some(proxy) = component.http.clone() else {
            return fail(InvokeError::NotCallable(
                "this function does not handle HTTP requests; send {\"method\", \"params\"}".into(),
            ));
        };
        let permits = match self.admit(spec).await {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let mut store = self.new_store(spec);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let prepared = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .and_then(|req| Ok((req, store.data_mut().http().new_response_outparam(tx)?)));
        let (req, out) = match prepared {
            Ok(x) => x,
            Err(e) => return fail(InvokeError::Instantiate(format!("{e:#}"))),
        };
        let spec = spec.clone();
        let counter = InFlight::new(&self.in_flight, &self.engine);
        let task = tokio::spawn(async move {
            let _permits = permits;
            let _counter = counter;
            let deadline = spec.limits.timeout + HOST_CALL_GRACE;
            let run = async {
                let proxy = proxy.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            let result = match tokio::time::timeout(deadline, run).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(classify(err, &store, &spec)),
                Err(_) => Err(InvokeError::Timeout(millis(spec.limits.timeout))),
            };
            let output = finish_output(&mut store);
            CallOutcome {
                result,
                output,
                elapsed: started.elapsed(),
            }
        });
        match rx.await {
            Ok(Ok(response)) => HttpCall {
                response: Ok(response),
                completion: Box::pin(async move { join_outcome(task.await, started) }),
            },
            Ok(Err(code)) => {
                let e =
                    InvokeError::Failed(format!("the handler answered with an error: {code:?}"));
                HttpCall {
                    response: Err(e),
                    completion: Box::pin(async move { join_outcome(task.await, started) }),
                }
            }
            Err(_) => {
                // The guest never set a response: its outcome says why.
                let mut outcome = join_outcome(task.await, started);
                if outcome.result.is_ok() {
                    outcome.result = Err(InvokeError::Failed(
                        "the handler returned without sending a response".into(),
                    ));
                }
                let response = Err(outcome
                    .result
                    .clone()
                    .err()
                    .unwrap_or(InvokeError::Failed(String::new())));
                HttpCall {
                    response,
                    completion: Box::pin(std::future::ready(outcome)),
                }
            }
        }
    }

    fn plan<'p>(
        &self,
        component: &LoadedComponent,
        method: &str,
        params: &'p RawValue,
    ) -> Result<Plan<'p>, InvokeError> {
        if component.rpc.is_some() {
            return Ok(Plan::Rpc(params.get()));
        }
        if component.kind() == ComponentKind::Command
            && let Some(command) = &component.command
        {
            return Ok(Plan::Command(command.clone()));
        }
        if let Some(func) = component.typed.get(method) {
            let params: Value = serde_json::from_str(params.get()).map_err(|e| {
                InvokeError::InvalidParams(format!("params are not valid JSON: {e}"))
            })?;
            let args = typed::params_to_vals(func, &params).map_err(InvokeError::InvalidParams)?;
            return Ok(Plan::Typed {
                index: func.index,
                args,
                has_result: func.result.is_some(),
            });
        }
        if component.http.is_some() && component.typed.is_empty() {
            return Err(InvokeError::NotCallable(
                "this function is an HTTP handler: send it a plain HTTP request instead of {\"method\", \"params\"}".into(),
            ));
        }
        Err(InvokeError::UnknownMethod {
            method: method.to_owned(),
            available: component.typed.iter().map(|f| f.name.clone()).collect(),
        })
    }

    async fn admit(&self, spec: &CallSpec) -> Result<[OwnedSemaphorePermit; 2], InvokeError> {
        let per_function = self.function_semaphore(spec);
        let wait = async {
            let f = per_function.acquire_owned().await;
            let g = self.instances.clone().acquire_owned().await;
            match (f, g) {
                (Ok(f), Ok(g)) => Some([f, g]),
                _ => None,
            }
        };
        match tokio::time::timeout(self.queue_timeout, wait).await {
            Ok(Some(permits)) => Ok(permits),
            Ok(None) => Err(InvokeError::Busy("the host is shutting down".into())),
            Err(_) => Err(InvokeError::Busy(format!(
                "no instance slot became free within {} ms (maxConcurrency {} for this function, {} host-wide)",
                millis(self.queue_timeout),
                spec.limits.max_concurrency,
                self.engine.config().max_instances
            ))),
        }
    }

    fn function_semaphore(&self, spec: &CallSpec) -> Arc<Semaphore> {
        let limit = spec.limits.max_concurrency.max(1);
        if let Some(entry) = self.functions.get(&spec.function_id)
            && entry.0 == limit
        {
            return entry.1.clone();
        }
        // Under the entry's lock: concurrent first calls must share one semaphore, or each
        // would get its own and together exceed the limit.
        let mut entry = self
            .functions
            .entry(spec.function_id.clone())
            .or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
        if entry.0 != limit {
            // A new version with another limit: calls still running on the old semaphore
            // finish there; new calls count against the new limit.
            *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
        }
        entry.1.clone()
    }

    /// Forgets a function's concurrency state (after it is deleted).
    pub fn forget(&self, function_id: &str) {
        self.functions.remove(function_id);
    }

    fn new_store(&self, spec: &CallSpec) -> Store<CallState> {
        let state = CallState::new(
            &spec.env,
            memory_bytes(spec),
            OutboundPolicy::new(spec.allowed_hosts.clone()),
        );
        self.limited_store(spec, state)
    }

    /// A store for one run of a command: `env` is its whole environment, `stdin` all it reads.
    fn new_command_store(
        &self,
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
        self.limited_store(spec, state)
    }

    fn limited_store(&self, spec: &CallSpec, state: CallState) -> Store<CallState> {
        let mut store = Store::new(self.engine.engine(), state);
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
}

enum Plan<'p> {
    Rpc(&'p str),
    Command(command::Command),
    Typed {
        index: wasmtime::component::ComponentExportIndex,
        args: Vec<Val>,
        has_result: bool,
    },
}

async fn run_plan(
    store: &mut Store<CallState>,
    component: &LoadedComponent,
    plan: Plan<'_>,
    method: &str,
) -> wasmtime::Result<Result<Box<RawValue>, InvokeError>> {
    match plan {
        Plan::Rpc(params) => {
            let Some(rpc) = &component.rpc else {
                return Ok(Err(InvokeError::NotCallable("no rpc export".into())));
            };
            let instance = rpc.instantiate_async(&mut *store).await?;
            let answer = instance
                .fdo_function_rpc()
                .call_call(&mut *store, method, params)
                .await?;
            Ok(match answer {
                Ok(text) => RawValue::from_string(text).map_err(|e| {
                    InvokeError::Failed(format!("the function returned invalid JSON: {e}"))
                }),
                Err(GuestCallError::UnknownMethod(m)) => Err(InvokeError::UnknownMethod {
                    method: if m.is_empty() { method.into() } else { m },
                    available: vec![],
                }),
                Err(GuestCallError::InvalidParams(m)) => Err(InvokeError::InvalidParams(m)),
                Err(GuestCallError::Failed(m)) => Err(InvokeError::Failed(m)),
            })
        }
        Plan::Command(command) => Ok(match command.run(&mut *store).await? {
            Ok(()) => command::rpc_result(store.data().stdout.take_bytes()),
            Err(failed) => Err(failed),
        }),
        Plan::Typed {
            index,
            args,
            has_result,
        } => {
            let instance = component.pre.instantiate_async(&mut *store).await?;
            let Some(func) = instance.get_func(&mut *store, index) else {
                return Ok(Err(InvokeError::NotCallable(format!(
                    "export `{method}` is not a function"
                ))));
            };
            let mut results = vec![Val::Bool(false); usize::from(has_result)];
            func.call_async(&mut *store, &args, &mut results).await?;
            let value = typed::result_to_json(results.first());
            Ok(serde_json::value::to_raw_value(&value).map_err(|e| {
                InvokeError::Failed(format!("the result cannot be written as JSON: {e}"))
            }))
        }
    }
}

/// Sorts a wasmtime error into the call's error kinds.
fn classify(err: wasmtime::Error, store: &Store<CallState>, spec: &CallSpec) -> InvokeError {
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

fn finish_output(store: &mut Store<CallState>) -> CallOutput {
    let state = store.data_mut();
    let denials = std::mem::take(&mut state.outbound.denials);
    for d in denials {
        state.push_log(LogLevel::Warn, d);
    }
    state.take_output()
}

fn join_outcome(
    joined: Result<CallOutcome<()>, tokio::task::JoinError>,
    started: Instant,
) -> CallOutcome<()> {
    joined.unwrap_or_else(|e| CallOutcome {
        result: Err(InvokeError::Trap(format!("the call's task failed: {e}"))),
        output: CallOutput::default(),
        elapsed: started.elapsed(),
    })
}

fn memory_bytes(spec: &CallSpec) -> usize {
    (spec.limits.memory_mb as usize).saturating_mul(1 << 20)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Counts an instance in flight for as long as it lives, and keeps the engine's epoch ticker
/// (its deadline and yields) running meanwhile.
struct InFlight {
    counter: Arc<AtomicU64>,
    _running: crate::engine::Running,
}

impl InFlight {
    fn new(counter: &Arc<AtomicU64>, engine: &EngineHandle) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self {
            counter: counter.clone(),
            _running: engine.running(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The linker every component is pre-instantiated against: WASI 0.2 (no preopened
/// directories, no sockets: the context grants none), `wasi:http` (outbound through the
/// allow-list) and fdo's log interface.
fn build_linker(engine: &EngineHandle) -> anyhow::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine.engine());
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::fdo::function::log::add_to_linker::<CallState, HasSelf<CallState>>(
        &mut linker,
        |s| s,
    )?;
    // What a WASI command's renamed `proc_exit` calls (`loader::command`): ends the call with
    // the exit status, which `command::Command::run` reads back.
    linker
        .instance(crate::loader::command::EXIT_INTERFACE)?
        .func_wrap(
            crate::loader::command::EXIT_FUNCTION,
            |_, (status,): (u32,)| -> wasmtime::Result<()> {
                Err(crate::loader::command::CommandExit(status).into())
            },
        )?;
    Ok(linker)
}
