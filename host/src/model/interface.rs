//! How a WASI command is called.

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// How a WASI command is called (`interface` at deploy; a component that is not a command
/// takes only `rpc`, the default).
///
/// * `rpc`: `{"method", "params"}` as JSON on stdin, the result on stdout.
/// * `http`: HTTP requests on the pass-through routes, CGI-style (WAGI's conventions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    /// `rpc` (the default).
    #[default]
    Rpc,
    /// `http`: CGI over the pass-through routes.
    Http,
}

impl Interface {
    /// Its name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Rpc => "rpc",
            Interface::Http => "http",
        }
    }

    /// Whether this is the default (`rpc`).
    pub fn is_default(&self) -> bool {
        *self == Interface::Rpc
    }
}

impl std::str::FromStr for Interface {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rpc" => Ok(Interface::Rpc),
            "http" => Ok(Interface::Http),
            _ => Err(ValidationError::new(
                "interface",
                s,
                "Invalid interface: must be \"rpc\" or \"http\"",
            )),
        }
    }
}
