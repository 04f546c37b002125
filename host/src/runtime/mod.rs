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

mod admission;
mod bindings;
pub mod command;
mod component;
mod errors;
mod limits;
mod linker;
pub mod outbound;
mod plan;
pub mod state;
mod store;
pub mod typed;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use wasmtime::component::Linker;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::engine::EngineHandle;
use admission::Admission;
pub use admission::DEFAULT_QUEUE_TIMEOUT;
pub use bindings::GuestCallError;
pub use command::cgi::CgiRequest;
pub use component::{ComponentKind, LoadedComponent};
pub use errors::{InvokeError, PrepareError};
pub use limits::{
    CallLimits, CallSpec, DEFAULT_MAX_CONCURRENCY, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT,
};
pub use outbound::OutboundPolicy;
pub use state::{CallOutput, CallState, GuestLog, OutputLimit};

/// Extra time past the epoch deadline before a call blocked in a host call (a sleep, an
/// outbound request) is abandoned: the epoch only interrupts running wasm.
const HOST_CALL_GRACE: Duration = Duration::from_millis(100);

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
    admission: Admission,
}

impl Runtime {
    /// A runtime on `engine` whose excess calls wait up to `queue_timeout`.
    pub fn new(engine: EngineHandle, queue_timeout: Duration) -> anyhow::Result<Self> {
        let linker = Arc::new(linker::build_linker(&engine)?);
        let admission = Admission::new(engine.config().max_instances, queue_timeout);
        Ok(Self {
            engine,
            linker,
            admission,
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
        self.admission.in_flight()
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
        let plan = match plan::plan(component, method, params) {
            Ok(plan) => plan,
            Err(e) => {
                return CallOutcome {
                    result: Err(e),
                    output: CallOutput::default(),
                    elapsed: started.elapsed(),
                };
            }
        };
        let permits = match self.admission.admit(spec).await {
            Ok(p) => p,
            Err(e) => {
                return CallOutcome {
                    result: Err(e),
                    output: CallOutput::default(),
                    elapsed: started.elapsed(),
                };
            }
        };
        let _guard = self.admission.in_flight_guard(&self.engine);
        let is_command = matches!(plan, plan::Plan::Command(_));
        let mut store = match &plan {
            plan::Plan::Command(_) => store::new_command_store(
                &self.engine,
                spec,
                &command::rpc_env(&spec.env, method),
                command::rpc_stdin(method, params),
            ),
            _ => store::new_store(&self.engine, spec),
        };
        let deadline = spec.limits.timeout + HOST_CALL_GRACE;
        let run = tokio::time::timeout(
            deadline,
            plan::run_plan(&mut store, component, plan, method),
        );
        let result = match run.await {
            Ok(Ok(r)) => r,
            Ok(Err(err)) => Err(store::classify(err, &store, spec)),
            Err(_) => Err(InvokeError::Timeout(millis(spec.limits.timeout))),
        };
        drop(permits);
        if is_command {
            // A command's stdout is its answer (taken by then when it succeeded), never logs.
            drop(store.data().stdout.take_bytes());
        }
        let output = store::finish_output(&mut store);
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
        let permits = match self.admission.admit(spec).await {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let mut store = store::new_store(&self.engine, spec);
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
        let counter = self.admission.in_flight_guard(&self.engine);
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
                Ok(Err(err)) => Err(store::classify(err, &store, &spec)),
                Err(_) => Err(InvokeError::Timeout(millis(spec.limits.timeout))),
            };
            let output = store::finish_output(&mut store);
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

    /// Forgets a function's concurrency state (after it is deleted).
    pub fn forget(&self, function_id: &str) {
        self.admission.forget(function_id);
    }
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
