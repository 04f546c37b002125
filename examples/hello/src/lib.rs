//! `hello`: the DigitalOcean Functions sample greeting, as an fdo function.
//!
//! The sample is `def main(args): name = args.get("name", "stranger"); return {"body":
//! "Hello " + name + "!"}`. Here it is the RPC method `main`, taking the params object as its
//! `args`:
//!
//! ```text
//! POST /v1/functions/hello  {"method": "main", "params": {"name": "Alice"}}
//!   -> {"body": "Hello Alice!"}
//! POST /v1/functions/hello  {"method": "main", "params": {}}
//!   -> {"body": "Hello stranger!"}
//! ```

use serde::{Deserialize, Serialize};

/// Who is greeted when the call does not say.
pub const DEFAULT_NAME: &str = "stranger";

/// The sample's arguments.
#[derive(Debug, Default, Deserialize)]
pub struct Args {
    /// Who to greet; [`DEFAULT_NAME`] when absent or `null`.
    pub name: Option<String>,
}

/// The sample's answer: a web-function style `{"body": ...}`.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// The greeting.
    pub body: String,
}

/// Greets `args.name`, or a stranger.
#[fdo_sdk::function]
pub fn main(args: Args) -> Reply {
    let name = args.name.as_deref().unwrap_or(DEFAULT_NAME);
    fdo_sdk::info!("greeting {name}");
    Reply {
        body: format!("Hello {name}!"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fdo_sdk::CallError;
    use fdo_sdk::rpc::__private::Guest;

    fn call(params: &str) -> Result<String, CallError> {
        __FdoSdkFunction::call("main".into(), params.into())
    }

    #[test]
    fn greets_by_name_or_a_stranger() {
        let alice = main(Args {
            name: Some("Alice".into()),
        });
        assert_eq!(alice.body, "Hello Alice!");
        assert_eq!(main(Args::default()).body, "Hello stranger!");
    }

    #[test]
    fn the_rpc_method_takes_the_params_object_as_args() {
        assert_eq!(
            call(r#"{"name": "Alice"}"#).unwrap(),
            r#"{"body":"Hello Alice!"}"#
        );
        assert_eq!(call("{}").unwrap(), r#"{"body":"Hello stranger!"}"#);
        assert_eq!(call("").unwrap(), r#"{"body":"Hello stranger!"}"#);
        assert!(matches!(
            call(r#"{"name": 7}"#),
            Err(CallError::InvalidParams(_))
        ));
    }
}
