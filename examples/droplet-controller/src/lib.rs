//! `droplet-controller`: DigitalOcean's `do-api` sample function in Rust on `fdo-sdk`.
//!
//! It lists droplets (optionally by tag, `limit` default 10, across API pages), gets one by
//! `droplet_id`, or powers one on or off. The RPC method is `main`, taking the params object
//! as the sample's `args`:
//!
//! ```text
//! {"method": "main", "params": {"tag": "web", "limit": 5}}
//!   -> {"body": {"droplets": [...], "count": 2, "status": "success"}}
//! {"method": "main", "params": {"droplet_id": "12345"}}
//!   -> {"body": {"droplets": [{...}], "count": 1, "status": "success"}}
//! {"method": "main", "params": {"droplet_id": "12345", "action": "power_on"}}
//!   -> {"body": {"action": {...}, "status": "success",
//!                "message": "Power on initiated for droplet 12345"}}
//! ```
//!
//! Bad input is refused with `invalid-params` before any API call; API and network failures
//! are `failed` with a message saying what happened (see [`error`]).
//!
//! Deploy it with the secret `DO_API_TOKEN` (never logged) and, to talk to something other
//! than DigitalOcean (a test server, a proxy), the variable `DO_API_BASE_URL`. The function's
//! outbound allow-list must include the API's host (`api.digitalocean.com` by default).

pub mod api;
pub mod command;
pub mod droplet;
pub mod error;

use api::{Client, Transport, WasiHttp};
use command::{Command, PowerAction};
use droplet::DropletSummary;
use error::ControllerError;
use fdo_sdk::CallError;
use fdo_sdk::env::{MissingSecret, Secret};
use serde_json::{Value, json};

/// The secret holding the DigitalOcean API token.
pub const TOKEN_SECRET: &str = "DO_API_TOKEN";

/// The environment variable that overrides the API's base URL.
pub const BASE_URL_VAR: &str = "DO_API_BASE_URL";

/// DigitalOcean's API.
pub const DEFAULT_API_BASE_URL: &str = "https://api.digitalocean.com";

/// The function: reads the command from `args`, calls the API, shapes the answer.
#[fdo_sdk::function]
pub fn main(args: Value) -> Result<Value, CallError> {
    run(&args, Config::from_env(), WasiHttp).map_err(|error| {
        match &error {
            ControllerError::InvalidInput(message) => fdo_sdk::warn!("bad input: {message}"),
            other => fdo_sdk::error!("{other}"),
        }
        CallError::from(error)
    })
}

/// The function's deploy-time settings.
pub struct Config {
    /// The API token, or why there is none.
    pub token: Result<Secret, MissingSecret>,
    /// The API's base URL.
    pub base_url: String,
}

impl Config {
    /// Reads [`TOKEN_SECRET`] and [`BASE_URL_VAR`] (default [`DEFAULT_API_BASE_URL`]).
    pub fn from_env() -> Self {
        Config {
            token: fdo_sdk::secret(TOKEN_SECRET),
            base_url: fdo_sdk::env::var_or(BASE_URL_VAR, DEFAULT_API_BASE_URL),
        }
    }
}

/// Everything [`main`] does, with the settings and the HTTP transport passed in.
///
/// The arguments are checked first, so bad input is refused without touching the token or
/// the network.
pub fn run<T: Transport>(
    args: &Value,
    config: Config,
    transport: T,
) -> Result<Value, ControllerError> {
    let command = Command::from_args(args)?;
    let token = config.token?;
    let client = Client::new(&config.base_url, token, transport)?;
    execute(&client, &command)
}

/// Runs a command against the API and shapes the seed's response.
pub fn execute<T: Transport>(
    client: &Client<T>,
    command: &Command,
) -> Result<Value, ControllerError> {
    match command {
        Command::List { tag, limit } => {
            match tag {
                Some(tag) => fdo_sdk::info!("listing up to {limit} droplets tagged {tag}"),
                None => fdo_sdk::info!("listing up to {limit} droplets"),
            }
            let droplets = client.list_droplets(tag.as_deref(), *limit)?;
            let summaries = droplets
                .iter()
                .map(droplet::summarize)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(droplets_body(summaries))
        }
        Command::Get { droplet_id } => {
            fdo_sdk::info!("getting droplet {droplet_id}");
            let droplet = client.get_droplet(*droplet_id)?;
            Ok(droplets_body(vec![droplet::summarize(&droplet)?]))
        }
        Command::Power { droplet_id, action } => {
            fdo_sdk::info!("requesting {} for droplet {droplet_id}", action.api_type());
            let response = client.power(*droplet_id, *action)?;
            Ok(action_body(response, *droplet_id, *action))
        }
    }
}

/// `{"body": {"droplets": [...], "count": n, "status": "success"}}`.
pub fn droplets_body(droplets: Vec<DropletSummary>) -> Value {
    let count = droplets.len();
    json!({
        "body": {
            "droplets": droplets,
            "count": count,
            "status": "success",
        }
    })
}

/// `{"body": {"action": {...}, "status": "success", "message": "Power on initiated for
/// droplet 12345"}}`.
pub fn action_body(action_response: Value, droplet_id: u64, action: PowerAction) -> Value {
    json!({
        "body": {
            "action": action_response,
            "status": "success",
            "message": format!("Power {} initiated for droplet {droplet_id}", action.state()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::api::tests::{Scripted, answer};
    use super::*;

    fn config(token: Option<&str>) -> Config {
        Config {
            token: token.map(Secret::new).ok_or(MissingSecret {
                name: TOKEN_SECRET.into(),
            }),
            base_url: "http://127.0.0.1:9".into(),
        }
    }

    fn client(script: &Scripted) -> Client<&Scripted> {
        Client::new("http://127.0.0.1:9", Secret::new("tok"), script).unwrap()
    }

    fn droplet(id: u64, ip: &str) -> Value {
        json!({
            "id": id, "name": format!("web-{id}"), "status": "active",
            "created_at": "2020-07-21T18:37:44Z", "memory": 1024, "vcpus": 1, "disk": 25,
            "region": {"slug": "nyc3", "name": "New York 3"},
            "image": {"name": "20.04 (LTS) x64", "distribution": "Ubuntu"},
            "networks": {"v4": [{"ip_address": ip, "netmask": "255.255.255.0", "gateway": "", "type": "public"}]},
            "tags": ["web"]
        })
    }

    #[test]
    fn listing_answers_in_the_seed_shape() {
        let script = Scripted::new(vec![answer(
            200,
            json!({
                "droplets": [droplet(1, "192.0.2.1"), droplet(2, "192.0.2.2")],
                "links": {"pages": {}}, "meta": {"total": 2}
            }),
        )]);
        let body = execute(
            &client(&script),
            &Command::List {
                tag: Some("web".into()),
                limit: 10,
            },
        )
        .unwrap();
        assert_eq!(body["body"]["status"], "success");
        assert_eq!(body["body"]["count"], 2);
        assert_eq!(body["body"]["droplets"][1]["public_ipv4"], "192.0.2.2");
        assert_eq!(
            body["body"]["droplets"][0]["region"],
            json!({"slug": "nyc3", "name": "New York 3"})
        );
        assert_eq!(body.as_object().unwrap().len(), 1, "only `body` at the top");
    }

    #[test]
    fn getting_answers_one_droplet_in_the_list_shape() {
        let script = Scripted::new(vec![answer(
            200,
            json!({"droplet": droplet(12345, "192.0.2.9")}),
        )]);
        let body = execute(&client(&script), &Command::Get { droplet_id: 12345 }).unwrap();
        assert_eq!(body["body"]["count"], 1);
        assert_eq!(body["body"]["droplets"][0]["id"], 12345);
        assert_eq!(body["body"]["droplets"][0]["name"], "web-12345");
    }

    #[test]
    fn actions_answer_with_the_seed_message() {
        let action = json!({"id": 36804636, "status": "in-progress", "type": "power_on", "resource_id": 12345});
        let script = Scripted::new(vec![answer(201, json!({"action": action.clone()}))]);
        let command = Command::Power {
            droplet_id: 12345,
            action: PowerAction::PowerOn,
        };
        let body = execute(&client(&script), &command).unwrap();
        assert_eq!(
            body,
            json!({"body": {"action": action, "status": "success", "message": "Power on initiated for droplet 12345"}})
        );
        assert_eq!(
            action_body(json!({}), 7, PowerAction::PowerOff)["body"]["message"],
            "Power off initiated for droplet 7"
        );
    }

    #[test]
    fn bad_input_fails_before_the_token_or_the_network_are_touched() {
        let script = Scripted::new(vec![]);
        let error = run(&json!({"droplet_id": "abc"}), config(None), &script).unwrap_err();
        assert!(matches!(error, ControllerError::InvalidInput(_)));
        let error = run(&json!({"action": "power_on"}), config(Some("tok")), &script).unwrap_err();
        assert!(matches!(error, ControllerError::InvalidInput(_)));
        assert!(script.requests().is_empty());
    }

    #[test]
    fn a_missing_token_is_reported_without_calling_the_api() {
        let script = Scripted::new(vec![]);
        let error = run(&json!({}), config(None), &script).unwrap_err();
        assert!(
            matches!(error, ControllerError::MissingToken(_)),
            "{error:?}"
        );
        assert!(
            error.to_string().contains("`DO_API_TOKEN` is not set"),
            "{error}"
        );
        assert!(script.requests().is_empty());
    }

    #[test]
    fn run_calls_the_configured_base_url() {
        let script = Scripted::new(vec![answer(
            200,
            json!({"droplet": droplet(5, "192.0.2.5")}),
        )]);
        let body = run(&json!({"droplet_id": 5}), config(Some("tok")), &script).unwrap();
        assert_eq!(body["body"]["droplets"][0]["id"], 5);
        assert_eq!(
            script.requests(),
            vec!["GET http://127.0.0.1:9/v2/droplets/5"]
        );
    }
}
