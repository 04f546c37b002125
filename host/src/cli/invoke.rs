//! `fdo invoke`: an RPC or typed call (`invoke ID METHOD [PARAMS...]`), or a raw HTTP request
//! to a `wasi:http` handler (`invoke --http ID [PATH] [-X METHOD] [-d BODY] [-H K:V]`).

use std::io::{Read as _, Write as _};

use clap::Args;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::client::api_error;
use super::{CliError, Client, ClientOpts, output};

/// Arguments of `fdo invoke`.
#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct InvokeArgs {
    #[command(flatten)]
    pub(crate) client: ClientOpts,

    /// The function id.
    pub id: String,
    /// RPC: `METHOD [PARAMS...]`, each param JSON (`42`, `true`, `[1,2]`, `{"a":1}`) or else a
    /// string. With --http: `[PATH]`, the path (and query) passed to the handler.
    #[arg(value_name = "METHOD [PARAMS...] | PATH")]
    pub args: Vec<String>,

    /// The params as one JSON value (an array or an object), instead of positional params.
    #[arg(long, conflicts_with = "param")]
    pub params: Option<String>,
    /// A named param, `NAME=VALUE` (VALUE JSON or else a string); the params become an object.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,

    /// Send a plain HTTP request to a wasi:http handler function.
    #[arg(long)]
    pub http: bool,
    /// With --http: the HTTP method (default GET, or POST with a body).
    #[arg(
        short = 'X',
        long = "request",
        value_name = "METHOD",
        requires = "http"
    )]
    pub method: Option<String>,
    /// With --http: the request body; `@FILE` reads a file, `@-` standard input.
    #[arg(short = 'd', long = "data", value_name = "BODY", requires = "http")]
    pub data: Option<String>,
    /// With --http: a request header, `Name: value` (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        value_name = "NAME: VALUE",
        requires = "http"
    )]
    pub headers: Vec<String>,
    /// With --http: print the status line and the response headers before the body.
    #[arg(short = 'i', long = "include", requires = "http")]
    pub include: bool,
}

/// Runs `fdo invoke`.
pub async fn run(args: InvokeArgs) -> Result<(), CliError> {
    let client = Client::new(&args.client)?;
    if args.http {
        return http(&client, &args).await;
    }
    let Some((method, positional)) = args.args.split_first() else {
        return Err(CliError::usage(
            "give the method to call: fdo invoke ID METHOD [PARAMS...] (or --http for HTTP handlers)",
        ));
    };
    let params = params(positional, args.params.as_deref(), &args.param)?;
    let answer = client
        .post(
            &format!("/v1/functions/{}", path_segment(&args.id)),
            &json!({ "method": method, "params": params }),
        )
        .await?;
    if args.client.json {
        output::print_json(&answer);
    } else {
        match answer.get("result") {
            Some(Value::String(s)) => outln!("{s}"),
            Some(v) => output::print_json(v),
            None => output::print_json(&answer),
        }
    }
    Ok(())
}

/// One param: JSON when it parses, else the text as a string.
pub fn param_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The `params` of the call from positional params, `--params` or `--param`s.
pub fn params(
    positional: &[String],
    whole: Option<&str>,
    named: &[String],
) -> Result<Value, CliError> {
    if let Some(text) = whole {
        if !positional.is_empty() {
            return Err(CliError::usage(
                "give params either positionally or with --params, not both",
            ));
        }
        return serde_json::from_str(text)
            .map_err(|e| CliError::usage(format!("--params is not valid JSON: {e}")));
    }
    if !named.is_empty() {
        if !positional.is_empty() {
            return Err(CliError::usage(
                "give params either positionally or with --param NAME=VALUE, not both",
            ));
        }
        let mut object = Map::new();
        for item in named {
            let Some((k, v)) = item.split_once('=') else {
                return Err(CliError::usage(format!(
                    "--param {item:?}: expected NAME=VALUE"
                )));
            };
            object.insert(k.to_owned(), param_value(v));
        }
        return Ok(Value::Object(object));
    }
    Ok(Value::Array(
        positional.iter().map(|p| param_value(p)).collect(),
    ))
}

/// Percent-encodes what a path segment cannot hold (ids are plain, but say so clearly if not).
pub(crate) fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn http(client: &Client, args: &InvokeArgs) -> Result<(), CliError> {
    if args.params.is_some() || !args.param.is_empty() {
        return Err(CliError::usage(
            "--params/--param are for RPC calls; with --http send a body with -d",
        ));
    }
    let path = match args.args.as_slice() {
        [] => String::new(),
        [p] => p.trim_start_matches('/').to_owned(),
        _ => return Err(CliError::usage("with --http give at most one PATH")),
    };
    let body = match args.data.as_deref() {
        None => None,
        Some("@-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| CliError::usage(format!("reading standard input: {e}")))?;
            Some(buf)
        }
        Some(d) if d.starts_with('@') => Some(
            std::fs::read(&d[1..])
                .map_err(|e| CliError::usage(format!("cannot read {}: {e}", &d[1..])))?,
        ),
        Some(d) => Some(d.as_bytes().to_vec()),
    };
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| CliError::usage(format!("invalid method {m:?}")))?,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let url_path = if path.is_empty() {
        format!("/v1/functions/{}", path_segment(&args.id))
    } else {
        format!("/v1/functions/{}/{path}", path_segment(&args.id))
    };
    let mut request = client.request(method, &url_path);
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(CliError::usage(format!(
                "-H {h:?}: expected \"Name: value\""
            )));
        };
        request = request.header(name.trim(), value.trim());
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = client.send(request).await?;
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CliError::Other(anyhow::anyhow!("reading the answer: {e}")))?;
    // An error of fdo (unknown function, auth, a trap) has the API's error body.
    let fdo_error = !status.is_success()
        && serde_json::from_slice::<Value>(&bytes)
            .ok()
            .is_some_and(|v| {
                v.get("error").is_some_and(Value::is_string)
                    && v.get("message").is_some_and(Value::is_string)
            });
    if fdo_error {
        let text = String::from_utf8_lossy(&bytes);
        return Err(api_error(
            status.as_u16(),
            serde_json::from_slice(&bytes).ok(),
            &text,
        ));
    }
    if args.client.json {
        let header_map: Map<String, Value> = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
                )
            })
            .collect();
        output::print_json(&json!({
            "status": status.as_u16(),
            "headers": header_map,
            "body": String::from_utf8_lossy(&bytes),
        }));
    } else {
        let mut out = std::io::stdout().lock();
        if args.include {
            let _ = writeln!(out, "{version:?} {status}");
            for (k, v) in &headers {
                let _ = writeln!(out, "{k}: {}", String::from_utf8_lossy(v.as_bytes()));
            }
            let _ = writeln!(out);
        }
        let _ = out.write_all(&bytes);
        let _ = out.flush();
    }
    if status.is_client_error() || status.is_server_error() {
        return Err(CliError::Api {
            status: status.as_u16(),
            code: "HTTP_ERROR".into(),
            message: format!("the function answered {status}"),
            body: Value::Null,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_as_json_or_strings() {
        let p = params(
            &["1".into(), "world".into(), "[1,2]".into(), "\"7\"".into()],
            None,
            &[],
        )
        .unwrap();
        assert_eq!(p, json!([1, "world", [1, 2], "7"]));
        assert_eq!(
            params(&[], Some(r#"{"name":"Alice"}"#), &[]).unwrap(),
            json!({"name": "Alice"})
        );
        assert_eq!(
            params(&[], None, &["name=Alice".into(), "n=3".into()]).unwrap(),
            json!({"name": "Alice", "n": 3})
        );
        assert_eq!(params(&[], None, &[]).unwrap(), json!([]));
        assert!(params(&["1".into()], Some("[]"), &[]).is_err());
        assert!(params(&[], Some("{nope"), &[]).is_err());
        assert!(params(&[], None, &["novalue".into()]).is_err());
    }

    #[test]
    fn odd_ids_are_escaped() {
        assert_eq!(path_segment("a-b_c"), "a-b_c");
        assert_eq!(path_segment("a/b"), "a%2Fb");
    }
}
