//! `fdo logs ID [--follow] [--level L] [--limit N] [--since T]`: a function's log entries,
//! oldest first. `--follow` polls with the API's `timestamp` filter and prints each new entry
//! once.

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use super::{CliError, Client, ClientOpts, output};
use crate::model::Timestamp;

/// Default time between two polls of `--follow`.
pub const DEFAULT_FOLLOW_INTERVAL: &str = "1s";
/// Entries asked for per poll while following (the API's largest `limit`).
const FOLLOW_LIMIT: usize = 1000;

/// Arguments of `fdo logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,
    /// The function id.
    pub id: String,
    /// Keep printing new entries as they come (Ctrl-C stops).
    #[arg(short, long)]
    pub follow: bool,
    /// Only entries of this level: debug, info, warn, error.
    #[arg(long)]
    pub level: Option<String>,
    /// The newest N entries (1 to 1000; the API's default is 100).
    #[arg(short = 'n', long)]
    pub limit: Option<usize>,
    /// Only entries after this instant (ISO 8601 or Unix milliseconds).
    #[arg(long)]
    pub since: Option<String>,
    /// Time between two polls with --follow.
    #[arg(long, default_value = DEFAULT_FOLLOW_INTERVAL, value_parser = humantime::parse_duration)]
    pub interval: Duration,
}

/// Runs `fdo logs`.
pub async fn run(args: LogsArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    crate::validate::validate_function_id(&args.id).map_err(|e| CliError::usage(e.message))?;
    let mut since = match &args.since {
        Some(s) => Some(parse_instant(s).ok_or_else(|| {
            CliError::usage(format!(
                "--since {s:?}: expected ISO 8601 or Unix milliseconds"
            ))
        })?),
        None => None,
    };
    let first = fetch(&client, &args, since, args.limit).await?;
    let mut seen = Seen::default();
    print_batch(&args, &first, &mut seen);
    if !args.follow {
        return Ok(());
    }
    if let Some(t) = seen.latest {
        since = Some(t);
    }
    loop {
        tokio::time::sleep(args.interval).await;
        // Ask from one millisecond before the newest entry printed: entries stamped in that
        // same millisecond may still arrive; `seen` drops the ones already printed.
        let after = since.map(|t| Timestamp::from_millis(t.as_millis() - 1));
        let batch = fetch(&client, &args, after, Some(FOLLOW_LIMIT)).await?;
        if batch.len() >= FOLLOW_LIMIT {
            eprintln!(
                "warning: more than {FOLLOW_LIMIT} entries since the last poll; older ones were skipped"
            );
        }
        print_batch(&args, &batch, &mut seen);
        if let Some(t) = seen.latest {
            since = Some(t);
        }
    }
}

fn parse_instant(s: &str) -> Option<Timestamp> {
    s.parse::<i64>()
        .ok()
        .map(Timestamp::from_millis)
        .or_else(|| Timestamp::parse(s))
}

/// Entries, oldest first.
async fn fetch(
    client: &Client,
    args: &LogsArgs,
    after: Option<Timestamp>,
    limit: Option<usize>,
) -> Result<Vec<Value>, CliError> {
    let mut query: Vec<(&str, String)> = Vec::new();
    if let Some(level) = &args.level {
        query.push(("level", level.clone()));
    }
    if let Some(t) = after {
        query.push(("timestamp", t.as_millis().to_string()));
    }
    if let Some(n) = limit {
        query.push(("limit", n.to_string()));
    }
    let request = client
        .request(
            reqwest::Method::GET,
            &format!("/v1/functions/{}/logs", args.id),
        )
        .query(&query);
    let answer = client.json(request).await?;
    let mut logs = answer
        .get("logs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The API answers newest first.
    logs.reverse();
    Ok(logs)
}

/// What was printed in the newest millisecond, to print each entry once while following.
#[derive(Default)]
struct Seen {
    latest: Option<Timestamp>,
    at_latest: HashMap<String, usize>,
}

fn print_batch(args: &LogsArgs, batch: &[Value], seen: &mut Seen) {
    let mut in_batch: HashMap<String, usize> = HashMap::new();
    for entry in batch {
        let Some(t) = entry
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
        else {
            continue;
        };
        let key = entry.to_string();
        if seen.latest.is_some_and(|l| t < l) {
            continue;
        }
        if seen.latest == Some(t) {
            // Identical entries in one millisecond: print only those beyond the count seen.
            let n = in_batch.entry(key.clone()).or_default();
            *n += 1;
            if *n <= seen.at_latest.get(&key).copied().unwrap_or(0) {
                continue;
            }
        }
        if seen.latest != Some(t) {
            seen.latest = Some(t);
            seen.at_latest.clear();
            in_batch.clear();
            in_batch.insert(key.clone(), 1);
        }
        *seen.at_latest.entry(key).or_default() += 1;
        print_entry(args, entry);
    }
}

fn print_entry(args: &LogsArgs, e: &Value) {
    if args.client.json {
        outln!("{e}");
        return;
    }
    let mut tags = Vec::new();
    if let Some(v) = e.get("version").and_then(Value::as_str) {
        tags.push(format!("v{v}"));
    }
    if let Some(r) = e.get("requestId").and_then(Value::as_str) {
        tags.push(format!("req {}", r.get(..12).unwrap_or(r)));
    }
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", tags.join(" "))
    };
    outln!(
        "{} {:<5}{tags} {}",
        output::text(e.get("timestamp")),
        output::text(e.get("level")).to_uppercase(),
        output::text(e.get("message"))
    );
}
