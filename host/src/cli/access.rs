//! `fdo tokens issue` and `fdo namespaces create|list|show|update|delete|rotate-token-key`:
//! who may call what (issue 22), over HTTP.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::deploy::key_values;
use super::keys::expiry;
use super::{CliError, Client, ClientOpts, output};

/// Arguments of `fdo tokens`.
#[derive(Debug, Args)]
pub struct TokensArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Issue an invocation token for one function or a whole namespace; it is printed alone
    /// on stdout (`TOKEN=$(fdo tokens issue --function ID)`), and is not stored anywhere.
    Issue {
        /// A token for this function only.
        #[arg(
            long,
            conflicts_with = "namespace",
            required_unless_present = "namespace"
        )]
        function: Option<String>,
        /// A token for every function of this namespace.
        #[arg(long)]
        namespace: Option<String>,
        /// When the token stops working, e.g. `1h`, `30d` (from now); without it, when the
        /// namespace's token key is rotated.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
}

/// Runs `fdo tokens`.
pub async fn tokens(args: TokensArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let TokensCommand::Issue {
        function,
        namespace,
        expires_in,
    } = args.command;
    let mut body = match (function, namespace) {
        (Some(id), _) => json!({ "functionId": id }),
        (None, Some(ns)) => json!({ "namespace": ns }),
        (None, None) => return Err(CliError::usage("give --function ID or --namespace NAME")),
    };
    if let Some(t) = expiry(expires_in) {
        body["expiresAt"] = json!(t.to_iso8601());
    }
    let v = client.post("/v1/api/tokens", &body).await?;
    if args.client.json {
        output::print_json(&v);
    } else {
        outln!("{}", output::text(v.get("token")));
        let scope = &v["scope"];
        let what = match scope.get("functionId") {
            Some(id) => format!("function {}", output::text(Some(id))),
            None => format!(
                "every function of namespace {}",
                output::text(scope.get("namespace"))
            ),
        };
        let until = match v.get("expiresAt") {
            None | Some(Value::Null) => "until the namespace's token key is rotated".to_owned(),
            t => format!("until {}", output::text(t)),
        };
        eprintln!("token for {what}, valid {until}; send it as 'Authorization: Bearer TOKEN'");
    }
    Ok(())
}

/// Creates the namespace `ns` declares, or sets its description, env and secrets when it
/// exists; `true` when it was created.
pub async fn ensure_namespace(
    client: &Client,
    ns: &super::manifest::NamespaceSpec,
) -> Result<bool, CliError> {
    let path = format!("/v1/api/namespaces/{}", ns.name);
    match client.get(&path).await {
        Ok(_) => {
            let request = client.request(Method::PATCH, &path).json(&ns.body);
            client.json(request).await?;
            Ok(false)
        }
        Err(CliError::Api { status: 404, .. }) => {
            let mut body = ns.body.clone();
            body["name"] = json!(ns.name);
            client.post("/v1/api/namespaces", &body).await?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Arguments of `fdo namespaces`.
#[derive(Debug, Args)]
pub struct NamespacesArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    #[command(subcommand)]
    command: NamespacesCommand,
}

#[derive(Debug, Subcommand)]
enum NamespacesCommand {
    /// Create a namespace.
    Create {
        /// Its name (the function id rules).
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// An env variable every function of the namespace sees, `K=V`.
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// A secret, `K=V`, or `K` alone to take the value from this shell's environment.
        #[arg(long = "secret", value_name = "K[=V]")]
        secrets: Vec<String>,
    },
    /// List namespaces.
    List,
    /// Show a namespace.
    Show {
        /// The namespace.
        name: String,
    },
    /// Change a namespace: its functions see the change from their next call.
    Update {
        /// The namespace.
        name: String,
        /// A new description.
        #[arg(long)]
        description: Option<String>,
        /// Set an env variable, `K=V`.
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Remove an env variable.
        #[arg(long = "unset-env", value_name = "K")]
        unset_env: Vec<String>,
        /// Set a secret, `K=V`, or `K` alone to take the value from this shell's environment.
        #[arg(long = "secret", value_name = "K[=V]")]
        secrets: Vec<String>,
        /// Remove a secret.
        #[arg(long = "unset-secret", value_name = "K")]
        unset_secrets: Vec<String>,
    },
    /// Delete a namespace (with `--cascade`, its functions too).
    Delete {
        /// The namespace.
        name: String,
        /// Delete its functions, with their versions, history and logs.
        #[arg(long)]
        cascade: bool,
    },
    /// Replace the namespace's token signing key: every token issued for it stops working.
    RotateTokenKey {
        /// The namespace.
        name: String,
    },
}

/// `K=V` pairs, then `K` removals (null), as a merge patch.
fn patch(
    flag: &str,
    set: &[String],
    unset: Vec<String>,
    secret: bool,
) -> Result<Map<String, Value>, CliError> {
    let from_env = |k: &str| std::env::var(k).ok();
    let lookup: Option<super::deploy::Lookup<'_>> = if secret { Some(&from_env) } else { None };
    let mut map = key_values(flag, set, lookup)?;
    for k in unset {
        map.insert(k, Value::Null);
    }
    Ok(map)
}

/// Runs `fdo namespaces`.
pub async fn namespaces(args: NamespacesArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let json = args.client.json;
    let v = match args.command {
        NamespacesCommand::Create {
            name,
            description,
            env,
            secrets,
        } => {
            let mut body = json!({ "name": name });
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            body["env"] = Value::Object(patch("--env", &env, Vec::new(), false)?);
            body["secrets"] = Value::Object(patch("--secret", &secrets, Vec::new(), true)?);
            client.post("/v1/api/namespaces", &body).await?
        }
        NamespacesCommand::List => {
            let v = client.get("/v1/api/namespaces").await?;
            if json {
                output::print_json(&v);
            } else {
                let rows: Vec<Vec<String>> = v["namespaces"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|n| {
                        vec![
                            output::text(n.get("name")),
                            output::text(n.get("functionCount")),
                            output::list(n.get("secretNames")),
                            output::text(n.get("description")),
                        ]
                    })
                    .collect();
                output::table(&["NAME", "FUNCTIONS", "SECRETS", "DESCRIPTION"], &rows);
            }
            return Ok(());
        }
        NamespacesCommand::Show { name } => {
            client.get(&format!("/v1/api/namespaces/{name}")).await?
        }
        NamespacesCommand::Update {
            name,
            description,
            env,
            unset_env,
            secrets,
            unset_secrets,
        } => {
            let mut body = json!({});
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            body["env"] = Value::Object(patch("--env", &env, unset_env, false)?);
            body["secrets"] = Value::Object(patch("--secret", &secrets, unset_secrets, true)?);
            let request = client
                .request(Method::PATCH, &format!("/v1/api/namespaces/{name}"))
                .json(&body);
            client.json(request).await?
        }
        NamespacesCommand::Delete { name, cascade } => {
            let v = client
                .delete(&format!("/v1/api/namespaces/{name}?cascade={cascade}"))
                .await?;
            if json {
                output::print_json(&v);
            } else {
                let gone = v["deletedFunctions"].as_array().map_or(0, Vec::len);
                outln!(
                    "deleted namespace {name} ({gone} function{} with it)",
                    if gone == 1 { "" } else { "s" }
                );
            }
            return Ok(());
        }
        NamespacesCommand::RotateTokenKey { name } => {
            let v = client
                .post(
                    &format!("/v1/api/namespaces/{name}/rotate-token-key"),
                    &json!({}),
                )
                .await?;
            if json {
                output::print_json(&v);
            } else {
                outln!(
                    "rotated the token key of {name}: every token issued before no longer works"
                );
            }
            return Ok(());
        }
    };
    if json {
        output::print_json(&v);
    } else {
        output::fields(&[
            ("name", output::text(v.get("name"))),
            ("description", output::text(v.get("description"))),
            ("env", output::pairs(v.get("env"))),
            ("secrets", output::list(v.get("secretNames"))),
            ("functions", output::text(v.get("functionCount"))),
            ("created", output::text(v.get("createdAt"))),
            ("updated", output::text(v.get("updatedAt"))),
        ]);
    }
    Ok(())
}
