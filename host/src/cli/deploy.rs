//! `fdo deploy`: one component file with its metadata as flags, or every function of a
//! project manifest. The component goes up as `multipart/form-data` (a `metadata` JSON part
//! and a `component` file part), with a progress line for large files. Metadata is checked
//! with the host's own rules before anything is uploaded.

use std::path::{Path, PathBuf};

use clap::Args;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Map, Value, json};

use super::manifest::{self, DEFAULT_MANIFEST, FunctionSpec};
use super::{CliError, Client, ClientOpts, output, progress};

/// Language given to a component deployed without `--language`.
pub const DEFAULT_LANGUAGE: &str = "rust";

/// Arguments of `fdo deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,

    /// A component file (`.wasm`), or a project manifest (`.toml`). Default: `./fdo.toml`.
    pub path: Option<PathBuf>,

    /// Function id (component files; default: the file name without `.wasm`).
    #[arg(long)]
    pub id: Option<String>,
    /// Version, semver (required for a component file).
    #[arg(long)]
    pub version: Option<String>,
    /// Source language: typescript, javascript, rust, python, go, zig, assemblyscript, csharp.
    #[arg(long)]
    pub language: Option<String>,
    /// Entry point recorded with the version (default: the component's file name).
    #[arg(long)]
    pub entry_point: Option<String>,
    /// A dependency, `NAME=RANGE` (repeatable).
    #[arg(long = "dependency", value_name = "NAME=RANGE")]
    pub dependencies: Vec<String>,
    /// An environment variable, `K=V` (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// A secret, `K=V`, or `K` alone to take the value from this shell's environment
    /// (repeatable; write-only: never shown again).
    #[arg(long = "secret", value_name = "K[=V]")]
    pub secrets: Vec<String>,
    /// Memory limit of one instance, in MiB (default 128).
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Time limit of one call, in ms (default 5000).
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Calls running at once for this function (default 64).
    #[arg(long)]
    pub max_concurrency: Option<u64>,
    /// A host the function may call out to, e.g. `api.example.com` or `*.example.com:443`
    /// (repeatable).
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// How a WASI command module is called: `rpc` (JSON on stdin, the result on stdout; the
    /// default) or `http` (a CGI handler on the function's routes).
    #[arg(long, value_name = "rpc|http")]
    pub interface: Option<String>,
    /// The function's namespace (it must exist; `default` for a new function without it).
    #[arg(long)]
    pub namespace: Option<String>,
    /// `public` (anyone may call it) or `private` (calls need a key or token; the default).
    #[arg(long)]
    pub privacy: Option<crate::model::access::Privacy>,

    /// With a manifest: deploy only this function (repeatable).
    #[arg(long = "function", value_name = "ID")]
    pub only: Vec<String>,
}

impl DeployArgs {
    fn has_component_flags(&self) -> bool {
        self.id.is_some()
            || self.version.is_some()
            || self.language.is_some()
            || self.entry_point.is_some()
            || !self.dependencies.is_empty()
            || !self.env.is_empty()
            || !self.secrets.is_empty()
            || self.namespace.is_some()
            || self.privacy.is_some()
            || self.memory_mb.is_some()
            || self.timeout_ms.is_some()
            || self.max_concurrency.is_some()
            || !self.allowed_hosts.is_empty()
            || self.interface.is_some()
    }
}

/// Runs `fdo deploy`.
pub async fn run(args: DeployArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MANIFEST));
    let is_manifest = path.extension().is_some_and(|e| e == "toml");
    if !is_manifest {
        if !args.only.is_empty() {
            return Err(CliError::usage(
                "--function selects functions of a manifest; this is a component file",
            ));
        }
        let spec = component_spec(&args, &path)?;
        let answer = deploy_one(&client, &spec).await?;
        if args.client.json {
            output::print_json(&answer);
        } else {
            print_deployed(&answer);
        }
        return Ok(());
    }
    if args.has_component_flags() {
        return Err(CliError::usage(format!(
            "{} is a manifest: set id, version, env, limits... in it (the flags are for component files)",
            path.display()
        )));
    }
    let mut specs = manifest::load(&path).map_err(|e| CliError::usage(e.to_string()))?;
    if !args.only.is_empty() {
        if let Some(unknown) = args
            .only
            .iter()
            .find(|id| !specs.iter().any(|s| &&s.id == id))
        {
            return Err(CliError::usage(format!(
                "{} has no function {unknown:?}",
                path.display()
            )));
        }
        specs.retain(|s| args.only.contains(&s.id));
    }
    // Check everything before the first upload, so a typo in the last function does not leave
    // the project half deployed.
    for spec in &specs {
        check(spec)?;
    }
    // The namespaces first: the functions may be deployed into them.
    let namespaces =
        manifest::load_namespaces(&path).map_err(|e| CliError::usage(e.to_string()))?;
    for ns in &namespaces {
        let created = super::access::ensure_namespace(&client, ns).await?;
        if !args.client.json {
            outln!(
                "{} namespace {}",
                if created { "created" } else { "updated" },
                ns.name
            );
        }
    }
    let mut answers = Vec::new();
    for spec in &specs {
        let answer = deploy_one(&client, spec).await?;
        if !args.client.json {
            print_deployed(&answer);
        }
        answers.push(answer);
    }
    if args.client.json {
        output::print_json(&Value::Array(answers));
    }
    Ok(())
}

/// The function a component file and the flags describe.
fn component_spec(args: &DeployArgs, path: &Path) -> Result<FunctionSpec, CliError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = match &args.id {
        Some(id) => id.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().replace('_', "-"))
            .ok_or_else(|| CliError::usage("give the function an id with --id"))?,
    };
    let version = args.version.clone().ok_or_else(|| {
        CliError::usage(
            "--version is required when deploying a component file (versions are immutable)",
        )
    })?;
    let mut metadata = json!({
        "id": id,
        "version": version,
        "language": args.language.as_deref().unwrap_or(DEFAULT_LANGUAGE),
        "entryPoint": args.entry_point.clone().unwrap_or(file_name),
        "dependencies": key_values("--dependency", &args.dependencies, None)?,
    });
    if !args.env.is_empty() {
        metadata["env"] = Value::Object(key_values("--env", &args.env, None)?);
    }
    if !args.secrets.is_empty() {
        let from_env = |k: &str| std::env::var(k).ok();
        metadata["secrets"] =
            Value::Object(key_values("--secret", &args.secrets, Some(&from_env))?);
    }
    if !args.allowed_hosts.is_empty() {
        metadata["allowedHosts"] = json!(args.allowed_hosts);
    }
    if let Some(interface) = &args.interface {
        metadata["interface"] = json!(interface);
    }
    if let Some(ns) = &args.namespace {
        metadata["namespace"] = json!(ns);
    }
    if let Some(privacy) = args.privacy {
        metadata["privacy"] = json!(privacy);
    }
    let mut limits = Map::new();
    for (k, v) in [
        ("memoryMb", args.memory_mb),
        ("timeoutMs", args.timeout_ms),
        ("maxConcurrency", args.max_concurrency),
    ] {
        if let Some(v) = v {
            limits.insert(k.into(), json!(v));
        }
    }
    if !limits.is_empty() {
        metadata["limits"] = Value::Object(limits);
    }
    let spec = FunctionSpec {
        id,
        component: path.to_owned(),
        metadata,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        build: None,
        call: None,
    };
    check(&spec)?;
    Ok(spec)
}

/// Looks a variable up by name.
pub(super) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `K=V` items as an object; a bare `K` is looked up with `fallback` when given.
pub(super) fn key_values(
    flag: &str,
    items: &[String],
    fallback: Option<Lookup<'_>>,
) -> Result<Map<String, Value>, CliError> {
    let mut out = Map::new();
    for item in items {
        let (k, v) = match (item.split_once('='), fallback) {
            (Some((k, v)), _) => (k.to_owned(), v.to_owned()),
            (None, Some(lookup)) => {
                let v = lookup(item).ok_or_else(|| {
                    CliError::usage(format!(
                        "{flag} {item}: no value given and ${item} is not set"
                    ))
                })?;
                (item.clone(), v)
            }
            (None, None) => return Err(CliError::usage(format!("{flag} {item:?}: expected K=V"))),
        };
        if k.is_empty() {
            return Err(CliError::usage(format!(
                "{flag} {item:?}: the name is empty"
            )));
        }
        out.insert(k, Value::String(v));
    }
    Ok(out)
}

/// The host's own validation of the metadata, and a readable component file.
fn check(spec: &FunctionSpec) -> Result<(), CliError> {
    crate::model::parse_deploy_metadata(&spec.metadata).map_err(|e| {
        CliError::usage(format!("function {}: {} ({})", spec.id, e.message, e.field))
    })?;
    let meta = std::fs::metadata(&spec.component).map_err(|e| {
        CliError::usage(format!(
            "function {}: cannot read {}: {e}",
            spec.id,
            spec.component.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(CliError::usage(format!(
            "function {}: {} is not a file",
            spec.id,
            spec.component.display()
        )));
    }
    Ok(())
}

/// Uploads one function; the host's answer.
pub async fn deploy_one(client: &Client, spec: &FunctionSpec) -> Result<Value, CliError> {
    let bytes = tokio::fs::read(&spec.component)
        .await
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", spec.component.display())))?;
    let len = bytes.len() as u64;
    let file_name = spec
        .component
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "component.wasm".into());
    let label = format!("uploading {} ({})", spec.id, file_name);
    let component = Part::stream_with_length(progress::body(bytes, &label), len)
        .file_name(file_name)
        .mime_str("application/wasm")
        .map_err(|e| CliError::Other(e.into()))?;
    let metadata = Part::text(spec.metadata.to_string())
        .mime_str("application/json")
        .map_err(|e| CliError::Other(e.into()))?;
    let form = Form::new()
        .part("metadata", metadata)
        .part("component", component);
    client
        .json(
            client
                .request(Method::POST, "/v1/api/functions")
                .multipart(form),
        )
        .await
}

fn print_deployed(answer: &Value) {
    let id = output::text(answer.get("id"));
    let version = output::text(answer.get("version"));
    let kind = output::text(answer.get("kind"));
    if answer.get("created") == Some(&Value::Bool(false)) {
        outln!("{id} {version}: unchanged (this version is already deployed with the same code)");
        return;
    }
    let load = match (
        answer.get("fromCache").and_then(Value::as_bool),
        answer.get("loadTimeMs").and_then(Value::as_f64),
    ) {
        (Some(true), _) => ", code already compiled".to_owned(),
        (_, Some(ms)) => format!(", compiled in {ms:.0} ms"),
        _ => String::new(),
    };
    outln!("{id} {version}: deployed ({kind}{load})");
    if answer.get("degraded") == Some(&Value::Bool(true)) {
        outln!(
            "  degraded: {}",
            output::text(answer.get("degradationReason"))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_take_pairs_and_environment() {
        let lookup = |k: &str| (k == "HOME_TOKEN").then(|| "t0k".to_owned());
        let m = key_values(
            "--secret",
            &["A=1=2".into(), "HOME_TOKEN".into()],
            Some(&lookup),
        )
        .unwrap();
        assert_eq!(Value::Object(m), json!({"A": "1=2", "HOME_TOKEN": "t0k"}));
        assert!(key_values("--env", &["NOVALUE".into()], None).is_err());
        assert!(key_values("--secret", &["MISSING".into()], Some(&lookup)).is_err());
        assert!(key_values("--env", &["=x".into()], None).is_err());
    }
}
