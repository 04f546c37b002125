//! Every validation rule with the reference's valid and invalid examples, through
//! [`parse_deploy_metadata`], the model's constructors and the single-field checks.

use super::*;
use crate::model::{
    DeployFields, DeployMetadata, Language, Limits, Secrets, parse_deploy_metadata,
};
use serde_json::{Map, json};

fn body() -> Value {
    json!({
        "id": "my-function",
        "version": "1.0.0",
        "language": "typescript",
        "entryPoint": "index.ts",
        "dependencies": { "lodash": "^4.17.21" }
    })
}

fn with(field: &str, value: Value) -> Value {
    let mut b = body();
    b[field] = value;
    b
}

fn without(field: &str) -> Value {
    let mut b = body();
    b.as_object_mut().unwrap().remove(field);
    b
}

fn err(b: &Value) -> ValidationError {
    parse_deploy_metadata(b).expect_err("should be rejected")
}

#[test]
fn reference_request_parses() {
    let m = parse_deploy_metadata(&body()).unwrap();
    assert_eq!(m.id(), "my-function");
    assert_eq!(m.version(), "1.0.0");
    assert_eq!(m.language(), Language::TypeScript);
    assert_eq!(m.entry_point(), "index.ts");
    assert_eq!(
        m.dependencies().get("lodash").map(String::as_str),
        Some("^4.17.21")
    );
    assert_eq!(m.limits(), Limits::default());
    assert!(m.env().is_empty() && m.secrets().is_empty() && m.allowed_hosts().is_empty());
    DeployMetadata::try_from(m.into_fields()).unwrap();
}

#[test]
fn function_id_reference_examples() {
    for ok in [
        "my-function",
        "processData_v2",
        "api123",
        "a",
        "A-b_C-9",
        &"x".repeat(255),
    ] {
        validate_function_id(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let e = validate_function_id("invalid..id").unwrap_err();
    assert_eq!(
        e.message,
        "Invalid function ID: must be alphanumeric with hyphens and underscores"
    );
    assert_eq!(e.field, "id");
    assert_eq!(e.value, json!("invalid..id"));
    for bad in ["my function", "fn/1", "héllo", "a.b", "a\0b", "emoji🙂"] {
        assert_eq!(
            validate_function_id(bad).unwrap_err().message,
            "Invalid function ID: must be alphanumeric with hyphens and underscores",
            "{bad}"
        );
    }
    for bad in ["", &"x".repeat(256)] {
        assert_eq!(
            validate_function_id(bad).unwrap_err().message,
            "Invalid function ID: must be 1-255 characters"
        );
    }
    for bad in ["-abc", "abc-", "_abc", "abc_", "-", "_"] {
        assert_eq!(
            validate_function_id(bad).unwrap_err().message,
            "Invalid function ID: must not start or end with a hyphen or underscore",
            "{bad}"
        );
    }
}

#[test]
fn error_display_is_the_message_and_value_is_shortened() {
    let long = format!("{}.", "a".repeat(5000));
    let e = validate_function_id(&long).unwrap_err();
    assert_eq!(e.to_string(), e.message);
    let echoed = e.value.as_str().unwrap();
    assert_eq!(echoed.chars().count(), MAX_ECHOED_VALUE_CHARS + 1);
    assert!(echoed.ends_with('…'));
}

#[test]
fn versions() {
    for ok in [
        "1.0.0",
        "2.1.0",
        "2.1.0-beta.1",
        "2.0.0-rc.1",
        "1.0.0+build.123",
        "1.0.0-alpha+001",
        "0.0.0",
    ] {
        assert_eq!(validate_version(ok).unwrap().to_string(), ok);
    }
    for bad in [
        "",
        "1",
        "1.0",
        "v1.0.0",
        "1.0.0.0",
        "01.0.0",
        "1.0.0-",
        "1.0.0+",
        "latest",
        " 1.0.0",
        "1.0.0-beta..1",
    ] {
        let e = validate_version(bad).unwrap_err();
        assert_eq!(e.field, "version", "{bad}");
        assert!(e.message.starts_with("Invalid version:"), "{bad}");
    }
    assert!(validate_version(&format!("1.0.0-{}", "a".repeat(300))).is_err());
    assert_eq!(
        err(&with("version", json!(1))).message,
        "Invalid version: must be a string"
    );
}

#[test]
fn languages() {
    for name in [
        "typescript",
        "javascript",
        "rust",
        "python",
        "go",
        "zig",
        "assemblyscript",
        "csharp",
    ] {
        let l: Language = name.parse().unwrap();
        assert_eq!(l.as_str(), name);
        assert_eq!(serde_json::to_value(l).unwrap(), json!(name));
    }
    for bad in ["TypeScript", "java", "", "c#", "ruby"] {
        let e = bad.parse::<Language>().unwrap_err();
        assert_eq!(e.field, "language");
        assert_eq!(
            e.message,
            "Invalid language: must be one of typescript, javascript, rust, python, go, zig, assemblyscript, csharp"
        );
    }
}

#[test]
fn entry_points() {
    for ok in [
        "index.ts",
        "src/main.js",
        "app.py",
        "./index.ts",
        "lib/v2/handler.mjs",
        "main.wasm",
        "a.b.c.d",
    ] {
        validate_entry_point(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let cases = [
        ("/index.ts", "must be a relative path"),
        ("\\index.ts", "must be a relative path"),
        ("C:\\index.ts", "must be a relative path"),
        ("c:/index.ts", "must be a relative path"),
        ("../index.ts", "must not contain '..'"),
        ("src/../../etc/passwd.js", "must not contain '..'"),
        ("src/..", "must not contain '..'"),
        ("index", "must have a file extension"),
        ("src/", "must not contain empty path segments"),
        ("src//main.js", "must not contain empty path segments"),
        (".env", "must have a file extension"),
        ("index.", "must have a file extension"),
        ("index.t-s", "must have a file extension"),
        ("src.d/main", "must have a file extension"),
        ("src\\main.js", "must use '/'"),
        ("", "must not be empty"),
        ("ind\0ex.ts", "control characters"),
    ];
    for (bad, why) in cases {
        let e = validate_entry_point(bad).unwrap_err();
        assert_eq!(e.field, "entryPoint");
        assert!(
            e.message.starts_with("Invalid entry point: "),
            "{bad}: {}",
            e.message
        );
        assert!(e.message.contains(why), "{bad}: {}", e.message);
    }
    // `..` inside a file name is not a parent reference.
    validate_entry_point("my..file.js").unwrap();
}

#[test]
fn dependencies() {
    let b = with(
        "dependencies",
        json!({"lodash": "^4.17.21", "axios": "~1.0.0", "express": ">=4.0.0",
        "a": "1.0.0", "b": "<2.0.0", "c": "1.0.0 - 2.0.0", "d": "*", "e": "latest", "@scope/pkg": ">=1.0.0 <2.0.0",
        "github.com/x/y": "v1.2.3"}),
    );
    assert_eq!(parse_deploy_metadata(&b).unwrap().dependencies().len(), 10);
    assert!(
        parse_deploy_metadata(&with("dependencies", json!({})))
            .unwrap()
            .dependencies()
            .is_empty()
    );

    let e = err(&with("dependencies", json!({"lodash": "not-a-range"})));
    assert_eq!(e.field, "dependencies.lodash");
    assert_eq!(e.value, json!("not-a-range"));
    assert!(e.message.starts_with("Invalid version range for lodash: "));

    let e = err(&with("dependencies", json!({"": "1.0.0"})));
    assert_eq!(
        (e.field.as_str(), e.value.clone()),
        ("dependencies", json!(""))
    );
    assert!(
        err(&with("dependencies", json!({"has space": "1.0.0"})))
            .message
            .starts_with("Invalid dependency name")
    );
    let e = err(&with("dependencies", json!({"lodash": 4})));
    assert_eq!(
        (e.field.as_str(), e.value.clone()),
        ("dependencies.lodash", json!(4))
    );
    assert_eq!(
        err(&with("dependencies", json!(["lodash"]))).message,
        "Invalid dependencies: must be an object"
    );
    assert_eq!(
        err(&without("dependencies")).message,
        "Missing required field: dependencies"
    );
    let long = "1.0.0 ".repeat(60);
    assert!(
        err(&with("dependencies", json!({"x": long})))
            .message
            .contains("longer than")
    );
}

#[test]
fn required_fields_and_types() {
    for field in ["id", "version", "language", "entryPoint"] {
        let e = err(&without(field));
        assert_eq!(e.message, format!("Missing required field: {field}"));
        assert_eq!((e.field.as_str(), e.value.clone()), (field, Value::Null));
        assert_eq!(
            err(&with(field, Value::Null)).message,
            format!("Missing required field: {field}")
        );
    }
    let e = err(&with("id", json!(42)));
    assert_eq!((e.field.as_str(), e.value.clone()), ("id", json!(42)));
    assert_eq!(e.message, "Invalid function ID: must be a string");
    assert_eq!(err(&json!([1, 2])).field, "body");
    assert_eq!(err(&with("entryPoint", json!(true))).field, "entryPoint");
    // Unknown top-level fields (the server's `code`) are ignored.
    parse_deploy_metadata(&with("code", json!("AGFzbQ=="))).unwrap();
}

#[test]
fn limits() {
    let m = parse_deploy_metadata(&with(
        "limits",
        json!({"memoryMb": 128, "timeoutMs": 300000, "maxConcurrency": 1}),
    ))
    .unwrap();
    assert_eq!(
        m.limits(),
        Limits::new(Some(128), Some(300_000), Some(1)).unwrap()
    );
    assert_eq!(
        serde_json::to_value(m.limits()).unwrap(),
        json!({"memoryMb": 128, "timeoutMs": 300000, "maxConcurrency": 1})
    );
    let partial =
        parse_deploy_metadata(&with("limits", json!({"timeoutMs": 50, "memoryMb": null}))).unwrap();
    assert_eq!(partial.limits(), Limits::new(None, Some(50), None).unwrap());
    assert_eq!(
        parse_deploy_metadata(&with("limits", Value::Null))
            .unwrap()
            .limits(),
        Limits::default()
    );

    let cases = [
        (
            json!({"memoryMb": 0}),
            "limits.memoryMb",
            "Invalid limits.memoryMb: must be an integer between 1 and 4096",
        ),
        (
            json!({"memoryMb": 4097}),
            "limits.memoryMb",
            "Invalid limits.memoryMb: must be an integer between 1 and 4096",
        ),
        (
            json!({"memoryMb": 12.5}),
            "limits.memoryMb",
            "Invalid limits.memoryMb: must be an integer between 1 and 4096",
        ),
        (
            json!({"memoryMb": "128"}),
            "limits.memoryMb",
            "Invalid limits.memoryMb: must be an integer between 1 and 4096",
        ),
        (
            json!({"timeoutMs": 300001}),
            "limits.timeoutMs",
            "Invalid limits.timeoutMs: must be an integer between 1 and 300000",
        ),
        (
            json!({"timeoutMs": -1}),
            "limits.timeoutMs",
            "Invalid limits.timeoutMs: must be an integer between 1 and 300000",
        ),
        (
            json!({"maxConcurrency": 1025}),
            "limits.maxConcurrency",
            "Invalid limits.maxConcurrency: must be an integer between 1 and 1024",
        ),
        (
            json!({"memoryMB": 128}),
            "limits.memoryMB",
            "Invalid limits: unknown limit 'memoryMB' (expected memoryMb, timeoutMs or maxConcurrency)",
        ),
        (json!(5), "limits", "Invalid limits: must be an object"),
    ];
    for (limits, field, message) in cases {
        let e = err(&with("limits", limits.clone()));
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            (field, message),
            "{limits}"
        );
    }
    assert_eq!(
        Limits::new(Some(0), None, None).unwrap_err().field,
        "limits.memoryMb"
    );
    assert!(Limits::new(None, None, Some(1024)).is_ok());
}

#[test]
fn env_and_secrets() {
    let b = {
        let mut b = body();
        b["env"] = json!({"PORT": "8080", "_X": "", "LOG_LEVEL2": "debug"});
        b["secrets"] = json!({"API_TOKEN": "s3cr3t"});
        b
    };
    let m = parse_deploy_metadata(&b).unwrap();
    assert_eq!(m.env().len(), 3);
    assert_eq!(m.secrets().get("API_TOKEN"), Some("s3cr3t"));
    assert_eq!(m.secrets().names().collect::<Vec<_>>(), ["API_TOKEN"]);

    for bad in ["", "1ABC", "A-B", "A=B", "A B", "A\0", "É"] {
        let e = err(&with("env", json!({ bad: "v" })));
        assert_eq!(
            (e.field.as_str(), e.value.clone()),
            ("env", json!(bad)),
            "{bad:?}"
        );
        assert!(
            e.message.starts_with("Invalid env variable name"),
            "{bad:?}"
        );
        let e = err(&with("secrets", json!({ bad: "v" })));
        assert_eq!(e.field, "secrets", "{bad:?}");
        assert!(e.message.starts_with("Invalid secret name"), "{bad:?}");
    }
    let e = err(&with("env", json!({"A": "x\0y"})));
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("env.A", "Invalid env value for A: must not contain NUL")
    );
    let e = err(&with("env", json!({"A": 1})));
    assert_eq!((e.field.as_str(), e.value.clone()), ("env.A", json!(1)));
    assert!(
        err(&with(
            "env",
            json!({"A": "x".repeat(MAX_ENV_VALUE_BYTES + 1)})
        ))
        .message
        .contains("at most")
    );
    assert_eq!(
        err(&with("env", json!("A=1"))).message,
        "Invalid env: must be an object"
    );

    // A bad secret never echoes its value.
    for secrets in [json!({"TOKEN": "abc\0def"}), json!({"TOKEN": 12345})] {
        let e = err(&with("secrets", secrets));
        assert_eq!(e.field, "secrets.TOKEN");
        assert_eq!(e.value, Value::Null);
        assert!(!e.message.contains("abc") && !e.message.contains("12345"));
    }
    let mut both = body();
    both["env"] = json!({"TOKEN": "a"});
    both["secrets"] = json!({"TOKEN": "b"});
    assert_eq!(
        err(&both).message,
        "Invalid secrets: TOKEN is also defined in env"
    );

    let many: Map<String, Value> = (0..=MAX_ENV_ENTRIES)
        .map(|i| (format!("V{i}"), json!("x")))
        .collect();
    assert_eq!(err(&with("env", Value::Object(many))).field, "env");
}

#[test]
fn secrets_debug_is_redacted() {
    let mut b = body();
    b["secrets"] = json!({"API_TOKEN": "hunter2-very-secret"});
    let m = parse_deploy_metadata(&b).unwrap();
    let debug = format!("{m:?} {:?} {:#?}", m.secrets(), m);
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("API_TOKEN") && debug.contains("<redacted>"));
}

#[test]
fn allowed_hosts() {
    let hosts = json!([
        "api.example.com",
        "localhost:8080",
        "*.example.org",
        "http://127.0.0.1:3000",
        "https://api.stripe.com"
    ]);
    let m = parse_deploy_metadata(&with("allowedHosts", hosts)).unwrap();
    assert_eq!(m.allowed_hosts().len(), 5);
    assert_eq!(validate_allowed_hosts(m.allowed_hosts()).unwrap().len(), 5);
    for bad in [
        json!(["ftp://x.com"]),
        json!(["a b"]),
        json!(["x.com/path"]),
        json!([""]),
        json!(["x.com:99999"]),
    ] {
        let e = err(&with("allowedHosts", bad.clone()));
        assert_eq!(e.field, "allowedHosts", "{bad}");
        assert_eq!(e.value, bad[0], "{bad}");
        assert!(
            e.message.starts_with("Invalid allowedHosts entry: "),
            "{bad}"
        );
    }
    assert_eq!(
        err(&with("allowedHosts", json!("x.com"))).message,
        "Invalid allowedHosts: must be an array of strings"
    );
    assert_eq!(
        err(&with("allowedHosts", json!([1]))).message,
        "Invalid allowedHosts entry: must be a string"
    );
    let many: Vec<String> = (0..=MAX_ALLOWED_HOSTS)
        .map(|i| format!("h{i}.example.com"))
        .collect();
    assert!(validate_allowed_hosts(&many).is_err());
}

#[test]
fn hand_built_values_are_checked_on_construction() {
    let fields = || parse_deploy_metadata(&body()).unwrap().into_fields();
    let build = |f: DeployFields| DeployMetadata::try_from(f).unwrap_err().field;
    assert_eq!(
        build(DeployFields {
            id: "bad id".into(),
            ..fields()
        }),
        "id"
    );
    assert_eq!(
        build(DeployFields {
            allowed_hosts: vec!["nope nope".into()],
            ..fields()
        }),
        "allowedHosts"
    );
    let mut env = BTreeMap::new();
    env.insert("A".to_string(), "x".to_string());
    let secrets = Secrets::new(BTreeMap::from([("A".to_string(), "y".to_string())])).unwrap();
    assert_eq!(
        build(DeployFields {
            env,
            secrets,
            ..fields()
        }),
        "secrets"
    );
    assert_eq!(
        Secrets::new(BTreeMap::from([("A=B".to_string(), "x".to_string())]))
            .unwrap_err()
            .field,
        "secrets"
    );
}
