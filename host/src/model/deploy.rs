//! The metadata a version is deployed with, valid by construction.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::access::{Privacy, validate_namespace_name};
use super::{Interface, Language, Limits, Secrets};
use crate::validate::{
    MAX_CONCURRENCY, MAX_MEMORY_MB, MAX_TIMEOUT_MS, ValidationError, validate_allowed_hosts,
    validate_dependencies, validate_entry_point, validate_env, validate_function_id,
    validate_secrets, validate_version,
};

/// Deploy metadata: the reference's fields plus fdo's optional ones. Every value has passed
/// the rules of [`crate::validate`]: it is built only by [`parse_deploy_metadata`] (a request
/// body) or from [`DeployFields`] (`try_into`), so storage and the host take it as is.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployMetadata {
    fields: DeployFields,
}

/// The fields of a [`DeployMetadata`], not yet checked: what a caller fills in to build one
/// (`DeployMetadata::try_from(fields)`), or gets back from [`DeployMetadata::into_fields`].
#[derive(Debug, Clone, PartialEq)]
pub struct DeployFields {
    /// Function id (reference rules, see [`validate_function_id`]).
    pub id: String,
    /// Semver version string, exactly as given (semver text is canonical once parsed).
    pub version: String,
    /// Source language.
    pub language: Language,
    /// Relative entry point path with an extension.
    pub entry_point: String,
    /// Package name -> version range (see [`crate::validate::DependencySpec`]).
    pub dependencies: BTreeMap<String, String>,
    /// Resource limits.
    pub limits: Limits,
    /// Environment variables visible to the guest.
    pub env: BTreeMap<String, String>,
    /// Secrets visible to the guest, never returned by the API.
    pub secrets: Secrets,
    /// Outbound allow-list entries, as given (see [`crate::validate::AllowedHost`]).
    pub allowed_hosts: Vec<String>,
    /// How a WASI command is called (`rpc` unless `"interface": "http"`).
    pub interface: Interface,
    /// The function's namespace: `None` keeps an existing function's and puts a new one in
    /// `default`. Not part of the version: a function belongs to one namespace.
    pub namespace: Option<String>,
    /// The function's privacy: `None` keeps an existing function's, `private` for a new one.
    /// Not part of the version.
    pub privacy: Option<Privacy>,
}

impl TryFrom<DeployFields> for DeployMetadata {
    type Error = ValidationError;

    /// Runs every rule, in the order a request body is checked.
    fn try_from(fields: DeployFields) -> Result<Self, ValidationError> {
        validate_function_id(&fields.id)?;
        validate_version(&fields.version)?;
        validate_entry_point(&fields.entry_point)?;
        validate_dependencies(&fields.dependencies)?;
        validate_env(&fields.env)?;
        validate_secrets(fields.secrets.as_map(), &fields.env)?;
        validate_allowed_hosts(&fields.allowed_hosts)?;
        if let Some(ns) = &fields.namespace {
            validate_namespace_name(ns)?;
        }
        Ok(DeployMetadata { fields })
    }
}

impl DeployMetadata {
    /// Function id.
    pub fn id(&self) -> &str {
        &self.fields.id
    }

    /// Version, exactly as given (a valid semantic version).
    pub fn version(&self) -> &str {
        &self.fields.version
    }

    /// Source language.
    pub fn language(&self) -> Language {
        self.fields.language
    }

    /// Relative entry point path.
    pub fn entry_point(&self) -> &str {
        &self.fields.entry_point
    }

    /// Package name -> version range.
    pub fn dependencies(&self) -> &BTreeMap<String, String> {
        &self.fields.dependencies
    }

    /// Resource limits.
    pub fn limits(&self) -> Limits {
        self.fields.limits
    }

    /// Environment variables.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.fields.env
    }

    /// Secrets.
    pub fn secrets(&self) -> &Secrets {
        &self.fields.secrets
    }

    /// Outbound allow-list entries, as given.
    pub fn allowed_hosts(&self) -> &[String] {
        &self.fields.allowed_hosts
    }

    /// How a WASI command is called.
    pub fn interface(&self) -> Interface {
        self.fields.interface
    }

    /// The namespace asked for, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.fields.namespace.as_deref()
    }

    /// The privacy asked for, if any.
    pub fn privacy(&self) -> Option<Privacy> {
        self.fields.privacy
    }

    /// The fields, to change some and build another (`try_into` checks them again).
    pub fn into_fields(self) -> DeployFields {
        self.fields
    }
}

/// Parses and validates a deploy request body (the JSON object of the reference; fields other
/// than the ones below, such as `code`, are ignored here).
///
/// Required: `id`, `version`, `language`, `entryPoint`, `dependencies` (an object; `{}` when
/// there are none — the reference marks it required). Optional (absent or `null`): `limits`
/// (`memoryMb`, `timeoutMs`, `maxConcurrency`; unknown keys rejected so a typo is not silently
/// ignored), `env`, `secrets` (objects of strings), `allowedHosts` (array of strings),
/// `interface` (`rpc` or `http`, see [`Interface`]), `namespace` (a name), `privacy`
/// (`private` or `public`).
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
    let secrets = match obj.get("secrets") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => string_map(value, "secrets", true)?,
    };
    validate_secrets(&secrets, &env)?;
    let secrets = Secrets::new(secrets)?;
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

    let namespace = match obj.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) => {
            validate_namespace_name(ns)?;
            Some(ns.clone())
        }
        Some(other) => {
            return Err(ValidationError::new(
                "namespace",
                other.clone(),
                "Invalid namespace: must be a string",
            ));
        }
    };
    let privacy = match obj.get("privacy") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(p.parse()?),
        Some(other) => {
            return Err(ValidationError::new(
                "privacy",
                other.clone(),
                "Invalid privacy: must be private or public",
            ));
        }
    };

    // Every rule has run above, in the order the fields are read.
    Ok(DeployMetadata {
        fields: DeployFields {
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
            namespace,
            privacy,
        },
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
    let (mut memory_mb, mut timeout_ms, mut max_concurrency) = (None, None, None);
    for (key, value) in obj {
        let (slot, max) = match key.as_str() {
            "memoryMb" => (&mut memory_mb, MAX_MEMORY_MB),
            "timeoutMs" => (&mut timeout_ms, MAX_TIMEOUT_MS),
            "maxConcurrency" => (&mut max_concurrency, MAX_CONCURRENCY),
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
    Limits::new(memory_mb, timeout_ms, max_concurrency)
}
