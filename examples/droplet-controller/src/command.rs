//! Turning the function's arguments into one [`Command`], rejecting bad input before any API
//! call.
//!
//! The arguments are the seed's: `droplet_id` (a positive integer, as a number or a string),
//! `tag`, `limit` and `action` (`power_on` or `power_off`). Without `droplet_id` the function
//! lists droplets; with it, it gets that droplet, or acts on it when `action` is given.
//! Keys starting with `__` (DigitalOcean web-function metadata such as `__ow_headers`) are
//! ignored; any other unknown key is an error, so a typo does not silently change the meaning.

use crate::error::ControllerError;
use serde_json::{Map, Value};

/// How many droplets a listing returns when `limit` is not given (the seed's default).
pub const DEFAULT_LIMIT: u32 = 10;

/// The largest `limit` accepted: it bounds how many pages one call may fetch.
pub const MAX_LIMIT: u32 = 1000;

/// The argument names the function understands.
const KNOWN_KEYS: [&str; 4] = ["droplet_id", "tag", "limit", "action"];

/// A power action on a droplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    /// Power the droplet on.
    PowerOn,
    /// Power the droplet off (a hard shutdown).
    PowerOff,
}

impl PowerAction {
    /// The action's `type` in DigitalOcean's API (and the function's `action` argument).
    pub fn api_type(self) -> &'static str {
        match self {
            PowerAction::PowerOn => "power_on",
            PowerAction::PowerOff => "power_off",
        }
    }

    /// `on` or `off`, for the seed's message "Power on initiated for droplet 12345".
    pub fn state(self) -> &'static str {
        match self {
            PowerAction::PowerOn => "on",
            PowerAction::PowerOff => "off",
        }
    }

    /// Parses the `action` argument.
    fn parse(action: &str) -> Result<Self, ControllerError> {
        match action {
            "power_on" => Ok(PowerAction::PowerOn),
            "power_off" => Ok(PowerAction::PowerOff),
            other => Err(ControllerError::InvalidInput(format!(
                "unknown action `{other}`: the supported actions are `power_on` and `power_off`"
            ))),
        }
    }
}

/// What one call of the function does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// List droplets, optionally only those with `tag`, at most `limit` of them.
    List {
        /// The tag to filter by.
        tag: Option<String>,
        /// How many droplets to return at most.
        limit: u32,
    },
    /// Get one droplet.
    Get {
        /// The droplet's id.
        droplet_id: u64,
    },
    /// Power a droplet on or off.
    Power {
        /// The droplet's id.
        droplet_id: u64,
        /// The action.
        action: PowerAction,
    },
}

impl Command {
    /// Reads the command from the function's arguments (an object, or `null` for none).
    pub fn from_args(args: &Value) -> Result<Command, ControllerError> {
        let empty = Map::new();
        let args = match args {
            Value::Object(map) => map,
            Value::Null => &empty,
            other => {
                return Err(ControllerError::InvalidInput(format!(
                    "the arguments must be a JSON object, got {}",
                    kind(other)
                )));
            }
        };
        if let Some(unknown) = args
            .keys()
            .find(|key| !key.starts_with("__") && !KNOWN_KEYS.contains(&key.as_str()))
        {
            return Err(ControllerError::InvalidInput(format!(
                "unknown argument `{unknown}`: the arguments are `droplet_id`, `tag`, `limit` and `action`"
            )));
        }

        let droplet_id = droplet_id(args.get("droplet_id"))?;
        let action = match present(args.get("action")) {
            None => None,
            Some(Value::String(action)) => Some(PowerAction::parse(action)?),
            Some(other) => {
                return Err(ControllerError::InvalidInput(format!(
                    "`action` must be a string (`power_on` or `power_off`), got {}",
                    kind(other)
                )));
            }
        };
        let tag = match present(args.get("tag")) {
            None => None,
            Some(Value::String(tag)) if tag.is_empty() => None,
            Some(Value::String(tag)) => Some(tag.clone()),
            Some(other) => {
                return Err(ControllerError::InvalidInput(format!(
                    "`tag` must be a string, got {}",
                    kind(other)
                )));
            }
        };
        let limit = limit(args.get("limit"))?;

        match (droplet_id, action) {
            (Some(droplet_id), Some(action)) => Ok(Command::Power { droplet_id, action }),
            (Some(droplet_id), None) => Ok(Command::Get { droplet_id }),
            (None, Some(action)) => Err(ControllerError::InvalidInput(format!(
                "the `{}` action needs a `droplet_id`",
                action.api_type()
            ))),
            (None, None) => Ok(Command::List { tag, limit }),
        }
    }
}

/// The value of an argument unless it is absent or `null`.
fn present(value: Option<&Value>) -> Option<&Value> {
    value.filter(|value| !value.is_null())
}

/// Reads `droplet_id`: a positive integer given as a number or a string of digits.
fn droplet_id(value: Option<&Value>) -> Result<Option<u64>, ControllerError> {
    let invalid = |shown: String| {
        ControllerError::InvalidInput(format!(
            "`droplet_id` must be a positive integer, got {shown}"
        ))
    };
    let id = match present(value) {
        None => return Ok(None),
        Some(Value::Number(number)) => {
            number.as_u64().ok_or_else(|| invalid(number.to_string()))?
        }
        Some(Value::String(text)) => {
            let trimmed = text.trim();
            if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!("{text:?}")));
            }
            trimmed.parse().map_err(|_| invalid(format!("{text:?}")))?
        }
        Some(other) => return Err(invalid(kind(other).to_owned())),
    };
    if id == 0 {
        return Err(invalid("0".to_owned()));
    }
    Ok(Some(id))
}

/// Reads `limit`: an integer from 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn limit(value: Option<&Value>) -> Result<u32, ControllerError> {
    let invalid = |shown: String| {
        ControllerError::InvalidInput(format!(
            "`limit` must be an integer from 1 to {MAX_LIMIT}, got {shown}"
        ))
    };
    let limit = match present(value) {
        None => return Ok(DEFAULT_LIMIT),
        Some(Value::Number(number)) => {
            number.as_u64().ok_or_else(|| invalid(number.to_string()))?
        }
        Some(Value::String(text)) => text
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{text:?}")))?,
        Some(other) => return Err(invalid(kind(other).to_owned())),
    };
    match u32::try_from(limit) {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(invalid(limit.to_string())),
    }
}

/// What kind of JSON value this is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(args: Value) -> Result<Command, String> {
        Command::from_args(&args).map_err(|error| match error {
            ControllerError::InvalidInput(message) => message,
            other => panic!("expected invalid input, got {other:?}"),
        })
    }

    #[test]
    fn no_arguments_list_ten_droplets() {
        let expected = Command::List {
            tag: None,
            limit: DEFAULT_LIMIT,
        };
        assert_eq!(parse(json!({})).unwrap(), expected);
        assert_eq!(parse(Value::Null).unwrap(), expected);
    }

    #[test]
    fn list_takes_a_tag_and_a_limit() {
        assert_eq!(
            parse(json!({"tag": "env:prod", "limit": 5})).unwrap(),
            Command::List {
                tag: Some("env:prod".into()),
                limit: 5
            }
        );
        assert_eq!(
            parse(json!({"tag": "", "limit": "3", "__ow_method": "post"})).unwrap(),
            Command::List {
                tag: None,
                limit: 3
            }
        );
    }

    #[test]
    fn a_droplet_id_gets_and_an_action_acts() {
        assert_eq!(
            parse(json!({"droplet_id": "12345"})).unwrap(),
            Command::Get { droplet_id: 12345 }
        );
        assert_eq!(
            parse(json!({"droplet_id": 12345})).unwrap(),
            Command::Get { droplet_id: 12345 }
        );
        assert_eq!(
            parse(json!({"droplet_id": "12345", "action": "power_on"})).unwrap(),
            Command::Power {
                droplet_id: 12345,
                action: PowerAction::PowerOn
            }
        );
        assert_eq!(
            parse(json!({"droplet_id": 7, "action": "power_off"})).unwrap(),
            Command::Power {
                droplet_id: 7,
                action: PowerAction::PowerOff
            }
        );
    }

    #[test]
    fn bad_droplet_ids_are_rejected() {
        for id in [
            json!("abc"),
            json!("12a"),
            json!(""),
            json!(-3),
            json!(1.5),
            json!(0),
            json!(true),
            json!("99999999999999999999999"),
        ] {
            let message = parse(json!({"droplet_id": id})).unwrap_err();
            assert!(
                message.starts_with("`droplet_id` must be a positive integer, got"),
                "{id}: {message}"
            );
        }
    }

    #[test]
    fn bad_actions_are_rejected() {
        let message = parse(json!({"droplet_id": 1, "action": "reboot"})).unwrap_err();
        assert_eq!(
            message,
            "unknown action `reboot`: the supported actions are `power_on` and `power_off`"
        );
        let message = parse(json!({"action": "power_on"})).unwrap_err();
        assert_eq!(message, "the `power_on` action needs a `droplet_id`");
        let message = parse(json!({"droplet_id": 1, "action": 3})).unwrap_err();
        assert!(
            message.starts_with("`action` must be a string"),
            "{message}"
        );
    }

    #[test]
    fn bad_limits_tags_and_keys_are_rejected() {
        for limit in [
            json!(0),
            json!(1001),
            json!(-1),
            json!("ten"),
            json!(2.5),
            json!([]),
        ] {
            let message = parse(json!({"limit": limit})).unwrap_err();
            assert!(
                message.starts_with("`limit` must be an integer from 1 to 1000"),
                "{limit}: {message}"
            );
        }
        assert!(
            parse(json!({"tag": 5}))
                .unwrap_err()
                .starts_with("`tag` must be a string")
        );
        assert!(
            parse(json!({"dropletid": 5}))
                .unwrap_err()
                .starts_with("unknown argument `dropletid`")
        );
        assert!(
            parse(json!([1]))
                .unwrap_err()
                .contains("must be a JSON object, got an array")
        );
    }

    #[test]
    fn actions_know_their_api_type_and_state() {
        assert_eq!(
            (
                PowerAction::PowerOn.api_type(),
                PowerAction::PowerOn.state()
            ),
            ("power_on", "on")
        );
        assert_eq!(
            (
                PowerAction::PowerOff.api_type(),
                PowerAction::PowerOff.state()
            ),
            ("power_off", "off")
        );
    }
}
