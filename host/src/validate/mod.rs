//! The rules of deploy metadata, exactly per the Functions.do reference, plus the optional
//! fields fdo adds (`limits`, `env`, `secrets`, `allowedHosts`).
//!
//! Every failure is a [`ValidationError`] naming the offending field and value, which the HTTP
//! layer turns into `{"error":"VALIDATION_ERROR","message":..,"context":{"field":..,"value":..}}`.
//! The types these rules guard live in [`crate::model`], whose constructors run them (a request
//! body is read by [`crate::model::parse_deploy_metadata`]); the single-field checks are public
//! so routes (a function id in a path, a rollback version) can reuse them.
//!
//! Secret values are never echoed in an error: a bad secret names its key only.

use std::collections::BTreeMap;

use serde_json::Value;

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

    pub(crate) fn missing(field: &str) -> Self {
        ValidationError::new(
            field,
            Value::Null,
            format!("Missing required field: {field}"),
        )
    }
}

/// What kind of JSON value `value` is, for messages: `null`, `boolean`, `number`, `string`,
/// `array` or `object`.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Limit rule: a present value is between 1 and `max` (`field` is e.g. `limits.memoryMb`).
pub fn check_limit(field: &str, value: Option<u32>, max: u32) -> Result<(), ValidationError> {
    match value {
        Some(v) if v == 0 || v > max => Err(ValidationError::new(
            field,
            v,
            format!("Invalid {field}: must be an integer between 1 and {max}"),
        )),
        _ => Ok(()),
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
    secrets: &BTreeMap<String, String>,
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
    for (name, value) in secrets {
        let (name, value) = (name.as_str(), value.as_str());
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

#[cfg(test)]
mod tests;
