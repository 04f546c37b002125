//! `#[fdo_sdk::function]` end to end on the host target: the generated `rpc::Guest`
//! implementation decodes params, calls the function and encodes the result.

use fdo_sdk::CallError;
use fdo_sdk::rpc::__private::Guest;
use serde::Deserialize;

/// The greeting's options, taken as the whole params object or by name.
#[derive(Deserialize)]
struct Args {
    name: Option<String>,
    excited: Option<bool>,
}

/// A DigitalOcean-style `main(args)` function, exported under the method name `main`.
#[fdo_sdk::function(name = "main")]
fn greet(args: Args) -> Result<serde_json::Value, String> {
    let name = args.name.unwrap_or_else(|| "stranger".into());
    if name.is_empty() {
        return Err("the name cannot be empty".into());
    }
    let mark = if args.excited.unwrap_or(false) {
        "!!"
    } else {
        "!"
    };
    Ok(serde_json::json!({ "body": format!("Hello {name}{mark}") }))
}

fn call(method: &str, params: &str) -> Result<String, CallError> {
    __FdoSdkFunction::call(method.into(), params.into())
}

#[test]
fn the_whole_object_is_the_argument() {
    let out = call("main", r#"{"name": "Alice", "excited": true}"#).unwrap();
    assert_eq!(out, r#"{"body":"Hello Alice!!"}"#);
    let out = call("main", r#"{"name": "Alice"}"#).unwrap();
    assert_eq!(out, r#"{"body":"Hello Alice!"}"#);
}

#[test]
fn no_params_use_the_defaults() {
    for params in ["", "null", "{}"] {
        assert_eq!(
            call("main", params).unwrap(),
            r#"{"body":"Hello stranger!"}"#,
            "{params}"
        );
    }
}

#[test]
fn a_positional_argument_works_too() {
    let out = call("main", r#"[{"name": "Bob"}]"#).unwrap();
    assert_eq!(out, r#"{"body":"Hello Bob!"}"#);
}

#[test]
fn errors_are_failed_with_the_message() {
    match call("main", r#"{"name": ""}"#) {
        Err(CallError::Failed(message)) => assert_eq!(message, "the name cannot be empty"),
        other => panic!("expected failed, got {other:?}"),
    }
}

#[test]
fn bad_params_are_invalid_params_naming_the_parameter() {
    match call("main", r#"{"name": 42}"#) {
        Err(CallError::InvalidParams(message)) => {
            assert!(message.starts_with("invalid parameter `args`"), "{message}");
            assert!(message.contains("expected a string"), "{message}");
        }
        other => panic!("expected invalid-params, got {other:?}"),
    }
    assert!(matches!(
        call("main", "[{}, 1]"),
        Err(CallError::InvalidParams(_))
    ));
}

#[test]
fn other_methods_are_unknown_including_the_rust_name() {
    for method in ["greet", "Main", ""] {
        match call(method, "{}") {
            Err(CallError::UnknownMethod(name)) => assert_eq!(name, method),
            other => panic!("expected unknown-method, got {other:?}"),
        }
    }
}
