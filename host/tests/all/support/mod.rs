//! The one helpers module of the host's integration tests: a small engine, a runtime and a
//! loader on a temporary directory, and WAT components for hostile guests (here); a real server
//! on a port ([`server`]); the real `fdo` binary ([`process`]); a fake DigitalOcean API
//! ([`fake_digitalocean`]).
#![allow(dead_code, missing_docs)]

pub mod fake_digitalocean;
pub mod process;
pub mod server;

/// The admin key every test host accepts.
pub const KEY: &str = "test-admin-key-0123456789";

use std::sync::Arc;
use std::time::Duration;

use fdo::engine::{EngineConfig, EngineHandle};
use fdo::loader::{LoadResult, Loader};
use fdo::runtime::{CallLimits, CallOutcome, CallSpec, LoadedComponent, Runtime};

/// A host core on a temporary cache directory. The pool is kept small: tests run in
/// parallel and each engine reserves address space for its whole pool.
pub struct Core {
    pub runtime: Arc<Runtime>,
    pub loader: Loader,
    pub dir: tempfile::TempDir,
}

pub fn engine_config() -> EngineConfig {
    EngineConfig {
        max_instances: 16,
        ..EngineConfig::default()
    }
}

impl Core {
    pub fn new() -> Self {
        Self::with(engine_config(), Duration::from_secs(2))
    }

    pub fn with(config: EngineConfig, queue_timeout: Duration) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = EngineHandle::new(config).expect("engine");
        let runtime = Arc::new(Runtime::new(engine, queue_timeout).expect("runtime"));
        let loader = Loader::new(runtime.clone(), Some(&dir.path().join("cache")), 64 << 20);
        Self {
            runtime,
            loader,
            dir,
        }
    }

    /// Compiles `bytes` as a deploy would.
    pub async fn deploy(&self, bytes: Vec<u8>) -> LoadResult {
        self.loader
            .compile_new(Arc::new(bytes))
            .await
            .expect("component compiles")
    }
}

pub fn spec(id: &str, limits: CallLimits) -> CallSpec {
    CallSpec {
        function_id: id.into(),
        env: Arc::new(vec![("GREETING".into(), "hi".into())]),
        limits,
        allowed_hosts: Arc::new(vec![]),
    }
}

pub fn limits(memory_mb: u32, timeout_ms: u64, max_concurrency: u32) -> CallLimits {
    CallLimits {
        memory_mb,
        timeout: Duration::from_millis(timeout_ms),
        max_concurrency,
    }
}

/// A component exporting `run: func() -> u32` whose body is `body` (a core wasm function
/// body returning i32), in a core module with one page of memory.
pub fn wat_component(body: &str) -> Vec<u8> {
    let text = format!(
        r#"(component
  (core module $m
    (memory (export "memory") 1)
    (func $run (export "run") (result i32) {body})
  )
  (core instance $i (instantiate $m))
  (func (export "run") (result u32) (canon lift (core func $i "run")))
)"#
    );
    wat::parse_str(&text).expect("valid component text")
}

/// Loops forever.
pub fn spinner() -> Vec<u8> {
    wat_component("(loop $l (br $l)) (i32.const 0)")
}

/// Grows memory 1 MiB at a time until it fails, then traps.
pub fn memory_bomb() -> Vec<u8> {
    wat_component(
        "(loop $l (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable)) (br $l)) (i32.const 0)",
    )
}

/// Executes `unreachable`.
pub fn trapper() -> Vec<u8> {
    wat_component("unreachable")
}

/// Recurses without end.
pub fn recurser() -> Vec<u8> {
    wat_component("(call $run)")
}

/// Returns 42.
pub fn answer() -> Vec<u8> {
    wat_component("(i32.const 42)")
}

/// [`Runtime::call`] with params and result as `serde_json::Value` (the runtime passes JSON
/// text through untouched; tests compare values).
#[allow(async_fn_in_trait)]
pub trait CallJson {
    async fn call_json(
        &self,
        component: &LoadedComponent,
        spec: &CallSpec,
        method: &str,
        params: &serde_json::Value,
    ) -> CallOutcome<serde_json::Value>;
}

impl CallJson for Runtime {
    async fn call_json(
        &self,
        component: &LoadedComponent,
        spec: &CallSpec,
        method: &str,
        params: &serde_json::Value,
    ) -> CallOutcome<serde_json::Value> {
        let raw = serde_json::value::to_raw_value(params).expect("params serialize");
        let out = self.call(component, spec, method, &raw).await;
        CallOutcome {
            result: out
                .result
                .map(|r| serde_json::from_str(r.get()).expect("the runtime answers valid JSON")),
            output: out.output,
            elapsed: out.elapsed,
        }
    }
}

/// Calls `run` on a component built by [`answer`] and checks it answers 42.
pub async fn assert_answers_42(runtime: &Runtime, component: &LoadedComponent) {
    let out = runtime
        .call_json(
            component,
            &spec("answer", limits(64, 5000, 4)),
            "run",
            &serde_json::json!([]),
        )
        .await;
    assert_eq!(out.result, Ok(serde_json::json!(42)));
}

/// `examples/fdo.toml` as a project in a temporary directory, with the components the
/// `test-guests` build made where the manifest expects them (`build/ID.wasm`): what `fdo build`
/// in `examples/` would leave, without building again. Returns the directory and the manifest.
pub fn examples_project() -> (tempfile::TempDir, std::path::PathBuf) {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fdo.toml");
    let text = std::fs::read_to_string(&examples).expect("examples/fdo.toml");
    let project = tempfile::tempdir().expect("tempdir");
    let manifest = project.path().join("fdo.toml");
    std::fs::write(&manifest, &text).expect("write the manifest");
    let specs = fdo::cli::manifest::parse(&text, &manifest, &|_| None).expect("a valid manifest");
    for spec in &specs {
        // test-guests names a guest by its directory (`c-hello-http` is `c-hello` deployed as a
        // CGI handler).
        let guest = spec
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&spec.id);
        let (_, built) = test_guests::ALL
            .iter()
            .find(|(name, _)| *name == guest)
            .unwrap_or_else(|| panic!("test-guests builds {guest} (for {})", spec.id));
        std::fs::create_dir_all(spec.component.parent().expect("a directory")).expect("mkdir");
        std::fs::copy(built, &spec.component).expect("copy the component");
    }
    (project, manifest)
}
