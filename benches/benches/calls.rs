//! A fresh instance per call, measured: instantiate + call of an RPC hello (`rpc-basic`
//! `greet`, written with `wit-bindgen` alone, so built with the preview1 adapter; and the
//! `hello` example's `main`, written with `fdo-sdk`, so without it), a typed export
//! (`typed-exports` `add`) and a `wasi:http` hello (`http-hello` `GET /`, response body read to
//! the end), through [`fdo::runtime::Runtime`] exactly as the server calls it (admission
//! semaphores, limits, epoch deadline, output capture).
//!
//! `cargo bench -p fdo-benches --bench calls`.
//!
//! Each kind runs on one thread (a current-thread tokio runtime, one call at a time: the
//! latency of a call) and as 1, 2 and 4 concurrent tasks on a multi-thread runtime with one
//! worker per core (throughput: criterion's time per iteration is wall time divided by calls,
//! and it prints calls per second). A last group compares the pooling allocator with on-demand
//! allocation for the RPC call. Components are compiled and loaded before timing starts.
//!
//! The `cpu/*` groups repeat the one-thread benches measuring the benchmarking thread's own
//! CPU time instead of wall time (see `common`): on a busy shared machine they are the figures
//! to compare between runs.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::ThreadCpuTime;
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fdo::engine::EngineConfig;
use fdo::runtime::{CallSpec, LoadedComponent, Runtime};
use fdo_benches::{Core, drain, http_get, spec, test_guests};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// Concurrent tasks of the multi-thread variants.
const TASKS: &[u64] = &[1, 2, 4];

/// What a call does.
#[derive(Clone)]
enum Kind {
    /// `Runtime::call` with a method and JSON params.
    Call {
        method: &'static str,
        params: Box<RawValue>,
        expect: Value,
    },
    /// `Runtime::handle_http` with a `GET` of this path.
    Http {
        path: &'static str,
        expect: &'static [u8],
    },
}

/// One call, checked (a call that failed would make a fast and meaningless benchmark).
async fn call_once(
    runtime: &Runtime,
    component: &Arc<LoadedComponent>,
    spec: &CallSpec,
    kind: &Kind,
) {
    match kind {
        Kind::Call {
            method,
            params,
            expect,
        } => {
            let outcome = runtime.call(component, spec, method, params).await;
            let raw = outcome.result.expect("call succeeds");
            let value: Value = serde_json::from_str(raw.get()).expect("the result is JSON");
            assert_eq!(&value, expect);
            black_box(value);
        }
        Kind::Http { path, expect } => {
            let request = http_get(path).expect("request");
            let mut call = runtime.handle_http(component.clone(), spec, request).await;
            let response = call.response.expect("response");
            let body = drain(response).await.expect("body");
            assert_eq!(body.as_ref(), *expect);
            let completion =
                std::mem::replace(&mut call.completion, Box::pin(std::future::pending()));
            completion.await.result.expect("handler finished");
        }
    }
}

/// `value` as the JSON text a call receives.
fn raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).expect("JSON")
}

/// The guests and the call each one gets.
fn cases() -> Vec<(&'static str, &'static str, Kind)> {
    vec![
        (
            "rpc_greet",
            test_guests::RPC_BASIC,
            Kind::Call {
                method: "greet",
                params: raw(&json!(["world"])),
                expect: json!("Hello, world!"),
            },
        ),
        (
            "rpc_hello_sdk",
            test_guests::HELLO,
            Kind::Call {
                method: "main",
                params: raw(&json!({"name": "world"})),
                expect: json!({"body": "Hello world!"}),
            },
        ),
        (
            "typed_add",
            test_guests::TYPED_EXPORTS,
            Kind::Call {
                method: "add",
                params: raw(&json!([1, 2])),
                expect: json!(3),
            },
        ),
        (
            "http_hello",
            test_guests::HTTP_HELLO,
            Kind::Http {
                path: "/",
                expect: b"hello from wasi:http",
            },
        ),
    ]
}

/// `tasks` tasks sharing `iters` calls on `rt`; returns the wall time of all of them.
fn concurrent(
    rt: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    component: &Arc<LoadedComponent>,
    spec: &Arc<CallSpec>,
    kind: &Kind,
    tasks: u64,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let started = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                // Spread the remainder so exactly `iters` calls are made.
                let n = iters / tasks + u64::from(t < iters % tasks);
                let (runtime, component, spec, kind) = (
                    runtime.clone(),
                    component.clone(),
                    spec.clone(),
                    kind.clone(),
                );
                tokio::spawn(async move {
                    for _ in 0..n {
                        call_once(&runtime, &component, &spec, &kind).await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("bench task");
        }
        started.elapsed()
    })
}

fn calls(c: &mut Criterion) {
    let setup_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let core = Core::new().expect("core");
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    for (name, path, kind) in cases() {
        let component = setup_rt.block_on(core.deploy_guest(path)).expect("deploy");
        let spec = Arc::new(spec(name));
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        one_thread(
            &mut group,
            "current_thread",
            &single,
            &core,
            &component,
            &spec,
            &kind,
        );
        for &tasks in TASKS {
            group.bench_with_input(BenchmarkId::new("tasks", tasks), &tasks, |b, &tasks| {
                b.iter_custom(|iters| {
                    concurrent(
                        &multi,
                        &core.runtime,
                        &component,
                        &spec,
                        &kind,
                        tasks,
                        iters,
                    )
                })
            });
        }
        group.finish();
    }
}

/// The RPC call on an engine without the pooling allocator (mmap per instance), next to the
/// pooled one above.
fn on_demand(c: &mut Criterion) {
    let setup_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let core = Core::with(EngineConfig {
        pooling: false,
        ..EngineConfig::default()
    })
    .expect("core");
    let (name, path, kind) = cases().swap_remove(0);
    let component = setup_rt.block_on(core.deploy_guest(path)).expect("deploy");
    let spec = Arc::new(spec(name));
    let mut group = c.benchmark_group("rpc_greet_on_demand");
    group.throughput(Throughput::Elements(1));
    one_thread(
        &mut group,
        "current_thread",
        &single,
        &core,
        &component,
        &spec,
        &kind,
    );
    group.finish();
}

/// The one-thread benches of every guest, on the pooling and the on-demand engine, measured
/// in thread CPU time.
fn cpu_time(c: &mut Criterion<ThreadCpuTime>) {
    let setup_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let pooled = Core::new().expect("core");
    let on_demand = Core::with(EngineConfig {
        pooling: false,
        ..EngineConfig::default()
    })
    .expect("core");
    for (name, path, kind) in cases() {
        let spec = Arc::new(spec(name));
        let mut group = c.benchmark_group(format!("cpu/{name}"));
        group.throughput(Throughput::Elements(1));
        for (label, core) in [
            ("current_thread", &pooled),
            ("current_thread_on_demand", &on_demand),
        ] {
            let component = setup_rt.block_on(core.deploy_guest(path)).expect("deploy");
            one_thread(&mut group, label, &single, core, &component, &spec, &kind);
        }
        group.finish();
    }
}

/// One call at a time on `single` (a current-thread runtime), as benchmark `label`.
fn one_thread<M: Measurement>(
    group: &mut criterion::BenchmarkGroup<'_, M>,
    label: &str,
    single: &tokio::runtime::Runtime,
    core: &Core,
    component: &Arc<LoadedComponent>,
    spec: &Arc<CallSpec>,
    kind: &Kind,
) {
    // One checked call first: a broken guest fails here, not halfway through a sample.
    single.block_on(call_once(&core.runtime, component, spec, kind));
    group.bench_function(label, |b| {
        b.to_async(single)
            .iter(|| call_once(&core.runtime, component, spec, kind))
    });
}

criterion_group!(wall, calls, on_demand);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = cpu_time
}
criterion_main!(wall, cpu);
