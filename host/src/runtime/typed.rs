//! Calling plain exported functions by name with JSON, and the JSON <-> WIT value mapping.
//!
//! Any component that exports functions, at the top level or inside exported interfaces, can
//! be called without an SDK. Names: a top-level function by its name (`add`); a function in an
//! interface by `iface#name` with the full interface name (`fdo-test:typed/math@0.1.0#area`),
//! by `math#area` or `math.area` with the short interface name, or by its bare name when no
//! other export has it.
//!
//! | WIT | JSON |
//! | --- | --- |
//! | `bool` | `true` / `false` |
//! | `s8`..`u64` | a number in range (64-bit ones also as a decimal string) |
//! | `f32`, `f64` | a number, or `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | `char` | a one-character string |
//! | `string` | a string |
//! | `list<T>` | an array |
//! | `tuple<..>` | an array of that length |
//! | `record` | an object keyed by field name (`kebab-case`; `snake_case`/`camelCase` accepted) |
//! | `variant` | `"case"` without payload, `{"case": payload}` with one |
//! | `enum` | `"case"` |
//! | `option<T>` | `null` for none, the value for some |
//! | `result<T, E>` | `{"ok": value}` / `{"err": value}` (`null` without payload) |
//! | `flags` | an array of the set flag names (or an object `{flag: bool}` on input) |
//! | resources, futures, streams | not callable from JSON: a clear error |
//!
//! Parameters come as a positional array or as an object keyed by parameter name; a function
//! with one parameter also takes the bare value. No result gives `null`.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex, Val};

/// Exports that are not typed functions for this module: fdo's RPC interface and wasi:http's
/// handler are dispatched by their own paths.
fn is_reserved_interface(name: &str) -> bool {
    name.starts_with("fdo:function/rpc") || name.starts_with("wasi:http/incoming-handler")
}

/// One callable export.
#[derive(Debug, Clone)]
pub struct TypedFunc {
    /// The canonical name: `name` or `interface#name`.
    pub name: String,
    /// Index used to find the function in an instance without string lookups.
    pub(crate) index: ComponentExportIndex,
    /// Parameter names and types, in order.
    pub params: Vec<(String, Type)>,
    /// Result type, if any.
    pub result: Option<Type>,
}

impl TypedFunc {
    /// A short signature for error messages and listings, e.g. `add(a: s32, b: s32) -> s32`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(n, t)| format!("{n}: {}", type_name(t)))
            .collect();
        match &self.result {
            Some(r) => format!("{}({}) -> {}", self.name, params.join(", "), type_name(r)),
            None => format!("{}({})", self.name, params.join(", ")),
        }
    }
}

/// Every typed export of a component, with the names it may be called by.
#[derive(Debug, Clone, Default)]
pub struct TypedExports {
    funcs: Vec<TypedFunc>,
    by_name: HashMap<String, usize>,
}

impl TypedExports {
    /// Discovers the exported functions of `component`.
    pub fn discover(engine: &Engine, component: &Component) -> Self {
        let mut funcs = Vec::new();
        let ty = component.component_type();
        for (name, item) in ty.exports(engine) {
            match item.ty {
                ComponentItem::ComponentFunc(f) => {
                    if let Some(index) = component.get_export_index(None, name) {
                        funcs.push(typed_func(name.to_owned(), index, &f));
                    }
                }
                ComponentItem::ComponentInstance(inst) if !is_reserved_interface(name) => {
                    let Some(iface) = component.get_export_index(None, name) else {
                        continue;
                    };
                    for (fname, item) in inst.exports(engine) {
                        if let ComponentItem::ComponentFunc(f) = item.ty
                            && let Some(index) = component.get_export_index(Some(&iface), fname)
                        {
                            funcs.push(typed_func(format!("{name}#{fname}"), index, &f));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut by_name = HashMap::new();
        let mut bare_count: HashMap<String, usize> = HashMap::new();
        for (i, f) in funcs.iter().enumerate() {
            by_name.insert(f.name.clone(), i);
            if let Some((iface, fname)) = f.name.split_once('#') {
                let short = short_interface(iface);
                by_name.insert(format!("{short}#{fname}"), i);
                by_name.insert(format!("{short}.{fname}"), i);
                *bare_count.entry(fname.to_owned()).or_default() += 1;
            } else {
                *bare_count.entry(f.name.clone()).or_default() += 1;
            }
        }
        for (i, f) in funcs.iter().enumerate() {
            if let Some((_, fname)) = f.name.split_once('#')
                && bare_count.get(fname) == Some(&1)
            {
                by_name.entry(fname.to_owned()).or_insert(i);
            }
        }
        Self { funcs, by_name }
    }

    /// The function called `name` (any accepted alias).
    pub fn get(&self, name: &str) -> Option<&TypedFunc> {
        self.by_name.get(name).map(|&i| &self.funcs[i])
    }

    /// All functions, in export order.
    pub fn iter(&self) -> impl Iterator<Item = &TypedFunc> {
        self.funcs.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.funcs.is_empty()
    }
}

/// `fdo-test:typed/math@0.1.0` -> `math`.
fn short_interface(full: &str) -> &str {
    let no_version = full.split('@').next().unwrap_or(full);
    no_version.rsplit(['/', ':']).next().unwrap_or(no_version)
}

fn typed_func(name: String, index: ComponentExportIndex, f: &ComponentFunc) -> TypedFunc {
    TypedFunc {
        name,
        index,
        params: f.params().map(|(n, t)| (n.to_owned(), t)).collect(),
        result: f.results().next(),
    }
}

/// Turns JSON `params` into the function's argument values, or says which parameter is wrong.
pub fn params_to_vals(func: &TypedFunc, params: &Value) -> Result<Vec<Val>, String> {
    let arity = func.params.len();
    let names = || {
        func.params
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let values: Vec<&Value> = match params {
        Value::Array(items) if positional(func, items) => {
            if items.len() != arity {
                return Err(format!(
                    "`{}` takes {arity} parameter{} ({}), got {}",
                    func.name,
                    if arity == 1 { "" } else { "s" },
                    names(),
                    items.len()
                ));
            }
            items.iter().collect()
        }
        Value::Object(map) if by_name(func, map) => {
            if let Some(unknown) = map
                .keys()
                .find(|k| !func.params.iter().any(|(n, _)| n == *k))
            {
                return Err(format!(
                    "`{}` has no parameter `{unknown}` (parameters: {})",
                    func.name,
                    names()
                ));
            }
            let mut out = Vec::with_capacity(arity);
            for (name, ty) in &func.params {
                match map.get(name) {
                    Some(v) => out.push(v),
                    None if matches!(ty, Type::Option(_)) => out.push(&Value::Null),
                    None => return Err(format!("missing parameter `{name}` ({})", type_name(ty))),
                }
            }
            out
        }
        Value::Null if arity == 0 => Vec::new(),
        // A one-parameter function takes the bare value.
        other if arity == 1 => vec![other],
        _ => {
            return Err(format!(
                "params for `{}` must be an array or an object with {} ({})",
                func.name,
                names(),
                func.signature()
            ));
        }
    };
    func.params
        .iter()
        .zip(values)
        .map(|((name, ty), v)| {
            json_to_val(v, ty).map_err(|e| format!("parameter `{name}` ({}): {e}", type_name(ty)))
        })
        .collect()
}

/// Whether an array holds the parameters positionally. For a one-parameter function whose
/// parameter is itself list-like, `[[1, 2]]` is positional and `[1, 2]` is the list itself.
fn positional(func: &TypedFunc, items: &[Value]) -> bool {
    match func.params.as_slice() {
        [(_, ty)] if expects_array(ty) => match items {
            [Value::Array(_)] => true,
            [Value::Object(_)] => matches!(ty, Type::Flags(_)),
            _ => false,
        },
        _ => true,
    }
}

/// Whether an object holds the parameters by name. For a one-parameter function an object
/// is by name when its single key is the parameter's name (or it is empty and the parameter
/// is not itself an object-like record or map); otherwise it is the value.
fn by_name(func: &TypedFunc, map: &Map<String, Value>) -> bool {
    match func.params.as_slice() {
        [(name, ty)] => {
            (map.len() == 1 && map.contains_key(name))
                || (map.is_empty() && !matches!(ty, Type::Record(_) | Type::Map(_)))
        }
        _ => true,
    }
}

fn expects_array(ty: &Type) -> bool {
    matches!(
        ty,
        Type::List(_) | Type::Tuple(_) | Type::Flags(_) | Type::FixedLengthList(_)
    )
}

/// The JSON form of a function's result (`null` when it has none).
pub fn result_to_json(result: Option<&Val>) -> Value {
    result.map_or(Value::Null, val_to_json)
}

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
        Type::Char => {
            let s = v
                .as_str()
                .ok_or_else(|| expected("a one-character string", v))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(format!("expected exactly one character, got {s:?}")),
            }
        }
        Type::String => Val::String(
            v.as_str()
                .ok_or_else(|| expected("a string", v))?
                .to_owned(),
        ),
        Type::List(list) => {
            let items = v.as_array().ok_or_else(|| expected("an array", v))?;
            let elem = list.ty();
            Val::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| json_to_val(item, &elem).map_err(|e| format!("[{i}]: {e}")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::FixedLengthList(_) => {
            return Err("fixed-length lists are not supported from JSON".into());
        }
        Type::Map(map) => {
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
            Val::Map(pairs)
        }
        Type::Record(record) => {
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
                        json_to_val(x, &field.ty)
                            .map_err(|e| format!("field `{}`: {e}", field.name))?
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
            Val::Record(fields)
        }
        Type::Tuple(tuple) => {
            let items = v.as_array().ok_or_else(|| expected("an array", v))?;
            let types: Vec<Type> = tuple.types().collect();
            if items.len() != types.len() {
                return Err(format!(
                    "expected a tuple of {} items, got {}",
                    types.len(),
                    items.len()
                ));
            }
            Val::Tuple(
                items
                    .iter()
                    .zip(&types)
                    .enumerate()
                    .map(|(i, (item, t))| json_to_val(item, t).map_err(|e| format!("[{i}]: {e}")))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Variant(variant) => {
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
            Val::Variant(case.to_owned(), payload)
        }
        Type::Enum(e) => {
            let s = v
                .as_str()
                .ok_or_else(|| expected("a string naming a case", v))?;
            if !e.names().any(|n| n == s) {
                let names: Vec<&str> = e.names().collect();
                return Err(format!("unknown case {s:?} (cases: {})", names.join(", ")));
            }
            Val::Enum(s.to_owned())
        }
        Type::Option(opt) => match v {
            Value::Null => Val::Option(None),
            other => Val::Option(Some(Box::new(json_to_val(other, &opt.ty())?))),
        },
        Type::Result(res) => {
            let (case, payload) = tagged(v)?;
            let side = |t: Option<Type>, p: Option<&Value>| -> Result<Option<Box<Val>>, String> {
                match (t, p) {
                    (None, None | Some(Value::Null)) => Ok(None),
                    (None, Some(_)) => Err(format!("`{case}` takes no payload")),
                    (Some(t), Some(p)) => Ok(Some(Box::new(json_to_val(p, &t)?))),
                    (Some(t), None) => Err(format!("`{case}` needs a payload ({})", type_name(&t))),
                }
            };
            match case {
                "ok" => Val::Result(Ok(side(res.ok(), payload)?)),
                "err" => Val::Result(Err(side(res.err(), payload)?)),
                _ => {
                    return Err(format!(
                        "expected {{\"ok\": ..}} or {{\"err\": ..}}, got {v}"
                    ));
                }
            }
        }
        Type::Flags(flags) => {
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
            Val::Flags(set)
        }
        Type::Own(_) | Type::Borrow(_) => return Err("resources cannot be passed as JSON".into()),
        Type::Future(_) | Type::Stream(_) | Type::ErrorContext => {
            return Err("futures, streams and error contexts cannot be passed as JSON".into());
        }
    })
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
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("expected {what}, got {kind}")
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

/// A WIT-like name for a type, for messages.
pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::FixedLengthList(_) => "list<_, N>".into(),
        Type::Map(m) => format!("map<{}, {}>", type_name(&m.key()), type_name(&m.value())),
        Type::Record(_) => "record".into(),
        Type::Tuple(t) => {
            format!(
                "tuple<{}>",
                t.types()
                    .map(|t| type_name(&t))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Type::Variant(_) => "variant".into(),
        Type::Enum(_) => "enum".into(),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => format!(
            "result<{}, {}>",
            r.ok().map_or("_".into(), |t| type_name(&t)),
            r.err().map_or("_".into(), |t| type_name(&t))
        ),
        Type::Flags(_) => "flags".into(),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        Type::Future(_) => "future".into(),
        Type::Stream(_) => "stream".into(),
        Type::ErrorContext => "error-context".into(),
    }
}
