//! The project manifest, `fdo.toml`: several functions with their component, metadata, env,
//! secrets, limits and allowed hosts, deployed together by `fdo deploy` (in the spirit of
//! DigitalOcean's `project.yml` and Spin's `spin.toml`).
//!
//! ```toml
//! [functions.hello]                 # the function id
//! version = "1.0.0"
//! component = "target/hello.wasm"   # relative to this file
//! language = "rust"
//! entryPoint = "src/lib.rs"         # optional: the component's file name by default
//! env = { GREETING = "Hello" }
//! secrets = { API_TOKEN = "${API_TOKEN}" }   # taken from the deployer's environment
//! allowedHosts = ["api.example.com"]
//! limits = { memoryMb = 64, timeoutMs = 2000, maxConcurrency = 16 }
//! # interface = "http"            # a WASI command as a CGI handler (default "rpc")
//! dir = "."                         # optional: the function's sources (`fdo build`, `fdo up --watch`)
//! build = "make wasm"               # optional: how `fdo build` builds it (default: by language)
//! call = { method = "hello", params = ["world"] }   # optional: the example call `fdo up` shows
//! ```
//!
//! `dir`, `build` and `call` are for the authoring commands and are not sent to the host:
//! `fdo build` writes each function's component to `component`, with the language's default
//! build (cargo for Rust, componentize-py for Python, componentize-js for JavaScript) or the
//! `build` command, run by `sh -c` in `dir` with `$FDO_COMPONENT` naming the file to write.
//! `build` is not expanded (the shell expands it). `call` is `{ method, params }` for RPC functions or `{ path, method, body }` for `wasi:http`
//! ones.
//!
//! Keys are the API's deploy fields (camelCase). Every string may reference environment
//! variables as `${NAME}` (`$$` is a literal `$`); an unset variable is an error, so a secret
//! is never deployed empty by mistake, unless a default is written out: `${NAME:-default}`
//! (`${NAME:-}` for empty).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The file `fdo deploy` reads when given no argument.
pub const DEFAULT_MANIFEST: &str = "fdo.toml";

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("invalid manifest {path}: {message}")]
    Parse {
        /// The manifest.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The manifest declares no function.
    #[error("manifest {0} declares no function: add a [functions.ID] table")]
    Empty(PathBuf),
    /// A `${NAME}` reference to an unset variable, or a malformed reference.
    #[error("function {function}, {field}: {message}")]
    Variable {
        /// The function.
        function: String,
        /// The field holding the reference.
        field: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    functions: BTreeMap<String, RawFunction>,
    #[serde(default)]
    namespaces: BTreeMap<String, RawNamespace>,
}

/// A `[namespaces.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawNamespace {
    description: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
}

/// A namespace a manifest declares (`[namespaces.NAME]`), with `${NAME}` expanded: created
/// when missing, else its description, env and secrets set, before the functions deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct NamespaceSpec {
    /// Its name.
    pub name: String,
    /// `description`, `env` and `secrets` as the API takes them (each only when given).
    pub body: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFunction {
    version: String,
    component: String,
    language: String,
    entry_point: Option<String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    limits: Option<RawLimits>,
    interface: Option<String>,
    namespace: Option<String>,
    privacy: Option<String>,
    dir: Option<String>,
    build: Option<String>,
    call: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawLimits {
    memory_mb: Option<u64>,
    timeout_ms: Option<u64>,
    max_concurrency: Option<u64>,
}

/// One function of a manifest, ready to deploy.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The function id.
    pub id: String,
    /// The component file.
    pub component: PathBuf,
    /// The deploy metadata as the API takes it (`id`, `version`, `language`, `entryPoint`,
    /// `dependencies`, and `env`, `secrets`, `allowedHosts`, `limits`, `interface` when given).
    pub metadata: Value,
    /// The function's source directory (`dir`, default: the manifest's directory).
    pub dir: PathBuf,
    /// The command that builds its component, when the manifest gives one.
    pub build: Option<String>,
    /// The example call (`call`), when given.
    pub call: Option<Value>,
}

impl FunctionSpec {
    /// The `language` field.
    pub fn language(&self) -> &str {
        self.metadata["language"].as_str().unwrap_or_default()
    }

    /// The `version` field.
    pub fn version(&self) -> &str {
        self.metadata["version"].as_str().unwrap_or_default()
    }
}

/// The namespaces the manifest at `path` declares, `${NAME}` expanded from the process
/// environment (none when it declares none).
pub fn load_namespaces(path: &Path) -> Result<Vec<NamespaceSpec>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_namespaces(&text, path, &|name| std::env::var(name).ok())
}

/// [`load_namespaces`] on manifest `text`.
pub fn parse_namespaces(
    text: &str,
    path: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<NamespaceSpec>, ManifestError> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    raw.namespaces
        .into_iter()
        .map(|(name, ns)| {
            let x = |field: &str, text: &str| {
                expand(text, var).map_err(|message| ManifestError::Variable {
                    function: format!("(namespace {name})"),
                    field: field.to_owned(),
                    message,
                })
            };
            let mut body = Map::new();
            if let Some(d) = &ns.description {
                body.insert("description".into(), Value::String(x("description", d)?));
            }
            for (field, map) in [("env", &ns.env), ("secrets", &ns.secrets)] {
                if !map.is_empty() {
                    let expanded = map
                        .iter()
                        .map(|(k, v)| {
                            Ok((k.clone(), Value::String(x(&format!("{field}.{k}"), v)?)))
                        })
                        .collect::<Result<Map<_, _>, ManifestError>>()?;
                    body.insert(field.into(), Value::Object(expanded));
                }
            }
            Ok(NamespaceSpec {
                name,
                body: Value::Object(body),
            })
        })
        .collect()
}

/// Reads the manifest at `path`, expanding `${NAME}` from the process environment.
pub fn load(path: &Path) -> Result<Vec<FunctionSpec>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, path, &|name| std::env::var(name).ok())
}

/// Parses manifest `text`; `path` anchors relative component paths and names the file in
/// errors; `var` looks variables up.
pub fn parse(
    text: &str,
    path: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<FunctionSpec>, ManifestError> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if raw.functions.is_empty() {
        return Err(ManifestError::Empty(path.to_owned()));
    }
    let base = path.parent().unwrap_or(Path::new(""));
    raw.functions
        .into_iter()
        .map(|(id, f)| spec(&id, f, base, var))
        .collect()
}

fn spec(
    id: &str,
    f: RawFunction,
    base: &Path,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<FunctionSpec, ManifestError> {
    let x = |field: &str, text: &str| {
        expand(text, var).map_err(|message| ManifestError::Variable {
            function: id.to_owned(),
            field: field.to_owned(),
            message,
        })
    };
    let map =
        |field: &str, m: &BTreeMap<String, String>| -> Result<Map<String, Value>, ManifestError> {
            m.iter()
                .map(|(k, v)| Ok((k.clone(), Value::String(x(&format!("{field}.{k}"), v)?))))
                .collect()
        };
    let component = PathBuf::from(x("component", &f.component)?);
    let component = if component.is_relative() {
        base.join(component)
    } else {
        component
    };
    let entry_point = match &f.entry_point {
        Some(e) => x("entryPoint", e)?,
        None => component
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut metadata = json!({
        "id": id,
        "version": x("version", &f.version)?,
        "language": x("language", &f.language)?,
        "entryPoint": entry_point,
        "dependencies": map("dependencies", &f.dependencies)?,
    });
    if !f.env.is_empty() {
        metadata["env"] = Value::Object(map("env", &f.env)?);
    }
    if !f.secrets.is_empty() {
        metadata["secrets"] = Value::Object(map("secrets", &f.secrets)?);
    }
    if !f.allowed_hosts.is_empty() {
        let hosts = f
            .allowed_hosts
            .iter()
            .map(|h| x("allowedHosts", h).map(Value::String))
            .collect::<Result<Vec<_>, _>>()?;
        metadata["allowedHosts"] = Value::Array(hosts);
    }
    if let Some(interface) = &f.interface {
        metadata["interface"] = Value::String(x("interface", interface)?);
    }
    if let Some(namespace) = &f.namespace {
        metadata["namespace"] = Value::String(x("namespace", namespace)?);
    }
    if let Some(privacy) = &f.privacy {
        metadata["privacy"] = Value::String(x("privacy", privacy)?);
    }
    if let Some(l) = f.limits {
        let mut limits = Map::new();
        for (k, v) in [
            ("memoryMb", l.memory_mb),
            ("timeoutMs", l.timeout_ms),
            ("maxConcurrency", l.max_concurrency),
        ] {
            if let Some(v) = v {
                limits.insert(k.into(), json!(v));
            }
        }
        metadata["limits"] = Value::Object(limits);
    }
    let dir = match &f.dir {
        Some(d) => base.join(x("dir", d)?),
        None if base.as_os_str().is_empty() => PathBuf::from("."),
        None => base.to_path_buf(),
    };
    // The shell expands `build` itself (`$FDO_COMPONENT`, the user's variables).
    let build = f.build;
    Ok(FunctionSpec {
        id: id.to_owned(),
        component,
        metadata,
        dir,
        build,
        call: f.call,
    })
}

/// Replaces each `${NAME}` in `text` by the variable's value, `${NAME:-default}` by the value
/// or else `default` (taken as written); `$$` is a literal `$`.
pub fn expand(text: &str, var: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(end) = inner.find('}') else {
                return Err(format!("unterminated ${{ in {text:?}"));
            };
            let (name, default) = match inner[..end].split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (&inner[..end], None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("invalid variable name {name:?} in {text:?}"));
            }
            let value = match (var(name), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d.to_owned(),
                (None, None) => return Err(format!("environment variable {name} is not set")),
            };
            out.push_str(&value);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cr3t-token".into()),
            "DIR" => Some("/opt/guests".into()),
            _ => None,
        }
    }

    #[test]
    fn a_full_function_becomes_deploy_metadata() {
        let text = r#"
            [functions.hello]
            version = "1.2.3"
            component = "build/hello.wasm"
            language = "rust"
            env = { GREETING = "Hi $$USER" }
            secrets = { API_TOKEN = "${TOKEN}" }
            allowedHosts = ["api.example.com"]
            limits = { memoryMb = 64, timeoutMs = 2000 }

            [functions.py]
            version = "0.1.0"
            component = "${DIR}/py.wasm"
            language = "python"
            entryPoint = "app.py"
            dependencies = { requests = "^2" }
        "#;
        let specs = parse(text, Path::new("/proj/fdo.toml"), &vars).unwrap();
        assert_eq!(specs.len(), 2);
        let hello = &specs[0];
        assert_eq!(hello.component, PathBuf::from("/proj/build/hello.wasm"));
        assert_eq!(
            hello.metadata,
            json!({
                "id": "hello", "version": "1.2.3", "language": "rust", "entryPoint": "hello.wasm",
                "dependencies": {}, "env": {"GREETING": "Hi $USER"}, "secrets": {"API_TOKEN": "s3cr3t-token"},
                "allowedHosts": ["api.example.com"], "limits": {"memoryMb": 64, "timeoutMs": 2000},
            })
        );
        assert_eq!(specs[1].component, PathBuf::from("/opt/guests/py.wasm"));
        assert_eq!(specs[1].metadata["entryPoint"], "app.py");
        assert_eq!(specs[1].metadata["dependencies"], json!({"requests": "^2"}));
        // The metadata passes the host's own validation.
        for s in &specs {
            crate::model::parse_deploy_metadata(&s.metadata).unwrap();
        }
    }

    #[test]
    fn unset_variables_and_bad_keys_are_errors() {
        let err = parse(
            "[functions.a]\nversion = \"1.0.0\"\ncomponent = \"a.wasm\"\nlanguage = \"rust\"\nsecrets = { K = \"${NOPE}\" }\n",
            Path::new("fdo.toml"),
            &vars,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "function a, secrets.K: environment variable NOPE is not set"
        );
        let err = parse("[functions.a]\nversion = \"1.0.0\"\ncomponent = \"a.wasm\"\nlanguage = \"rust\"\nentrypoint = \"x.rs\"\n", Path::new("fdo.toml"), &vars)
            .unwrap_err();
        assert!(err.to_string().contains("entrypoint"), "{err}");
        let err = parse(
            "[functions.a]\nversion = \"1.0.0\"\nlanguage = \"rust\"\n",
            Path::new("fdo.toml"),
            &vars,
        )
        .unwrap_err();
        assert!(err.to_string().contains("component"), "{err}");
        assert!(matches!(
            parse("", Path::new("fdo.toml"), &vars),
            Err(ManifestError::Empty(_))
        ));
    }

    #[test]
    fn expansion_rules() {
        assert_eq!(expand("a${TOKEN}b", &vars).unwrap(), "as3cr3t-tokenb");
        assert_eq!(expand("$$ and $x", &vars).unwrap(), "$ and $x");
        assert!(expand("${TOKEN", &vars).is_err());
        assert_eq!(
            expand("${TOKEN:-x}|${NOPE:-d e}|${NOPE:-}", &vars).unwrap(),
            "s3cr3t-token|d e|"
        );
        assert!(expand("${A-B}", &vars).is_err());
    }

    #[test]
    fn namespaces_and_a_functions_namespace_and_privacy() {
        let text = r#"
            [namespaces.shop]
            description = "the shop"
            env = { CURRENCY = "EUR" }
            secrets = { TOKEN = "${TOKEN}" }

            [namespaces.bare]

            [functions.cart]
            version = "1.0.0"
            component = "cart.wasm"
            language = "rust"
            namespace = "shop"
            privacy = "public"
        "#;
        let path = Path::new("/p/fdo.toml");
        let specs = parse(text, path, &vars).unwrap();
        assert_eq!(specs[0].metadata["namespace"], "shop");
        assert_eq!(specs[0].metadata["privacy"], "public");
        let namespaces = parse_namespaces(text, path, &vars).unwrap();
        assert_eq!(
            namespaces,
            [
                NamespaceSpec {
                    name: "bare".into(),
                    body: json!({})
                },
                NamespaceSpec {
                    name: "shop".into(),
                    body: json!({"description": "the shop", "env": {"CURRENCY": "EUR"}, "secrets": {"TOKEN": "s3cr3t-token"}}),
                },
            ]
        );
        let unset = text.replace("${TOKEN}", "${NOPE}");
        assert!(parse_namespaces(&unset, path, &vars).is_err());
        assert!(parse_namespaces("[namespaces.x]\nenvv = {}", path, &vars).is_err());
    }
}
