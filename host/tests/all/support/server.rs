//! A real fdo server on an ephemeral port, with a client that speaks to it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use fdo::app::App;
use fdo::config::ServeConfig;
use fdo::server::ratelimit::ManualClock;
use serde_json::{Value, json};

pub use super::KEY;

/// A running server. Dropping it stops the server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub app: Arc<fdo::server::AppState>,
    /// The compiled-code cache of the host.
    pub loader: Arc<fdo::loader::Loader>,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    pub data_dir: PathBuf,
}

pub fn config(data_dir: &Path) -> ServeConfig {
    let mut c = ServeConfig::for_data_dir(data_dir);
    c.api_key = Some(KEY.into());
    c.max_instances = 16;
    c
}

impl TestServer {
    /// A server on a fresh temporary data directory, rate limits off.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = config(dir.path());
        c.no_rate_limit = true;
        let mut s = Self::start_with(c).await;
        s._dir = Some(dir);
        s
    }

    /// A server with `config`.
    pub async fn start_with(config: ServeConfig) -> Self {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let data_dir = config.data_dir.clone();
        let app = App::open_with_clock(config, clock.clone())
            .await
            .expect("app builds");
        let state = app.state().clone();
        let loader = app.loader().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            clock,
            app: state,
            loader,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: None,
            data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and waits for it (logs flushed).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .header("x-api-key", KEY)
            .send()
            .await
            .expect("request");
        decode(r).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .header("x-api-key", KEY)
            .send()
            .await
            .expect("request");
        decode(r).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .header("x-api-key", KEY)
            .json(body)
            .send()
            .await
            .expect("request");
        decode(r).await
    }

    /// Deploys `wasm` as `id@version` (JSON, base64) with `extra` fields merged in.
    pub async fn deploy(&self, id: &str, version: &str, wasm: &[u8], extra: Value) -> (u16, Value) {
        let mut body = json!({
            "id": id,
            "version": version,
            "language": "rust",
            "entryPoint": "src/lib.rs",
            "dependencies": {},
            "code": base64::engine::general_purpose::STANDARD.encode(wasm),
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.post("/v1/api/functions", &body).await
    }

    pub async fn invoke(&self, id: &str, method: &str, params: Value) -> (u16, Value) {
        self.post(
            &format!("/v1/functions/{id}"),
            &json!({ "method": method, "params": params }),
        )
        .await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn decode(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Compares `actual` with `tests/golden/NAME.json`; `FDO_BLESS=1` rewrites the file.
pub fn golden(name: &str, actual: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("FDO_BLESS").is_some() {
        std::fs::write(&path, &pretty).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {} (run with FDO_BLESS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        pretty, expected,
        "golden file {name} differs (FDO_BLESS=1 rewrites it)"
    );
}
