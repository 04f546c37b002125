//! `#[fdo_sdk::functions]` end to end on the host target: every `pub` method is an RPC
//! method, with positional and named params, receivers, renames and error conversion.

use fdo_sdk::CallError;
use fdo_sdk::rpc::__private::Guest;
use serde::Serialize;

/// A small calculator; `scale` comes from `Default`.
struct Calculator {
    scale: i64,
}

impl Default for Calculator {
    fn default() -> Self {
        Calculator { scale: 10 }
    }
}

/// A structured result.
#[derive(Serialize)]
struct Division {
    quotient: i64,
    remainder: i64,
}

/// Errors of `checked`.
#[derive(Debug, thiserror::Error)]
#[error("overflow computing {0}")]
struct Overflow(String);

#[fdo_sdk::functions]
impl Calculator {
    pub fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    pub fn divide(a: i64, b: i64) -> Result<Division, CallError> {
        if b == 0 {
            return Err(CallError::InvalidParams("`b` cannot be zero".into()));
        }
        Ok(Division {
            quotient: a / b,
            remainder: a % b,
        })
    }

    pub fn checked(a: i64) -> anyhow::Result<i64> {
        a.checked_mul(1_000_000_000_000)
            .ok_or_else(|| anyhow::Error::new(Overflow(format!("{a} * 10^12"))).context("checked"))
    }

    pub fn scaled(&self, value: i64) -> i64 {
        self.scale * value
    }

    pub fn bump(&mut self, by: Option<i64>) -> i64 {
        self.scale += by.unwrap_or(1);
        self.scale
    }

    #[rpc(name = "processData")]
    pub fn process_data(values: Vec<u64>, label: &str) -> String {
        format!("{label}: {}", values.iter().sum::<u64>())
    }

    pub fn nothing() {}

    pub fn r#type(r#in: String) -> String {
        r#in
    }

    fn helper() -> i64 {
        7
    }

    pub fn uses_helper() -> i64 {
        Self::helper()
    }
}

fn call(method: &str, params: &str) -> Result<String, CallError> {
    Calculator::call(method.into(), params.into())
}

#[test]
fn positional_and_named_params_call_the_method() {
    assert_eq!(call("add", "[2, 3]").unwrap(), "5");
    assert_eq!(call("add", r#"{"b": 3, "a": 2}"#).unwrap(), "5");
}

#[test]
fn structured_results_serialize() {
    assert_eq!(
        call("divide", "[7, 2]").unwrap(),
        r#"{"quotient":3,"remainder":1}"#
    );
}

#[test]
fn a_call_error_returned_by_the_method_passes_through() {
    match call("divide", "[7, 0]") {
        Err(CallError::InvalidParams(message)) => assert_eq!(message, "`b` cannot be zero"),
        other => panic!("expected invalid-params, got {other:?}"),
    }
}

#[test]
fn anyhow_errors_keep_their_cause_chain() {
    match call("checked", "[9223373]") {
        Err(CallError::Failed(message)) => {
            assert_eq!(message, "checked: overflow computing 9223373 * 10^12")
        }
        other => panic!("expected failed, got {other:?}"),
    }
    assert_eq!(call("checked", "[2]").unwrap(), "2000000000000");
}

#[test]
fn receivers_get_a_default_instance_per_call() {
    assert_eq!(call("scaled", "[4]").unwrap(), "40");
    assert_eq!(call("bump", "[]").unwrap(), "11");
    // No state survives between calls.
    assert_eq!(call("bump", "[5]").unwrap(), "15");
}

#[test]
fn renamed_methods_answer_to_their_new_name_only() {
    assert_eq!(
        call("processData", r#"[[1, 2, 3], "sum"]"#).unwrap(),
        r#""sum: 6""#
    );
    assert_eq!(
        call("processData", r#"{"label": "total", "values": []}"#).unwrap(),
        r#""total: 0""#
    );
    assert!(matches!(
        call("process_data", "[[1], \"x\"]"),
        Err(CallError::UnknownMethod(_))
    ));
}

#[test]
fn unit_results_are_null_and_raw_identifiers_lose_their_prefix() {
    assert_eq!(call("nothing", "[]").unwrap(), "null");
    assert_eq!(call("type", r#"{"in": "x"}"#).unwrap(), r#""x""#);
}

#[test]
fn private_methods_are_not_exported() {
    assert!(matches!(call("helper", "[]"), Err(CallError::UnknownMethod(m)) if m == "helper"));
    assert_eq!(call("uses_helper", "[]").unwrap(), "7");
}

#[test]
fn wrong_params_name_the_parameter() {
    let message = match call("add", r#"[1, "two"]"#) {
        Err(CallError::InvalidParams(message)) => message,
        other => panic!("expected invalid-params, got {other:?}"),
    };
    assert!(message.starts_with("invalid parameter `b`"), "{message}");
    assert!(
        matches!(call("add", "[1]"), Err(CallError::InvalidParams(m)) if m == "missing parameter `b`")
    );
    assert!(matches!(
        call("add", "[1, 2, 3]"),
        Err(CallError::InvalidParams(_))
    ));
    assert!(
        matches!(call("add", r#"{"a": 1, "c": 2}"#), Err(CallError::InvalidParams(m)) if m.contains("unknown parameter `c`"))
    );
    assert!(matches!(
        call("nothing", "[1]"),
        Err(CallError::InvalidParams(_))
    ));
}
