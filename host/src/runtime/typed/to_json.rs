//! WIT values -> JSON, by the mapping in the [module documentation](super).

use serde_json::{Map, Number, Value};
use wasmtime::component::Val;

/// The JSON form of a function's result (`null` when it has none).
pub fn result_to_json(result: Option<&Val>) -> Value {
    result.map_or(Value::Null, val_to_json)
}

/// Converts a WIT value to JSON.
pub fn val_to_json(v: &Val) -> Value {
    match v {
        Val::Bool(b) => Value::Bool(*b),
        Val::S8(n) => (*n).into(),
        Val::U8(n) => (*n).into(),
        Val::S16(n) => (*n).into(),
        Val::U16(n) => (*n).into(),
        Val::S32(n) => (*n).into(),
        Val::U32(n) => (*n).into(),
        Val::S64(n) => (*n).into(),
        Val::U64(n) => (*n).into(),
        Val::Float32(f) => float_json(f64::from(*f)),
        Val::Float64(f) => float_json(*f),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s.clone()),
        Val::List(items) | Val::Tuple(items) | Val::FixedLengthList(items) => {
            Value::Array(items.iter().map(val_to_json).collect())
        }
        Val::Map(pairs) => {
            if pairs.iter().all(|(k, _)| matches!(k, Val::String(_))) {
                Value::Object(
                    pairs
                        .iter()
                        .filter_map(|(k, v)| match k {
                            Val::String(k) => Some((k.clone(), val_to_json(v))),
                            _ => None,
                        })
                        .collect(),
                )
            } else {
                Value::Array(
                    pairs
                        .iter()
                        .map(|(k, v)| Value::Array(vec![val_to_json(k), val_to_json(v)]))
                        .collect(),
                )
            }
        }
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), val_to_json(v)))
                .collect(),
        ),
        Val::Variant(case, None) | Val::Enum(case) => Value::String(case.clone()),
        Val::Variant(case, Some(p)) => single(case, val_to_json(p)),
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => val_to_json(v),
        Val::Result(Ok(v)) => single("ok", v.as_deref().map_or(Value::Null, val_to_json)),
        Val::Result(Err(v)) => single("err", v.as_deref().map_or(Value::Null, val_to_json)),
        Val::Flags(names) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        Val::Resource(_) => Value::String("<resource>".into()),
        Val::Future(_) | Val::Stream(_) | Val::ErrorContext(_) => Value::Null,
    }
}

fn single(key: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(key.to_owned(), v);
    Value::Object(m)
}

fn float_json(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}
