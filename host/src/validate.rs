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
/// ignored), `env`, `secrets` (objects of strings), `allowedHosts` (array of strings).
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
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "id": "my-function",
            "version": "1.0.0",
            "language": "typescript",
            "entryPoint": "index.ts",
            "dependencies": { "lodash": "^4.17.21" }
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut b = body();
        b[field] = value;
        b
    }

    fn without(field: &str) -> Value {
        let mut b = body();
        b.as_object_mut().unwrap().remove(field);
        b
    }

    fn err(b: &Value) -> ValidationError {
        parse_deploy_metadata(b).expect_err("should be rejected")
    }

    #[test]
    fn reference_request_parses() {
        let m = parse_deploy_metadata(&body()).unwrap();
        assert_eq!(m.id, "my-function");
        assert_eq!(m.version, "1.0.0");
        assert_eq!(m.language, Language::TypeScript);
        assert_eq!(m.entry_point, "index.ts");
        assert_eq!(
            m.dependencies.get("lodash").map(String::as_str),
            Some("^4.17.21")
        );
        assert_eq!(m.limits, Limits::default());
        assert!(m.env.is_empty() && m.secrets.is_empty() && m.allowed_hosts.is_empty());
        m.validate().unwrap();
    }

    #[test]
    fn function_id_reference_examples() {
        for ok in [
            "my-function",
            "processData_v2",
            "api123",
            "a",
            "A-b_C-9",
            &"x".repeat(255),
        ] {
            validate_function_id(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = validate_function_id("invalid..id").unwrap_err();
        assert_eq!(
            e.message,
            "Invalid function ID: must be alphanumeric with hyphens and underscores"
        );
        assert_eq!(e.field, "id");
        assert_eq!(e.value, json!("invalid..id"));
        for bad in ["my function", "fn/1", "héllo", "a.b", "a\0b", "emoji🙂"] {
            assert_eq!(
                validate_function_id(bad).unwrap_err().message,
                "Invalid function ID: must be alphanumeric with hyphens and underscores",
                "{bad}"
            );
        }
        for bad in ["", &"x".repeat(256)] {
            assert_eq!(
                validate_function_id(bad).unwrap_err().message,
                "Invalid function ID: must be 1-255 characters"
            );
        }
        for bad in ["-abc", "abc-", "_abc", "abc_", "-", "_"] {
            assert_eq!(
                validate_function_id(bad).unwrap_err().message,
                "Invalid function ID: must not start or end with a hyphen or underscore",
                "{bad}"
            );
        }
    }

    #[test]
    fn error_display_is_the_message_and_value_is_shortened() {
        let long = format!("{}.", "a".repeat(5000));
        let e = validate_function_id(&long).unwrap_err();
        assert_eq!(e.to_string(), e.message);
        let echoed = e.value.as_str().unwrap();
        assert_eq!(echoed.chars().count(), MAX_ECHOED_VALUE_CHARS + 1);
        assert!(echoed.ends_with('…'));
    }

    #[test]
    fn versions() {
        for ok in [
            "1.0.0",
            "2.1.0",
            "2.1.0-beta.1",
            "2.0.0-rc.1",
            "1.0.0+build.123",
            "1.0.0-alpha+001",
            "0.0.0",
        ] {
            assert_eq!(validate_version(ok).unwrap().to_string(), ok);
        }
        for bad in [
            "",
            "1",
            "1.0",
            "v1.0.0",
            "1.0.0.0",
            "01.0.0",
            "1.0.0-",
            "1.0.0+",
            "latest",
            " 1.0.0",
            "1.0.0-beta..1",
        ] {
            let e = validate_version(bad).unwrap_err();
            assert_eq!(e.field, "version", "{bad}");
            assert!(e.message.starts_with("Invalid version:"), "{bad}");
        }
        assert!(validate_version(&format!("1.0.0-{}", "a".repeat(300))).is_err());
        assert_eq!(
            err(&with("version", json!(1))).message,
            "Invalid version: must be a string"
        );
    }

    #[test]
    fn languages() {
        for name in [
            "typescript",
            "javascript",
            "rust",
            "python",
            "go",
            "zig",
            "assemblyscript",
            "csharp",
        ] {
            let l: Language = name.parse().unwrap();
            assert_eq!(l.as_str(), name);
            assert_eq!(serde_json::to_value(l).unwrap(), json!(name));
        }
        for bad in ["TypeScript", "java", "", "c#", "ruby"] {
            let e = bad.parse::<Language>().unwrap_err();
            assert_eq!(e.field, "language");
            assert_eq!(
                e.message,
                "Invalid language: must be one of typescript, javascript, rust, python, go, zig, assemblyscript, csharp"
            );
        }
    }

    #[test]
    fn entry_points() {
        for ok in [
            "index.ts",
            "src/main.js",
            "app.py",
            "./index.ts",
            "lib/v2/handler.mjs",
            "main.wasm",
            "a.b.c.d",
        ] {
            validate_entry_point(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let cases = [
            ("/index.ts", "must be a relative path"),
            ("\\index.ts", "must be a relative path"),
            ("C:\\index.ts", "must be a relative path"),
            ("c:/index.ts", "must be a relative path"),
            ("../index.ts", "must not contain '..'"),
            ("src/../../etc/passwd.js", "must not contain '..'"),
            ("src/..", "must not contain '..'"),
            ("index", "must have a file extension"),
            ("src/", "must not contain empty path segments"),
            ("src//main.js", "must not contain empty path segments"),
            (".env", "must have a file extension"),
            ("index.", "must have a file extension"),
            ("index.t-s", "must have a file extension"),
            ("src.d/main", "must have a file extension"),
            ("src\\main.js", "must use '/'"),
            ("", "must not be empty"),
            ("ind\0ex.ts", "control characters"),
        ];
        for (bad, why) in cases {
            let e = validate_entry_point(bad).unwrap_err();
            assert_eq!(e.field, "entryPoint");
            assert!(
                e.message.starts_with("Invalid entry point: "),
                "{bad}: {}",
                e.message
            );
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
        // `..` inside a file name is not a parent reference.
        validate_entry_point("my..file.js").unwrap();
    }

    #[test]
    fn dependencies() {
        let b = with(
            "dependencies",
            json!({"lodash": "^4.17.21", "axios": "~1.0.0", "express": ">=4.0.0",
            "a": "1.0.0", "b": "<2.0.0", "c": "1.0.0 - 2.0.0", "d": "*", "e": "latest", "@scope/pkg": ">=1.0.0 <2.0.0",
            "github.com/x/y": "v1.2.3"}),
        );
        assert_eq!(parse_deploy_metadata(&b).unwrap().dependencies.len(), 10);
        assert!(
            parse_deploy_metadata(&with("dependencies", json!({})))
                .unwrap()
                .dependencies
                .is_empty()
        );

        let e = err(&with("dependencies", json!({"lodash": "not-a-range"})));
        assert_eq!(e.field, "dependencies.lodash");
        assert_eq!(e.value, json!("not-a-range"));
        assert!(e.message.starts_with("Invalid version range for lodash: "));

        let e = err(&with("dependencies", json!({"": "1.0.0"})));
        assert_eq!(
            (e.field.as_str(), e.value.clone()),
            ("dependencies", json!(""))
        );
        assert!(
            err(&with("dependencies", json!({"has space": "1.0.0"})))
                .message
                .starts_with("Invalid dependency name")
        );
        let e = err(&with("dependencies", json!({"lodash": 4})));
        assert_eq!(
            (e.field.as_str(), e.value.clone()),
            ("dependencies.lodash", json!(4))
        );
        assert_eq!(
            err(&with("dependencies", json!(["lodash"]))).message,
            "Invalid dependencies: must be an object"
        );
        assert_eq!(
            err(&without("dependencies")).message,
            "Missing required field: dependencies"
        );
        let long = "1.0.0 ".repeat(60);
        assert!(
            err(&with("dependencies", json!({"x": long})))
                .message
                .contains("longer than")
        );
    }

    #[test]
    fn required_fields_and_types() {
        for field in ["id", "version", "language", "entryPoint"] {
            let e = err(&without(field));
            assert_eq!(e.message, format!("Missing required field: {field}"));
            assert_eq!((e.field.as_str(), e.value.clone()), (field, Value::Null));
            assert_eq!(
                err(&with(field, Value::Null)).message,
                format!("Missing required field: {field}")
            );
        }
        let e = err(&with("id", json!(42)));
        assert_eq!((e.field.as_str(), e.value.clone()), ("id", json!(42)));
        assert_eq!(e.message, "Invalid function ID: must be a string");
        assert_eq!(err(&json!([1, 2])).field, "body");
        assert_eq!(err(&with("entryPoint", json!(true))).field, "entryPoint");
        // Unknown top-level fields (the server's `code`) are ignored.
        parse_deploy_metadata(&with("code", json!("AGFzbQ=="))).unwrap();
    }

    #[test]
    fn limits() {
        let m = parse_deploy_metadata(&with(
            "limits",
            json!({"memoryMb": 128, "timeoutMs": 300000, "maxConcurrency": 1}),
        ))
        .unwrap();
        assert_eq!(
            m.limits,
            Limits {
                memory_mb: Some(128),
                timeout_ms: Some(300_000),
                max_concurrency: Some(1)
            }
        );
        assert_eq!(
            serde_json::to_value(m.limits).unwrap(),
            json!({"memoryMb": 128, "timeoutMs": 300000, "maxConcurrency": 1})
        );
        let partial =
            parse_deploy_metadata(&with("limits", json!({"timeoutMs": 50, "memoryMb": null})))
                .unwrap();
        assert_eq!(
            partial.limits,
            Limits {
                timeout_ms: Some(50),
                ..Limits::default()
            }
        );
        assert_eq!(
            parse_deploy_metadata(&with("limits", Value::Null))
                .unwrap()
                .limits,
            Limits::default()
        );

        let cases = [
            (
                json!({"memoryMb": 0}),
                "limits.memoryMb",
                "Invalid limits.memoryMb: must be an integer between 1 and 4096",
            ),
            (
                json!({"memoryMb": 4097}),
                "limits.memoryMb",
                "Invalid limits.memoryMb: must be an integer between 1 and 4096",
            ),
            (
                json!({"memoryMb": 12.5}),
                "limits.memoryMb",
                "Invalid limits.memoryMb: must be an integer between 1 and 4096",
            ),
            (
                json!({"memoryMb": "128"}),
                "limits.memoryMb",
                "Invalid limits.memoryMb: must be an integer between 1 and 4096",
            ),
            (
                json!({"timeoutMs": 300001}),
                "limits.timeoutMs",
                "Invalid limits.timeoutMs: must be an integer between 1 and 300000",
            ),
            (
                json!({"timeoutMs": -1}),
                "limits.timeoutMs",
                "Invalid limits.timeoutMs: must be an integer between 1 and 300000",
            ),
            (
                json!({"maxConcurrency": 1025}),
                "limits.maxConcurrency",
                "Invalid limits.maxConcurrency: must be an integer between 1 and 1024",
            ),
            (
                json!({"memoryMB": 128}),
                "limits.memoryMB",
                "Invalid limits: unknown limit 'memoryMB' (expected memoryMb, timeoutMs or maxConcurrency)",
            ),
            (json!(5), "limits", "Invalid limits: must be an object"),
        ];
        for (limits, field, message) in cases {
            let e = err(&with("limits", limits.clone()));
            assert_eq!(
                (e.field.as_str(), e.message.as_str()),
                (field, message),
                "{limits}"
            );
        }
        assert!(
            Limits {
                memory_mb: Some(0),
                ..Limits::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Limits {
                max_concurrency: Some(1024),
                ..Limits::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn env_and_secrets() {
        let b = {
            let mut b = body();
            b["env"] = json!({"PORT": "8080", "_X": "", "LOG_LEVEL2": "debug"});
            b["secrets"] = json!({"API_TOKEN": "s3cr3t"});
            b
        };
        let m = parse_deploy_metadata(&b).unwrap();
        assert_eq!(m.env.len(), 3);
        assert_eq!(m.secrets.get("API_TOKEN"), Some("s3cr3t"));
        assert_eq!(m.secrets.names().collect::<Vec<_>>(), ["API_TOKEN"]);

        for bad in ["", "1ABC", "A-B", "A=B", "A B", "A\0", "É"] {
            let e = err(&with("env", json!({ bad: "v" })));
            assert_eq!(
                (e.field.as_str(), e.value.clone()),
                ("env", json!(bad)),
                "{bad:?}"
            );
            assert!(
                e.message.starts_with("Invalid env variable name"),
                "{bad:?}"
            );
            let e = err(&with("secrets", json!({ bad: "v" })));
            assert_eq!(e.field, "secrets", "{bad:?}");
            assert!(e.message.starts_with("Invalid secret name"), "{bad:?}");
        }
        let e = err(&with("env", json!({"A": "x\0y"})));
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("env.A", "Invalid env value for A: must not contain NUL")
        );
        let e = err(&with("env", json!({"A": 1})));
        assert_eq!((e.field.as_str(), e.value.clone()), ("env.A", json!(1)));
        assert!(
            err(&with(
                "env",
                json!({"A": "x".repeat(MAX_ENV_VALUE_BYTES + 1)})
            ))
            .message
            .contains("at most")
        );
        assert_eq!(
            err(&with("env", json!("A=1"))).message,
            "Invalid env: must be an object"
        );

        // A bad secret never echoes its value.
        for secrets in [json!({"TOKEN": "abc\0def"}), json!({"TOKEN": 12345})] {
            let e = err(&with("secrets", secrets));
            assert_eq!(e.field, "secrets.TOKEN");
            assert_eq!(e.value, Value::Null);
            assert!(!e.message.contains("abc") && !e.message.contains("12345"));
        }
        let mut both = body();
        both["env"] = json!({"TOKEN": "a"});
        both["secrets"] = json!({"TOKEN": "b"});
        assert_eq!(
            err(&both).message,
            "Invalid secrets: TOKEN is also defined in env"
        );

        let many: Map<String, Value> = (0..=MAX_ENV_ENTRIES)
            .map(|i| (format!("V{i}"), json!("x")))
            .collect();
        assert_eq!(err(&with("env", Value::Object(many))).field, "env");
    }

    #[test]
    fn secrets_debug_is_redacted() {
        let mut b = body();
        b["secrets"] = json!({"API_TOKEN": "hunter2-very-secret"});
        let m = parse_deploy_metadata(&b).unwrap();
        let debug = format!("{m:?} {:?} {:#?}", m.secrets, m);
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("API_TOKEN") && debug.contains("<redacted>"));
    }

    #[test]
    fn allowed_hosts() {
        let hosts = json!([
            "api.example.com",
            "localhost:8080",
            "*.example.org",
            "http://127.0.0.1:3000",
            "https://api.stripe.com"
        ]);
        let m = parse_deploy_metadata(&with("allowedHosts", hosts)).unwrap();
        assert_eq!(m.allowed_hosts.len(), 5);
        assert_eq!(validate_allowed_hosts(&m.allowed_hosts).unwrap().len(), 5);
        for bad in [
            json!(["ftp://x.com"]),
            json!(["a b"]),
            json!(["x.com/path"]),
            json!([""]),
            json!(["x.com:99999"]),
        ] {
            let e = err(&with("allowedHosts", bad.clone()));
            assert_eq!(e.field, "allowedHosts", "{bad}");
            assert_eq!(e.value, bad[0], "{bad}");
            assert!(
                e.message.starts_with("Invalid allowedHosts entry: "),
                "{bad}"
            );
        }
        assert_eq!(
            err(&with("allowedHosts", json!("x.com"))).message,
            "Invalid allowedHosts: must be an array of strings"
        );
        assert_eq!(
            err(&with("allowedHosts", json!([1]))).message,
            "Invalid allowedHosts entry: must be a string"
        );
        let many: Vec<String> = (0..=MAX_ALLOWED_HOSTS)
            .map(|i| format!("h{i}.example.com"))
            .collect();
        assert!(validate_allowed_hosts(&many).is_err());
    }

    #[test]
    fn typed_validate_catches_hand_built_values() {
        let mut m = parse_deploy_metadata(&body()).unwrap();
        m.id = "bad id".into();
        assert_eq!(m.validate().unwrap_err().field, "id");
        let mut m = parse_deploy_metadata(&body()).unwrap();
        m.allowed_hosts = vec!["nope nope".into()];
        assert_eq!(m.validate().unwrap_err().field, "allowedHosts");
        let mut m = parse_deploy_metadata(&body()).unwrap();
        m.secrets = Secrets::new(BTreeMap::from([("A=B".to_string(), "x".to_string())]));
        assert_eq!(m.validate().unwrap_err().field, "secrets");
    }
}
