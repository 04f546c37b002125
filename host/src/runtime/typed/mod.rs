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

use serde_json::{Map, Value};
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex, Val};

mod from_json;
mod to_json;

pub use from_json::json_to_val;
pub use to_json::{result_to_json, val_to_json};

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
