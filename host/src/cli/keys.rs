//! `fdo keys create|list|revoke`: API keys, over HTTP (`/v1/api/keys`, with `--url` and an
//! admin key) or directly in the store: `--data-dir` (SQLite) or `--database` (PostgreSQL). The
//! direct form works whether or not hosts run on that store, which is how the first key is
//! made before any host has started; a revocation reaches running SQLite hosts within their
//! key-cache TTL (5 s), PostgreSQL hosts through the change feed (within a second).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{CliError, Client, ClientOpts, output};
use crate::model::{ApiKeyRecord, Timestamp};
use crate::registry::{LogWriterConfig, Store};

/// Arguments of `fdo keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    /// Work on this data directory directly instead of over HTTP.
    #[arg(long, global = true, conflicts_with = "database")]
    data_dir: Option<PathBuf>,
    /// Work on this PostgreSQL database (`postgres://...`) directly instead of over HTTP.
    #[arg(long, global = true)]
    database: Option<String>,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key; it is printed once and stored only as a hash.
    Create {
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
        /// When the key stops working, e.g. `30d`, `12h` (from now).
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
        /// What the key may do: admin, deploy, invoke or read.
        #[arg(long, default_value = "admin")]
        role: crate::model::access::Role,
        /// A namespace the key acts in (repeat for several); every namespace without.
        #[arg(long = "namespace", value_name = "NAME")]
        namespaces: Vec<String>,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id.
    Revoke {
        /// The key's id (from `fdo keys list`).
        id: String,
    },
}

/// Runs `fdo keys`.
pub async fn run(args: KeysArgs) -> Result<(), CliError> {
    match (args.database.clone(), args.data_dir.clone()) {
        (Some(url), _) => local(args, Store::Postgres(&url)).await,
        (None, Some(dir)) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                CliError::usage(format!(
                    "cannot create the data directory {}: {e}",
                    dir.display()
                ))
            })?;
            local(args, Store::Sqlite(&dir)).await
        }
        (None, None) => remote(args).await,
    }
}

pub(super) fn expiry(expires_in: Option<std::time::Duration>) -> Option<Timestamp> {
    expires_in.map(|d| {
        Timestamp::from_millis(
            Timestamp::now()
                .as_millis()
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    })
}

async fn local(args: KeysArgs, store: Store<'_>) -> Result<(), CliError> {
    let registry = store
        .open(LogWriterConfig::default())
        .await
        .map_err(|e| CliError::usage(format!("cannot open {store}: {e:#}")))?;
    let failed = |e: crate::registry::RegistryError| match e {
        crate::registry::RegistryError::NotFound { id, .. } => {
            CliError::usage(format!("no key with id {id}"))
        }
        other => CliError::Other(other.into()),
    };
    match args.command {
        KeysCommand::Create {
            name,
            expires_in,
            role,
            namespaces,
        } => {
            let key = crate::model::NewKey {
                name,
                expires_at: expiry(expires_in),
                role,
                namespaces: key_namespaces(namespaces)?,
            };
            let created = registry.create_key(key).await.map_err(failed)?;
            let mut v =
                serde_json::to_value(&created.record).map_err(|e| CliError::Other(e.into()))?;
            v["key"] = json!(created.key);
            print_created(&v, args.client.json);
        }
        KeysCommand::List => {
            let keys = registry.list_keys().await.map_err(failed)?;
            let now = Timestamp::now();
            let keys: Vec<Value> = keys.iter().map(|k| with_status(k, now)).collect();
            print_list(&keys, args.client.json);
        }
        KeysCommand::Revoke { id } => {
            let k = registry.revoke_key(&id).await.map_err(failed)?;
            let mut v = serde_json::to_value(&k).map_err(|e| CliError::Other(e.into()))?;
            v["status"] = json!("revoked");
            print_revoked(&v, args.client.json);
        }
    }
    Ok(())
}

/// `--namespace` flags as a key's namespaces: every one when none is given.
fn key_namespaces(names: Vec<String>) -> Result<crate::model::access::Namespaces, CliError> {
    if names.is_empty() {
        return Ok(crate::model::access::Namespaces::All);
    }
    crate::model::access::Namespaces::only(names)
        .map_err(|e| CliError::usage(format!("--namespace: {}", e.message)))
}

fn with_status(k: &ApiKeyRecord, now: Timestamp) -> Value {
    let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
    v["status"] = json!(k.status(now));
    v
}

async fn remote(args: KeysArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    match args.command {
        KeysCommand::Create {
            name,
            expires_in,
            role,
            namespaces,
        } => {
            let namespaces = (!namespaces.is_empty()).then_some(namespaces);
            let mut body = json!({ "name": name, "role": role, "namespaces": namespaces });
            if let Some(t) = expiry(expires_in) {
                body["expiresAt"] = json!(t.to_iso8601());
            }
            let v = client.post("/v1/api/keys", &body).await?;
            print_created(&v, args.client.json);
        }
        KeysCommand::List => {
            let v = client.get("/v1/api/keys").await?;
            let keys = v
                .get("keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            print_list(&keys, args.client.json);
        }
        KeysCommand::Revoke { id } => {
            let v = client.delete(&format!("/v1/api/keys/{id}")).await?;
            print_revoked(&v, args.client.json);
        }
    }
    Ok(())
}

fn print_created(v: &Value, json: bool) {
    if json {
        output::print_json(v);
    } else {
        // The key alone on stdout, so `KEY=$(fdo keys create)` works.
        outln!("{}", output::text(v.get("key")));
        eprintln!(
            "created key {} ({}); it is shown only this once",
            output::text(v.get("id")),
            output::text(v.get("name"))
        );
    }
}

fn print_list(keys: &[Value], json: bool) {
    if json {
        output::print_json(&json!(keys));
        return;
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            let expires = match k.get("expiresAt") {
                None | Some(Value::Null) => "never".to_owned(),
                other => output::text(other),
            };
            vec![
                output::text(k.get("id")),
                output::text(k.get("name")),
                output::text(k.get("prefix")),
                output::text(k.get("status")),
                output::text(k.get("role")),
                match k.get("namespaces") {
                    None | Some(Value::Null) => "*".to_owned(),
                    ns => output::list(ns),
                },
                output::text(k.get("createdAt")),
                expires,
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "NAME",
            "PREFIX",
            "STATUS",
            "ROLE",
            "NAMESPACES",
            "CREATED",
            "EXPIRES",
        ],
        &rows,
    );
}

fn print_revoked(v: &Value, json: bool) {
    if json {
        output::print_json(v);
    } else {
        outln!(
            "revoked {} ({})",
            output::text(v.get("id")),
            output::text(v.get("name"))
        );
    }
}
