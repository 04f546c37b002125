//! Calling a component's plain exports by name with JSON, across the WIT type range, and the
//! errors for a wrong arity or type, which name the parameter.

use crate::support::*;
use fdo::runtime::{InvokeError, LoadedComponent};
use serde_json::{Value, json};
use std::sync::Arc;

async fn typed() -> (Core, Arc<LoadedComponent>) {
    let core = Core::new();
    let bytes = std::fs::read(test_guests::TYPED_EXPORTS).expect("typed-exports built");
    let component = core.deploy(bytes).await.component;
    (core, component)
}

async fn call(
    core: &Core,
    c: &LoadedComponent,
    method: &str,
    params: Value,
) -> Result<Value, InvokeError> {
    core.runtime
        .call_json(c, &spec("typed", limits(64, 5000, 8)), method, &params)
        .await
        .result
}

#[tokio::test]
async fn every_wit_type_round_trips_through_json() {
    let (core, c) = typed().await;
    let alice =
        json!({"full-name": "Alice", "age": 30, "email-address": "a@x.io", "tags": ["admin"]});
    let bob = json!({"full-name": "Bob", "age": 41, "email-address": null, "tags": []});
    let cases: Vec<(&str, Value, Value)> = vec![
        ("add", json!([2, 40]), json!(42)),
        ("add", json!({"a": 2147483647, "b": 1}), json!(-2147483648)),
        ("echo", json!(["héllo"]), json!("héllo")),
        (
            "echo",
            json!("bare value for one parameter"),
            json!("bare value for one parameter"),
        ),
        ("negate", json!([true]), json!(false)),
        (
            "widen",
            json!([255, 65535, 4294967295u32]),
            json!(4295033085u64),
        ),
        (
            "subtract",
            json!(["-9223372036854775808", 1]),
            json!(9223372036854775807i64),
        ),
        ("half", json!([3.0]), json!(1.5)),
        ("hypot", json!([3, 4]), json!(5.0)),
        ("next-char", json!(["a"]), json!("b")),
        ("count", json!([["x", "y", "z"]]), json!(3)),
        ("count", json!(["x", "y"]), json!(2)),
        ("sum", json!([[1, 2, 2147483647]]), json!(2147483650i64)),
        ("double-all", json!([[1, 2, 3]]), json!([6, 4, 2])),
        ("maybe-double", json!([21]), json!(42)),
        ("maybe-double", json!([null]), Value::Null),
        ("maybe-double", json!({}), Value::Null),
        ("divide", json!([7, 2]), json!({"ok": 3})),
        (
            "divide",
            json!([7, 0]),
            json!({"err": "cannot divide 7 by 0"}),
        ),
        ("parse-color", json!(["BLUE"]), json!({"ok": "blue"})),
        ("parse-color", json!([""]), json!({"err": "empty"})),
        (
            "parse-color",
            json!(["teal"]),
            json!({"err": {"unknown": "teal"}}),
        ),
        ("next-color", json!(["blue"]), json!("red")),
        ("swap", json!([["n", 7]]), json!([7, "n"])),
        (
            "describe",
            json!([alice.clone()]),
            json!("Alice (30) <a@x.io>"),
        ),
        (
            "describe",
            json!({"p": {"fullName": "Bob", "age": 41, "tags": []}}),
            json!("Bob (41)"),
        ),
        (
            "birthday",
            json!([bob.clone()]),
            json!({"full-name": "Bob", "age": 42, "email-address": null, "tags": ["birthday"]}),
        ),
        ("area", json!([{"rectangle": [2.0, 3.0]}]), json!(6.0)),
        ("area", json!([{"square": 3.0}]), json!(9.0)),
        ("area", json!(["dot"]), json!(0.0)),
        ("toggle", json!([["read"]]), json!(["write", "execute"])),
        (
            "toggle",
            json!([{"read": true, "write": true, "execute": false}]),
            json!(["execute"]),
        ),
        (
            "checksum",
            json!([[87, 105, 107, 105, 112, 101, 100, 105, 97]]),
            json!(300286872),
        ),
        ("invert", json!([[0, 255, 15]]), json!([255, 0, 240])),
        (
            "oldest",
            json!([[{"name": "a", "members": [alice.clone()]}, {"name": "b", "members": [bob.clone()]}]]),
            bob.clone(),
        ),
        ("oldest", json!([[]]), Value::Null),
        (
            "rosters",
            json!([[{"name": "a", "members": [alice.clone(), bob.clone()]}]]),
            json!([["a", ["Alice", "Bob"]]]),
        ),
        (
            "stats",
            json!([[3, -1, 4]]),
            json!({"count": 3, "sum": 6, "min": -1, "max": 4, "mean": 2.0}),
        ),
        ("check", json!([true]), json!({"ok": null})),
        ("check", json!([false]), json!({"err": null})),
        ("noop", json!([]), Value::Null),
        ("noop", Value::Null, Value::Null),
        // Functions of the exported interface, by every accepted name.
        ("math.gcd", json!([12, 18]), json!(6)),
        ("math#gcd", json!({"a": 12, "b": 18}), json!(6)),
        ("fdo-test:typed/math@0.1.0#gcd", json!([7, 5]), json!(1)),
        ("gcd", json!([0, 0]), json!(0)),
        ("math.mean", json!([[1.0, 2.0]]), json!(1.5)),
        ("math.mean", json!([[]]), Value::Null),
        (
            "math.distance",
            json!([{"x": 0, "y": 0}, {"x": 3, "y": 4}]),
            json!(5.0),
        ),
        (
            "math.midpoint",
            json!({"a": {"x": 0, "y": 0}, "b": {"x": 2, "y": 4}}),
            json!({"x": 1.0, "y": 2.0}),
        ),
    ];
    let mut wrong = Vec::new();
    for (method, params, expected) in cases {
        let got = call(&core, &c, method, params.clone()).await;
        if got != Ok(expected.clone()) {
            wrong.push(format!(
                "{method}({params}): got {got:?}, expected {expected}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn wrong_arity_or_type_names_the_parameter() {
    let (core, c) = typed().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("add", json!([1]), "takes 2 parameters (a, b), got 1"),
        ("add", json!([1, 2, 3]), "got 3"),
        (
            "add",
            json!(["x", 2]),
            "parameter `a` (s32): expected an integer",
        ),
        ("add", json!({"a": 1}), "missing parameter `b` (s32)"),
        ("add", json!({"a": 1, "b": 2, "c": 3}), "no parameter `c`"),
        (
            "add",
            json!([1, 4294967296u64]),
            "parameter `b` (s32): 4294967296 is out of range",
        ),
        ("widen", json!([256, 0, 0]), "parameter `a` (u8)"),
        (
            "negate",
            json!(["yes"]),
            "parameter `b` (bool): expected a boolean, got a string",
        ),
        ("next-char", json!(["ab"]), "expected exactly one character"),
        (
            "next-color",
            json!(["purple"]),
            "unknown case \"purple\" (cases: red, green, blue)",
        ),
        ("toggle", json!([["fly"]]), "unknown flag \"fly\""),
        ("area", json!([{"circle": "big"}]), "case `circle`"),
        ("area", json!([{"hexagon": 1}]), "unknown case \"hexagon\""),
        ("area", json!(["circle"]), "needs a payload"),
        (
            "describe",
            json!([{"age": 3, "tags": []}]),
            "missing field `full-name`",
        ),
        (
            "describe",
            json!([{"full-name": "x", "age": 3, "tags": [], "shoe": 1}]),
            "unknown field `shoe`",
        ),
        ("swap", json!([["only-one"]]), "expected a tuple of 2 items"),
        ("sum", json!([[1, "two"]]), "[1]: expected an integer"),
    ];
    for (method, params, needle) in cases {
        match call(&core, &c, method, params.clone()).await {
            Err(InvokeError::InvalidParams(m)) => assert!(
                m.contains(needle),
                "{method}({params}): {m:?} lacks {needle:?}"
            ),
            other => panic!("{method}({params}): expected invalid params, got {other:?}"),
        }
    }
    match call(&core, &c, "nope", json!([])).await {
        Err(InvokeError::UnknownMethod { method, available }) => {
            assert_eq!(method, "nope");
            assert!(
                available.iter().any(|a| a == "add")
                    && available.iter().any(|a| a.ends_with("#gcd")),
                "{available:?}"
            );
        }
        other => panic!("expected unknown method, got {other:?}"),
    }
}

#[tokio::test]
async fn exports_are_listed_with_signatures() {
    let (_core, c) = typed().await;
    let signatures: Vec<String> = c.typed_exports().iter().map(|f| f.signature()).collect();
    assert!(
        signatures.contains(&"add(a: s32, b: s32) -> s32".to_owned()),
        "{signatures:?}"
    );
    assert!(
        signatures
            .iter()
            .any(|s| s.starts_with("fdo-test:typed/math@0.1.0#gcd(a: u64, b: u64) -> u64")),
        "{signatures:?}"
    );
    assert!(signatures.contains(&"noop()".to_owned()), "{signatures:?}");
}
