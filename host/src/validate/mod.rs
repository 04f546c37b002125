//! Validation of deploy metadata, exactly per the Functions.do reference, plus the optional
//! fields fdo adds (`limits`, `env`, `secrets`, `allowedHosts`).
//!
//! Every failure is a [`ValidationError`] naming the offending field and value, which the HTTP
//! layer turns into `{"error":"VALIDATION_ERROR","message":..,"context":{"field":..,"value":..}}`.
//! The entry point for a request body is [`parse_deploy_metadata`]; the single-field checks are
//! public so routes (a function id in a path, a rollback version) can reuse them.
//!
//! Secret values are never echoed in an error: a bad secret names its key only.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod dependencies;
mod hosts;

pub use dependencies::{DependencySpec, InvalidRange, MAX_RANGE_COMPARATORS};
pub use hosts::{AllowedHost, HostPattern, InvalidHost, Scheme};

/// Longest function id (reference: 1-255 characters).
pub const MAX_FUNCTION_ID_LEN: usize = 255;
/// Longest version string accepted; semver sets no bound, storage and logs need one.
pub const MAX_VERSION_LEN: usize = 255;
/// Longest entry point path accepted.
pub const MAX_ENTRY_POINT_LEN: usize = 1024;
/// Most dependencies one function may declare.
pub const MAX_DEPENDENCIES: usize = 1024;
/// Longest dependency package name (long enough for Go module paths).
pub const MAX_PACKAGE_NAME_LEN: usize = 255;
/// Longest dependency range string.
pub const MAX_RANGE_LEN: usize = 256;
/// Largest `limits.memoryMb`.
pub const MAX_MEMORY_MB: u32 = 4096;
/// Largest `limits.timeoutMs` (five minutes).
pub const MAX_TIMEOUT_MS: u32 = 300_000;
/// Largest `limits.maxConcurrency`.
pub const MAX_CONCURRENCY: u32 = 1024;
/// Most entries in `env` plus `secrets` together.
pub const MAX_ENV_ENTRIES: usize = 256;
/// Longest environment variable or secret name.
pub const MAX_ENV_NAME_LEN: usize = 255;
/// Largest environment variable or secret value, in bytes.
pub const MAX_ENV_VALUE_BYTES: usize = 32 * 1024;
/// Most `allowedHosts` entries.
pub const MAX_ALLOWED_HOSTS: usize = 256;
/// String values longer than this are shortened when echoed in an error's context, so a
/// megabyte-long id does not come back in the response.
pub const MAX_ECHOED_VALUE_CHARS: usize = 256;

/// A rejected input: which field, the offending value, and a message for the user.
/// `Display` is the message alone.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// The JSON field at fault, dotted for nested ones: `id`, `limits.memoryMb`, `env.PORT`.
    pub field: String,
    /// The offending value (long strings shortened; `null` for missing fields and secrets).
    pub value: Value,
    /// The user-facing message, e.g. `Invalid function ID: must be alphanumeric with hyphens
    /// and underscores`.
    pub message: String,
}

impl ValidationError {
    /// Builds an error; string values longer than [`MAX_ECHOED_VALUE_CHARS`] are shortened.
    pub fn new(
        field: impl Into<String>,
        value: impl Into<Value>,
        message: impl Into<String>,
    ) -> Self {
        let value = match value.into() {
            Value::String(s) if s.chars().count() > MAX_ECHOED_VALUE_CHARS => {
                let mut short: String = s.chars().take(MAX_ECHOED_VALUE_CHARS).collect();
                short.push('…');
                Value::String(short)
            }
            other => other,
        };
        ValidationError {
            field: field.into(),
            value,
            message: message.into(),
        }
    }

    fn missing(field: &str) -> Self {
        ValidationError::new(
            field,
            Value::Null,
            format!("Missing required field: {field}"),
        )
    }
}

/// The languages the reference supports. Serialized lowercase, as in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// `typescript`
    TypeScript,
    /// `javascript`
    JavaScript,
    /// `rust`
    Rust,
    /// `python`
    Python,
    /// `go`
    Go,
    /// `zig`
    Zig,
    /// `assemblyscript`
    AssemblyScript,
    /// `csharp`
    CSharp,
}

impl Language {
    /// Every supported language, in the reference's order.
    pub const ALL: [Language; 8] = [
        Language::TypeScript,
        Language::JavaScript,
        Language::Rust,
        Language::Python,
        Language::Go,
        Language::Zig,
        Language::AssemblyScript,
        Language::CSharp,
    ];

    /// The reference's lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::TypeScript => "typescript",
            Language::JavaScript => "javascript",
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Go => "go",
            Language::Zig => "zig",
            Language::AssemblyScript => "assemblyscript",
            Language::CSharp => "csharp",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Language {
    type Err = ValidationError;

    /// Exact, lowercase names only (`TypeScript` is rejected, as the reference lists them).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "language",
                    s,
                    format!("Invalid language: must be one of {}", language_list()),
                )
            })
    }
}

fn language_list() -> String {
    Language::ALL.map(Language::as_str).join(", ")
}

/// How a WASI command is called (`interface` at deploy; a component that is not a command
/// takes only `rpc`, the default).
///
/// * `rpc`: `{"method", "params"}` as JSON on stdin, the result on stdout.
/// * `http`: HTTP requests on the pass-through routes, CGI-style (WAGI's conventions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// `rpc` (the default).
    #[default]
    Rpc,
    /// `http`: CGI over the pass-through routes.
    Http,
}

impl Interface {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Rpc => "rpc",
            Interface::Http => "http",
        }
    }

    /// Whether this is the default (`rpc`).
    pub fn is_default(&self) -> bool {
        *self == Interface::Rpc
    }
}

impl std::str::FromStr for Interface {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rpc" => Ok(Interface::Rpc),
            "http" => Ok(Interface::Http),
            _ => Err(ValidationError::new(
                "interface",
                s,
                "Invalid interface: must be \"rpc\" or \"http\"",
            )),
        }
    }
}

/// Per-function resource limits; `None` means the host's default applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Linear memory cap in MiB (1..=[`MAX_MEMORY_MB`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Wall-clock deadline per call in milliseconds (1..=[`MAX_TIMEOUT_MS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Concurrent calls of this function (1..=[`MAX_CONCURRENCY`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

impl Limits {
    /// Checks every present limit against its range.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_limit("limits.memoryMb", self.memory_mb, MAX_MEMORY_MB)?;
        check_limit("limits.timeoutMs", self.timeout_ms, MAX_TIMEOUT_MS)?;
        check_limit(
            "limits.maxConcurrency",
            self.max_concurrency,
            MAX_CONCURRENCY,
        )
    }
}

fn check_limit(field: &str, value: Option<u32>, max: u32) -> Result<(), ValidationError> {
    match value {
        Some(v) if v == 0 || v > max => Err(ValidationError::new(
            field,
            v,
            format!("Invalid {field}: must be an integer between 1 and {max}"),
        )),
        _ => Ok(()),
    }
}

/// Secret name -> value. Write-only at the API: this type implements neither `Serialize` nor
/// a revealing `Debug` (values print as `<redacted>`), so a secret cannot leak through a
/// response body or a log line by accident. Read values with [`Secrets::iter`] / [`Secrets::get`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    /// Wraps a map of secrets (not validated; see [`validate_secrets`]).
    pub fn new(map: BTreeMap<String, String>) -> Self {
        Secrets(map)
    }

    /// The value of one secret.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Secret names, sorted; safe to show.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Name/value pairs, sorted by name (for handing to the guest's environment).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of secrets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map, for storage backends.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, Redacted)))
            .finish()
    }
}

/// Validated deploy metadata: the reference's fields plus fdo's optional ones.
/// Built by [`parse_deploy_metadata`]; [`DeployMetadata::validate`] re-checks a value built
/// by hand (storage backends call it before writing).
#[derive(Debug, Clone, PartialEq)]
pub struct DeployMetadata {
    /// Function id (reference rules, see [`validate_function_id`]).
    pub id: String,
    /// Semver version string, exactly as given (semver text is canonical once parsed).
    pub version: String,
    /// Source language.
    pub language: Language,
    /// Relative entry point path with an extension.
    pub entry_point: String,
    /// Package name -> version range (see [`DependencySpec`]).
    pub dependencies: BTreeMap<String, String>,
    /// Resource limits.
    pub limits: Limits,
    /// Environment variables visible to the guest.
    pub env: BTreeMap<String, String>,
    /// Secrets visible to the guest, never returned by the API.
    pub secrets: Secrets,
    /// Outbound allow-list entries, as given (see [`AllowedHost`]).
    pub allowed_hosts: Vec<String>,
    /// How a WASI command is called (`rpc` unless `"interface": "http"`).
    pub interface: Interface,
}

impl DeployMetadata {
    /// Runs every rule on an already-typed value.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_function_id(&self.id)?;
        validate_version(&self.version)?;
        validate_entry_point(&self.entry_point)?;
        validate_dependencies(&self.dependencies)?;
        self.limits.validate()?;
        validate_env(&self.env)?;
        validate_secrets(&self.secrets, &self.env)?;
        validate_allowed_hosts(&self.allowed_hosts)?;
        Ok(())
    }

    /// The parsed semantic version.
    pub fn semver(&self) -> Result<semver::Version, ValidationError> {
        validate_version(&self.version)
    }
}

/// Function id rules: 1-255 characters, `[A-Za-z0-9_-]`, no leading or trailing `-`/`_`.
pub fn validate_function_id(id: &str) -> Result<(), ValidationError> {
    let len = id.chars().count();
    if len == 0 || len > MAX_FUNCTION_ID_LEN {
        return Err(ValidationError::new(
            "id",
            id,
            format!("Invalid function ID: must be 1-{MAX_FUNCTION_ID_LEN} characters"),
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ValidationError::new(
            "id",
            id,
            "Invalid function ID: must be alphanumeric with hyphens and underscores",
        ));
    }
    let edge = |b: u8| b == b'-' || b == b'_';
    if id.bytes().next().is_some_and(edge) || id.bytes().last().is_some_and(edge) {
        return Err(ValidationError::new(
            "id",
            id,
            "Invalid function ID: must not start or end with a hyphen or underscore",
        ));
    }
    Ok(())
}

/// Semver with optional pre-release and build metadata (`1.0.0`, `2.1.0-beta.1`,
/// `1.0.0+build.123`). Returns the parsed version.
pub fn validate_version(version: &str) -> Result<semver::Version, ValidationError> {
    let invalid = || {
        ValidationError::new(
            "version",
            version,
            "Invalid version: must be a semantic version (MAJOR.MINOR.PATCH with optional -prerelease and +build, e.g. 1.0.0, 2.1.0-beta.1, 1.0.0+build.123)",
        )
    };
    if version.len() > MAX_VERSION_LEN {
        return Err(invalid());
    }
    semver::Version::parse(version).map_err(|_| invalid())
}

/// Entry point rules: relative (no leading `/` or `\`, no drive letter), no `..` segment, a
/// file extension (letters/digits after a dot in the last segment, with a non-empty stem),
/// `/` as the only separator, no empty segments, no control characters.
pub fn validate_entry_point(entry_point: &str) -> Result<(), ValidationError> {
    let fail = |message: &str| {
        Err(ValidationError::new(
            "entryPoint",
            entry_point,
            format!("Invalid entry point: {message}"),
        ))
    };
    if entry_point.is_empty() {
        return fail("must not be empty");
    }
    if entry_point.len() > MAX_ENTRY_POINT_LEN {
        return fail(&format!("must be at most {MAX_ENTRY_POINT_LEN} bytes"));
    }
    if entry_point.chars().any(char::is_control) {
        return fail("must not contain control characters");
    }
    let bytes = entry_point.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if entry_point.starts_with('/') || entry_point.starts_with('\\') || drive {
        return fail("must be a relative path (absolute paths are not allowed)");
    }
    if entry_point.contains('\\') {
        return fail("must use '/' as the path separator");
    }
    let segments: Vec<&str> = entry_point.split('/').collect();
    if segments.contains(&"..") {
        return fail("must not contain '..' (parent directory references)");
    }
    if segments.iter().any(|s| s.is_empty()) {
        return fail("must not contain empty path segments");
    }
    let last = segments.last().copied().unwrap_or_default();
    let has_extension = last.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !has_extension {
        return fail("must have a file extension (e.g. index.ts, main.js, app.py)");
    }
    Ok(())
}

/// Dependencies: package names non-empty (no whitespace or control characters, at most
/// [`MAX_PACKAGE_NAME_LEN`]), ranges per [`DependencySpec`].
pub fn validate_dependencies(
    dependencies: &BTreeMap<String, String>,
) -> Result<(), ValidationError> {
    if dependencies.len() > MAX_DEPENDENCIES {
        return Err(ValidationError::new(
            "dependencies",
            dependencies.len(),
            format!("Invalid dependencies: at most {MAX_DEPENDENCIES} are allowed"),
        ));
    }
    for (name, range) in dependencies {
        if name.is_empty()
            || name.chars().count() > MAX_PACKAGE_NAME_LEN
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(ValidationError::new(
                "dependencies",
                name.as_str(),
                format!(
                    "Invalid dependency name: must be 1-{MAX_PACKAGE_NAME_LEN} characters without whitespace"
                ),
            ));
        }
        let field = format!("dependencies.{name}");
        if range.len() > MAX_RANGE_LEN {
            return Err(ValidationError::new(
                field,
                range.as_str(),
                format!("Invalid version range for {name}: longer than {MAX_RANGE_LEN} characters"),
            ));
        }
        DependencySpec::parse(range).map_err(|e| {
            ValidationError::new(
                field,
                range.as_str(),
                format!("Invalid version range for {name}: {e}"),
            )
        })?;
    }
    Ok(())
}

/// Environment variables: names `[A-Za-z_][A-Za-z0-9_]*` (which excludes `=` and NUL),
/// values without NUL, at most [`MAX_ENV_ENTRIES`] entries and [`MAX_ENV_VALUE_BYTES`] per value.
pub fn validate_env(env: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    if env.len() > MAX_ENV_ENTRIES {
        return Err(ValidationError::new(
            "env",
            env.len(),
            format!("Invalid env: at most {MAX_ENV_ENTRIES} variables are allowed"),
        ));
    }
    for (name, value) in env {
        check_env_name("env", name)?;
        if let Some(message) = env_value_problem(value) {
            return Err(ValidationError::new(
                format!("env.{name}"),
                value.as_str(),
                format!("Invalid env value for {name}: {message}"),
            ));
        }
    }
    Ok(())
}

/// Secrets: same name and value rules as [`validate_env`], a name may not be both an env
/// variable and a secret, and together they stay within [`MAX_ENV_ENTRIES`]. Errors carry
/// the secret's name only, never its value.
pub fn validate_secrets(
    secrets: &Secrets,
    env: &BTreeMap<String, String>,
) -> Result<(), ValidationError> {
    if secrets.len() + env.len() > MAX_ENV_ENTRIES {
        return Err(ValidationError::new(
            "secrets",
            secrets.len(),
            format!(
                "Invalid secrets: env and secrets together may hold at most {MAX_ENV_ENTRIES} entries"
            ),
        ));
    }
    for (name, value) in secrets.iter() {
        check_env_name("secrets", name)?;
        if let Some(message) = env_value_problem(value) {
            return Err(ValidationError::new(
                format!("secrets.{name}"),
                Value::Null,
                format!("Invalid secret value for {name}: {message}"),
            ));
        }
        if env.contains_key(name) {
            return Err(ValidationError::new(
                "secrets",
                name,
                format!("Invalid secrets: {name} is also defined in env"),
            ));
        }
    }
    Ok(())
}

fn check_env_name(field: &str, name: &str) -> Result<(), ValidationError> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !first_ok || !rest_ok || name.len() > MAX_ENV_NAME_LEN {
        let what = if field == "env" {
            "env variable"
        } else {
            "secret"
        };
        return Err(ValidationError::new(
            field,
            name,
            format!(
                "Invalid {what} name: must start with a letter or '_' and contain only letters, digits and '_' (at most {MAX_ENV_NAME_LEN} characters)"
            ),
        ));
    }
    Ok(())
}

fn env_value_problem(value: &str) -> Option<String> {
    if value.contains('\0') {
        Some("must not contain NUL".into())
    } else if value.len() > MAX_ENV_VALUE_BYTES {
        Some(format!("must be at most {MAX_ENV_VALUE_BYTES} bytes"))
    } else {
        None
    }
}

/// Outbound allow-list: at most [`MAX_ALLOWED_HOSTS`] entries, each parsing as an
/// [`AllowedHost`]. Returns the parsed entries.
pub fn validate_allowed_hosts(entries: &[String]) -> Result<Vec<AllowedHost>, ValidationError> {
    if entries.len() > MAX_ALLOWED_HOSTS {
        return Err(ValidationError::new(
            "allowedHosts",
            entries.len(),
            format!("Invalid allowedHosts: at most {MAX_ALLOWED_HOSTS} entries are allowed"),
        ));
    }
    entries
        .iter()
        .map(|entry| {
            AllowedHost::parse(entry).map_err(|e| {
                ValidationError::new(
                    "allowedHosts",
                    entry.as_str(),
                    format!("Invalid allowedHosts entry: {e}"),
                )
            })
        })
        .collect()
}

/// Parses and validates a deploy request body (the JSON object of the reference; fields other
/// than the ones below, such as `code`, are ignored here).
///
/// Required: `id`, `version`, `language`, `entryPoint`, `dependencies` (an object; `{}` when
/// there are none — the reference marks it required). Optional (absent or `null`): `limits`
/// (`memoryMb`, `timeoutMs`, `maxConcurrency`; unknown keys rejected so a typo is not silently
/// ignored), `env`, `secrets` (objects of strings), `allowedHosts` (array of strings),
/// `interface` (`rpc` or `http`, see [`Interface`]).
pub fn parse_deploy_metadata(body: &Value) -> Result<DeployMetadata, ValidationError> {
    let Some(obj) = body.as_object() else {
        return Err(ValidationError::new(
            "body",
            Value::Null,
            "Invalid request body: must be a JSON object",
        ));
    };
    let id = required_string(obj, "id", "Invalid function ID: must be a string")?;
    validate_function_id(id)?;
    let version = required_string(obj, "version", "Invalid version: must be a string")?;
    validate_version(version)?;
    let language: Language =
        required_string(obj, "language", "Invalid language: must be a string")?.parse()?;
    let entry_point = required_string(obj, "entryPoint", "Invalid entry point: must be a string")?;
    validate_entry_point(entry_point)?;

    let dependencies = match obj.get("dependencies") {
        None => return Err(ValidationError::missing("dependencies")),
        Some(value) => string_map(value, "dependencies", false)?,
    };
    validate_dependencies(&dependencies)?;

    let limits = parse_limits(obj.get("limits"))?;
    let env = match obj.get("env") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(value, "env", false)?,
    };
    validate_env(&env)?;
    let secrets = Secrets(match obj.get("secrets") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(value, "secrets", true)?,
    });
    validate_secrets(&secrets, &env)?;
    let allowed_hosts = match obj.get("allowedHosts") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    ValidationError::new(
                        "allowedHosts",
                        item.clone(),
                        "Invalid allowedHosts entry: must be a string",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(ValidationError::new(
                "allowedHosts",
                other.clone(),
                "Invalid allowedHosts: must be an array of strings",
            ));
        }
    };
    validate_allowed_hosts(&allowed_hosts)?;
    let interface = match obj.get("interface") {
        None | Some(Value::Null) => Interface::default(),
        Some(Value::String(name)) => name.parse()?,
        Some(other) => {
            return Err(ValidationError::new(
                "interface",
                other.clone(),
                "Invalid interface: must be \"rpc\" or \"http\"",
            ));
        }
    };

    Ok(DeployMetadata {
        id: id.to_owned(),
        version: version.to_owned(),
        language,
        entry_point: entry_point.to_owned(),
        dependencies,
        limits,
        env,
        secrets,
        allowed_hosts,
        interface,
    })
}

fn required_string<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    not_string: &str,
) -> Result<&'a str, ValidationError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(ValidationError::missing(field)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ValidationError::new(field, other.clone(), not_string)),
    }
}

/// An object whose values are all strings. For secrets, the offending value is not echoed.
fn string_map(
    value: &Value,
    field: &str,
    secret: bool,
) -> Result<BTreeMap<String, String>, ValidationError> {
    let Some(obj) = value.as_object() else {
        let echoed = if secret { Value::Null } else { value.clone() };
        return Err(ValidationError::new(
            field,
            echoed,
            format!("Invalid {field}: must be an object"),
        ));
    };
    obj.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => {
                let echoed = if secret { Value::Null } else { other.clone() };
                Err(ValidationError::new(
                    format!("{field}.{k}"),
                    echoed,
                    format!("Invalid {field} value for {k}: must be a string"),
                ))
            }
        })
        .collect()
}

fn parse_limits(value: Option<&Value>) -> Result<Limits, ValidationError> {
    let obj = match value {
        None | Some(Value::Null) => return Ok(Limits::default()),
        Some(Value::Object(obj)) => obj,
        Some(other) => {
            return Err(ValidationError::new(
                "limits",
                other.clone(),
                "Invalid limits: must be an object",
            ));
        }
    };
    let mut limits = Limits::default();
    for (key, value) in obj {
        let (slot, max) = match key.as_str() {
            "memoryMb" => (&mut limits.memory_mb, MAX_MEMORY_MB),
            "timeoutMs" => (&mut limits.timeout_ms, MAX_TIMEOUT_MS),
            "maxConcurrency" => (&mut limits.max_concurrency, MAX_CONCURRENCY),
            _ => {
                return Err(ValidationError::new(
                    format!("limits.{key}"),
                    value.clone(),
                    format!(
                        "Invalid limits: unknown limit '{key}' (expected memoryMb, timeoutMs or maxConcurrency)"
                    ),
                ));
            }
        };
        if value.is_null() {
            continue;
        }
        let field = format!("limits.{key}");
        let parsed = value
            .as_u64()
            .filter(|v| (1..=u64::from(max)).contains(v))
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                ValidationError::new(
                    field.as_str(),
                    value.clone(),
                    format!("Invalid {field}: must be an integer between 1 and {max}"),
                )
            })?;
        *slot = Some(parsed);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests;
