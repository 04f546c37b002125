//! `fdo list`, `info`, `versions`, `rollback`, `delete`: the management routes, printed.

use clap::Args;
use serde_json::{Value, json};

use super::{CliError, Client, ClientOpts, output};

/// Arguments of `fdo list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
}

/// Arguments of `fdo info` and `fdo versions`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    /// The function id.
    pub id: String,
}

/// Arguments of `fdo rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    /// The function id.
    pub id: String,
    /// The version to make active again.
    pub version: String,
}

/// Arguments of `fdo delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    /// The function id.
    pub id: String,
}

/// Checks `id` with the host's rules, so a typo gets the API's message without a request
/// to a path it cannot name.
fn checked(id: &str) -> Result<&str, CliError> {
    crate::validate::validate_function_id(id).map_err(|e| CliError::usage(e.message))?;
    Ok(id)
}

/// `fdo list`.
pub async fn list(args: ListArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let answer = client.get("/v1/api/functions").await?;
    if args.client.json {
        output::print_json(&answer);
        return Ok(());
    }
    let functions = answer.as_array().cloned().unwrap_or_default();
    if functions.is_empty() {
        outln!("no functions deployed");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = functions
        .iter()
        .map(|f| {
            vec![
                output::text(f.get("id")),
                output::text(f.get("version")),
                output::text(f.get("language")),
                f.get("size")
                    .and_then(Value::as_u64)
                    .map_or_else(|| "-".into(), output::bytes),
                output::text(f.get("updatedAt")),
            ]
        })
        .collect();
    output::table(&["ID", "VERSION", "LANGUAGE", "SIZE", "UPDATED"], &rows);
    Ok(())
}

/// `fdo info ID`.
pub async fn info(args: InfoArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let f = client
        .get(&format!("/v1/api/functions/{}/info", checked(&args.id)?))
        .await?;
    if args.client.json {
        output::print_json(&f);
        return Ok(());
    }
    let get = |k: &str| output::text(f.get(k));
    let mut rows = vec![
        ("id", get("id")),
        ("status", get("status")),
        ("version", get("version")),
    ];
    if f.get("servedVersion").is_some() {
        rows.push(("served version", get("servedVersion")));
    }
    rows.push(("kind", get("kind")));
    if f.get("interface").is_some() {
        rows.push(("interface", get("interface")));
    }
    rows.extend([
        ("language", get("language")),
        ("entry point", get("entryPoint")),
        ("dependencies", output::pairs(f.get("dependencies"))),
        ("digest", get("digest")),
        (
            "size",
            f.get("size")
                .and_then(Value::as_u64)
                .map_or_else(|| "-".into(), output::bytes),
        ),
        ("limits", output::pairs(f.get("limits"))),
        ("env", output::pairs(f.get("env"))),
        ("secrets", output::list(f.get("secrets"))),
        ("allowed hosts", output::list(f.get("allowedHosts"))),
        ("from cache", get("fromCache")),
        (
            "load time",
            f.get("loadTimeMs")
                .and_then(Value::as_f64)
                .map_or_else(|| "-".into(), |ms| format!("{ms:.3} ms")),
        ),
        ("degraded", get("degraded")),
    ]);
    if f.get("degradationReason").is_some() {
        rows.push(("reason", get("degradationReason")));
    }
    rows.extend([("created", get("createdAt")), ("updated", get("updatedAt"))]);
    output::fields(&rows);
    if let Some(exports) = f.get("exports").and_then(Value::as_array) {
        outln!("exports:");
        for e in exports {
            outln!("  {}", output::text(Some(e)));
        }
    }
    Ok(())
}

/// `fdo versions ID`.
pub async fn versions(args: InfoArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let answer = client
        .get(&format!(
            "/v1/api/functions/{}/versions",
            checked(&args.id)?
        ))
        .await?;
    if args.client.json {
        output::print_json(&answer);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = answer
        .get("versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .map(|v| {
                    let active = if v.get("active") == Some(&Value::Bool(true)) {
                        "*"
                    } else {
                        ""
                    };
                    vec![
                        active.to_owned(),
                        output::text(v.get("version")),
                        output::text(v.get("digest")),
                        output::text(v.get("createdAt")),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    output::table(&["", "VERSION", "DIGEST", "CREATED"], &rows);
    if let Some(history) = answer
        .get("history")
        .and_then(Value::as_array)
        .filter(|h| !h.is_empty())
    {
        outln!("");
        let rows: Vec<Vec<String>> = history
            .iter()
            .map(|h| {
                vec![
                    output::text(h.get("at")),
                    output::text(h.get("action")),
                    output::text(h.get("version")),
                    output::text(h.get("previousVersion")),
                ]
            })
            .collect();
        output::table(&["AT", "ACTION", "VERSION", "PREVIOUS"], &rows);
    }
    Ok(())
}

/// `fdo rollback ID VERSION`.
pub async fn rollback(args: RollbackArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let answer = client
        .post(
            &format!("/v1/api/functions/{}/rollback", checked(&args.id)?),
            &json!({ "version": args.version }),
        )
        .await?;
    if args.client.json {
        output::print_json(&answer);
    } else {
        outln!(
            "{}: {} is active again (was {})",
            output::text(answer.get("id")),
            output::text(answer.get("version")),
            output::text(answer.get("previous"))
        );
    }
    Ok(())
}

/// `fdo delete ID`.
pub async fn delete(args: DeleteArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    let answer = client
        .delete(&format!("/v1/api/functions/{}", checked(&args.id)?))
        .await?;
    if args.client.json {
        output::print_json(&answer);
    } else {
        outln!("deleted {}", output::text(answer.get("id")));
    }
    Ok(())
}
