//! `fdo keys create|list|revoke`: API keys managed directly in a data directory. This works
//! whether or not the host is running (the database allows a second writer); a revocation
//! reaches a running host within its key-cache TTL (5 s).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::registry::{Registry, SqliteRegistry, Timestamp};

/// Arguments of `fdo keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The host's data directory.
    #[arg(long, env = "FDO_DATA_DIR", default_value = crate::config::DEFAULT_DATA_DIR, global = true)]
    data_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
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
pub async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || run_blocking(args)).await?
}

fn run_blocking(args: KeysArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)?;
    let registry = SqliteRegistry::open(&args.data_dir)?;
    match args.command {
        KeysCommand::Create { name, expires_in } => {
            let expires = expires_in.map(|d| Timestamp::from_millis(Timestamp::now().as_millis() + d.as_millis() as i64));
            let created = registry.create_key(&name, expires)?;
            if args.json {
                let mut v = serde_json::to_value(&created.record)?;
                v["key"] = serde_json::json!(created.key);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{}", created.key);
                eprintln!("created key {} ({}); it is shown only this once", created.record.id, created.record.name);
            }
        }
        KeysCommand::List => {
            let keys = registry.list_keys()?;
            let now = Timestamp::now();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!("{:<24} {:<16} {:<14} {:<9} {:<25} EXPIRES", "ID", "NAME", "PREFIX", "STATUS", "CREATED");
                for k in keys {
                    let status = serde_json::to_value(k.status(now))?.as_str().unwrap_or("").to_owned();
                    let expires = k.expires_at.map_or("never".into(), |t| t.to_iso8601());
                    println!("{:<24} {:<16} {:<14} {:<9} {:<25} {expires}", k.id, k.name, k.prefix, status, k.created_at.to_iso8601());
                }
            }
        }
        KeysCommand::Revoke { id } => {
            let k = registry.revoke_key(&id)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&k)?);
            } else {
                println!("revoked {} ({})", k.id, k.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
