//! JSON -> WIT values, by the mapping in the [module documentation](super).

use serde_json::Value;
use wasmtime::component::Val;
use wasmtime::component::types::{self, Type};

use super::type_name;
use crate::validate::json_kind;

/// Converts one JSON value into a WIT value of type `ty`.
pub fn json_to_val(v: &Value, ty: &Type) -> Result<Val, String> {
    Ok(match ty {
        Type::Bool => Val::Bool(v.as_bool().ok_or_else(|| expected("a boolean", v))?),
        Type::S8 => Val::S8(int(v)?),
        Type::U8 => Val::U8(int(v)?),
        Type::S16 => Val::S16(int(v)?),
        Type::U16 => Val::U16(int(v)?),
        Type::S32 => Val::S32(int(v)?),
        Type::U32 => Val::U32(int(v)?),
        Type::S64 => Val::S64(int(v)?),
        Type::U64 => Val::U64(int(v)?),
        Type::Float32 => Val::Float32(float(v)? as f32),
        Type::Float64 => Val::Float64(float(v)?),
        Type::Char => from_char(v)?,
        Type::String => Val::String(
            v.as_str()
                .ok_or_else(|| expected("a string", v))?
                .to_owned(),
        ),
        Type::List(list) => from_list(v, list)?,
        Type::FixedLengthList(_) => {
            return Err("fixed-length lists are not supported from JSON".into());
        }
        Type::Map(map) => from_map(v, map)?,
        Type::Record(record) => from_record(v, record)?,
        Type::Tuple(tuple) => from_tuple(v, tuple)?,
        Type::Variant(variant) => from_variant(v, variant)?,
        Type::Enum(e) => from_enum(v, e)?,
        Type::Option(opt) => match v {
            Value::Null => Val::Option(None),
            other => Val::Option(Some(Box::new(json_to_val(other, &opt.ty())?))),
        },
        Type::Result(res) => from_result(v, res)?,
        Type::Flags(flags) => from_flags(v, flags)?,
        Type::Own(_) | Type::Borrow(_) => return Err("resources cannot be passed as JSON".into()),
        Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err("futures, streams and error contexts cannot be passed as JSON".into());
        }
    })
}

/// From a one-character string: `char`.
fn from_char(v: &Value) -> Result<Val, String> {
    let s = v
        .as_str()
        .ok_or_else(|| expected("a one-character string", v))?;
    let mut chars = s.chars();
    Ok(match (chars.next(), chars.next()) {
        (Some(c), None) => Val::Char(c),
        _ => return Err(format!("expected exactly one character, got {s:?}")),
    })
}

/// From an array: `list<T>`.
fn from_list(v: &Value, list: &types::List) -> Result<Val, String> {
    let items = v.as_array().ok_or_else(|| expected("an array", v))?;
    let elem = list.ty();
    Ok(Val::List(
        items
            .iter()
            .enumerate()
            .map(|(i, item)| json_to_val(item, &elem).map_err(|e| format!("[{i}]: {e}")))
            .collect::<Result<_, _>>()?,
    ))
}

/// From an object, or an array of `[key, value]` pairs: `map<K, V>`.
fn from_map(v: &Value, map: &types::Map) -> Result<Val, String> {
    let (kt, vt) = (map.key(), map.value());
    let pairs: Vec<(Val, Val)> = match v {
        Value::Object(obj) => obj
            .iter()
            .map(|(k, val)| {
                Ok((
                    json_to_val(&Value::String(k.clone()), &kt)?,
                    json_to_val(val, &vt).map_err(|e| format!("[{k:?}]: {e}"))?,
                ))
            })
            .collect::<Result<_, String>>()?,
        Value::Array(items) => items
            .iter()
            .map(|pair| match pair.as_array().map(Vec::as_slice) {
                Some([k, val]) => Ok((json_to_val(k, &kt)?, json_to_val(val, &vt)?)),
                _ => Err(expected("a [key, value] pair", pair)),
            })
            .collect::<Result<_, String>>()?,
        _ => return Err(expected("an object or an array of [key, value] pairs", v)),
    };
    Ok(Val::Map(pairs))
}

/// From an object with the fields (kebab-case, snake_case or camelCase names; a missing `option` field is `none`): `record`.
fn from_record(v: &Value, record: &types::Record) -> Result<Val, String> {
    let obj = v.as_object().ok_or_else(|| expected("an object", v))?;
    let mut used = 0;
    let mut fields = Vec::new();
    for field in record.fields() {
        let found = [
            field.name.to_owned(),
            field.name.replace('-', "_"),
            camel(field.name),
        ]
        .into_iter()
        .find_map(|k| obj.get(&k));
        let val = match found {
            Some(x) => {
                used += 1;
                json_to_val(x, &field.ty).map_err(|e| format!("field `{}`: {e}", field.name))?
            }
            None if matches!(field.ty, Type::Option(_)) => Val::Option(None),
            None => {
                return Err(format!(
                    "missing field `{}` ({})",
                    field.name,
                    type_name(&field.ty)
                ));
            }
        };
        fields.push((field.name.to_owned(), val));
    }
    if used < obj.len() {
        let known: Vec<String> = record.fields().map(|f| f.name.to_owned()).collect();
        if let Some(extra) = obj.keys().find(|k| {
            !known
                .iter()
                .any(|n| n == *k || n.replace('-', "_") == **k || camel(n) == **k)
        }) {
            return Err(format!(
                "unknown field `{extra}` (fields: {})",
                known.join(", ")
            ));
        }
    }
    Ok(Val::Record(fields))
}

/// From an array of as many items: `tuple<..>`.
fn from_tuple(v: &Value, tuple: &types::Tuple) -> Result<Val, String> {
    let items = v.as_array().ok_or_else(|| expected("an array", v))?;
    let types: Vec<Type> = tuple.types().collect();
    if items.len() != types.len() {
        return Err(format!(
            "expected a tuple of {} items, got {}",
            types.len(),
            items.len()
        ));
    }
    Ok(Val::Tuple(
        items
            .iter()
            .zip(&types)
            .enumerate()
            .map(|(i, (item, t))| json_to_val(item, t).map_err(|e| format!("[{i}]: {e}")))
            .collect::<Result<_, _>>()?,
    ))
}

/// From `"case"` or `{"case": payload}`: `variant`.
fn from_variant(v: &Value, variant: &types::Variant) -> Result<Val, String> {
    let (case, payload) = tagged(v)?;
    let Some(c) = variant.cases().find(|c| c.name == case) else {
        let names: Vec<&str> = variant.cases().map(|c| c.name).collect();
        return Err(format!(
            "unknown case {case:?} (cases: {})",
            names.join(", ")
        ));
    };
    let payload = match (&c.ty, payload) {
        (None, None | Some(Value::Null)) => None,
        (None, Some(_)) => return Err(format!("case `{case}` takes no payload")),
        (Some(t), Some(p)) => Some(Box::new(
            json_to_val(p, t).map_err(|e| format!("case `{case}`: {e}"))?,
        )),
        (Some(t), None) => {
            return Err(format!("case `{case}` needs a payload ({})", type_name(t)));
        }
    };
    Ok(Val::Variant(case.to_owned(), payload))
}

/// From a string naming a case: `enum`.
fn from_enum(v: &Value, e: &types::Enum) -> Result<Val, String> {
    let s = v
        .as_str()
        .ok_or_else(|| expected("a string naming a case", v))?;
    if !e.names().any(|n| n == s) {
        let names: Vec<&str> = e.names().collect();
        return Err(format!("unknown case {s:?} (cases: {})", names.join(", ")));
    }
    Ok(Val::Enum(s.to_owned()))
}

/// From `{"ok": ..}` or `{"err": ..}`: `result`.
fn from_result(v: &Value, res: &types::ResultType) -> Result<Val, String> {
    let (case, payload) = tagged(v)?;
    let side = |t: Option<Type>, p: Option<&Value>| -> Result<Option<Box<Val>>, String> {
        match (t, p) {
            (None, None | Some(Value::Null)) => Ok(None),
            (None, Some(_)) => Err(format!("`{case}` takes no payload")),
            (Some(t), Some(p)) => Ok(Some(Box::new(json_to_val(p, &t)?))),
            (Some(t), None) => Err(format!("`{case}` needs a payload ({})", type_name(&t))),
        }
    };
    Ok(match case {
        "ok" => Val::Result(Ok(side(res.ok(), payload)?)),
        "err" => Val::Result(Err(side(res.err(), payload)?)),
        _ => {
            return Err(format!(
                "expected {{\"ok\": ..}} or {{\"err\": ..}}, got {v}"
            ));
        }
    })
}

/// From an array of flag names, or an object of booleans: `flags`.
fn from_flags(v: &Value, flags: &types::Flags) -> Result<Val, String> {
    let names: Vec<&str> = flags.names().collect();
    let set: Vec<String> = match v {
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| expected("a flag name", i))
            })
            .collect::<Result<_, _>>()?,
        Value::Object(obj) => obj
            .iter()
            .filter_map(|(k, b)| match b.as_bool() {
                Some(true) => Some(Ok(k.clone())),
                Some(false) => None,
                None => Some(Err(expected("a boolean", b))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(expected("an array of flag names", v)),
    };
    if let Some(bad) = set.iter().find(|s| !names.contains(&s.as_str())) {
        return Err(format!(
            "unknown flag {bad:?} (flags: {})",
            names.join(", ")
        ));
    }
    Ok(Val::Flags(set))
}

/// `"case"` or `{"case": payload}`.
fn tagged(v: &Value) -> Result<(&str, Option<&Value>), String> {
    match v {
        Value::String(s) => Ok((s.as_str(), None)),
        Value::Object(m) if m.len() == 1 => {
            let (k, p) = m
                .iter()
                .next()
                .ok_or_else(|| expected("a single-key object", v))?;
            Ok((k.as_str(), Some(p)))
        }
        _ => Err(expected("\"case\" or {\"case\": payload}", v)),
    }
}

fn int<T: TryFrom<i64> + TryFrom<u64> + std::str::FromStr>(v: &Value) -> Result<T, String> {
    let out_of_range = || format!("{v} is out of range for {}", std::any::type_name::<T>());
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                T::try_from(u).map_err(|_| out_of_range())
            } else if let Some(i) = n.as_i64() {
                T::try_from(i).map_err(|_| out_of_range())
            } else {
                Err(format!("expected an integer, got {v}"))
            }
        }
        Value::String(s) => s
            .parse::<T>()
            .map_err(|_| format!("expected an integer, got {v}")),
        _ => Err(expected("an integer", v)),
    }
}

fn float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| expected("a number", v)),
        Value::String(s) if s == "NaN" => Ok(f64::NAN),
        Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => Err(expected("a number", v)),
    }
}

fn expected(what: &str, got: &Value) -> String {
    let kind = json_kind(got);
    let article = match kind {
        "null" => "",
        "array" | "object" => "an ",
        _ => "a ",
    };
    format!("expected {what}, got {article}{kind}")
}

fn camel(kebab: &str) -> String {
    let mut out = String::with_capacity(kebab.len());
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
