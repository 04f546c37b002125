//! Decoding RPC parameters and encoding results: the runtime half of `#[function]`.
//!
//! A call arrives as a method name and JSON text. [`Params::parse`] reads the text once and
//! [`Params::get`] hands each parameter to serde, so parameters may be given
//!
//! - **by position**, as a JSON array: `["Alice", 3]`; missing trailing parameters are `null`
//!   (or `{}` when `null` does not fit), which suits `Option<T>` parameters and structs whose
//!   fields all have defaults;
//! - **by name**, as a JSON object keyed by the Rust parameter names: `{"name": "Alice"}`; a
//!   missing key is `null`, an unknown key is an error;
//! - **as the whole object**, for a method with exactly one parameter: `{"tag": "web",
//!   "limit": 5}` is the value of `args` in `fn main(args: Args)` (DigitalOcean's `main(args)`
//!   style). When the object is exactly `{"args": ...}` the named form wins; when the whole
//!   object does not fit the parameter but has its key, the key's value is used.
//! - **nothing**: empty text or `null` means every parameter is `null`.
//!
//! Errors are [`CallError::InvalidParams`] naming the parameter and saying what is wrong.
//! The macros call these functions; they are public so hand-written [`Guest`](__private::Guest)
//! implementations can reuse them.
//!
//! ```
//! use fdo_sdk::rpc::{CallError, Params};
//!
//! let params = Params::parse(r#"{"name": "Alice"}"#, &["name", "times"])?;
//! let name: String = params.get(0)?;
//! let times: Option<u32> = params.get(1)?;
//! assert_eq!((name.as_str(), times), ("Alice", None));
//!
//! let err = Params::parse(r#"["Alice", 1, 2]"#, &["name", "times"]).unwrap_err();
//! assert!(matches!(err, CallError::InvalidParams(m) if m.contains("at most 2")));
//! # Ok::<(), CallError>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::bindings::exports::fdo::function::rpc::CallError;

/// `null`, lent to parameters that were not given.
static NULL: Value = Value::Null;

/// The decoded parameters of one call, ready to hand out by index.
#[derive(Debug)]
pub struct Params {
    /// The method's parameter names, in order (the JSON keys of the named form).
    names: &'static [&'static str],
    /// How the caller passed them.
    shape: Shape,
}

/// The form the caller used to pass parameters.
#[derive(Debug)]
enum Shape {
    /// Empty text or `null`: every parameter is missing.
    Nothing,
    /// A JSON array (or, for a one-parameter method, a lone scalar).
    Positional(Vec<Value>),
    /// A JSON object keyed by parameter name (methods with two or more parameters).
    Named(Map<String, Value>),
    /// A JSON object given to a one-parameter method: by name or as the whole value.
    Single(Map<String, Value>),
}

impl Params {
    /// Parses the call's JSON text for a method whose parameters are called `names`.
    ///
    /// Checks what can be checked without the types: valid JSON, not too many positional
    /// parameters, no unknown keys in the named form.
    ///
    /// ```
    /// use fdo_sdk::rpc::Params;
    ///
    /// assert!(Params::parse("[1, 2]", &["a", "b"]).is_ok());
    /// assert!(Params::parse("", &["a"]).is_ok());
    /// assert!(Params::parse("{not json", &["a"]).is_err());
    /// assert!(Params::parse(r#"{"a": 1, "c": 3}"#, &["a", "b"]).is_err());
    /// ```
    pub fn parse(json: &str, names: &'static [&'static str]) -> Result<Self, CallError> {
        let value: Value = if json.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(json).map_err(|error| {
                CallError::InvalidParams(format!("the params are not valid JSON: {error}"))
            })?
        };
        let shape = match value {
            Value::Null => Shape::Nothing,
            Value::Array(values) => {
                if values.len() > names.len() {
                    return Err(CallError::InvalidParams(too_many(names, values.len())));
                }
                Shape::Positional(values)
            }
            Value::Object(map) => match names.len() {
                1 => Shape::Single(map),
                _ => {
                    if let Some(unknown) = map.keys().find(|key| !names.contains(&key.as_str())) {
                        return Err(CallError::InvalidParams(unknown_key(names, unknown)));
                    }
                    Shape::Named(map)
                }
            },
            scalar if names.len() == 1 => Shape::Positional(vec![scalar]),
            scalar => {
                return Err(CallError::InvalidParams(format!(
                    "the params must be a JSON array or object, got {}",
                    kind(&scalar)
                )));
            }
        };
        Ok(Params { names, shape })
    }

    /// Decodes parameter number `index` (0-based, in declaration order) as a `T`.
    ///
    /// A missing parameter is decoded from `null`, or from `{}` when `null` does not fit, so
    /// `Option<T>` parameters and structs with all-default fields are optional and others
    /// report that they are missing. `T` may borrow from the parameters (`&str`).
    ///
    /// ```
    /// use fdo_sdk::rpc::{CallError, Params};
    ///
    /// let params = Params::parse(r#"[42]"#, &["id", "verbose"])?;
    /// assert_eq!(params.get::<u64>(0)?, 42);
    /// assert_eq!(params.get::<Option<bool>>(1)?, None);
    /// let err = params.get::<bool>(1).unwrap_err();
    /// assert!(matches!(err, CallError::InvalidParams(m) if m.contains("missing parameter `verbose`")));
    /// # Ok::<(), CallError>(())
    /// ```
    pub fn get<'a, T: Deserialize<'a>>(&'a self, index: usize) -> Result<T, CallError> {
        let name = self.names.get(index).copied().ok_or_else(|| {
            CallError::InvalidParams(format!(
                "parameter index {index} is out of range ({} parameters)",
                self.names.len()
            ))
        })?;
        match &self.shape {
            Shape::Nothing => decode(name, None),
            Shape::Positional(values) => decode(name, values.get(index)),
            Shape::Named(map) => decode(name, map.get(name)),
            Shape::Single(map) => decode_single(name, map),
        }
    }
}

/// Decodes one parameter given (`Some`) or missing (`None`).
fn decode<'a, T: Deserialize<'a>>(name: &str, value: Option<&'a Value>) -> Result<T, CallError> {
    match value {
        Some(value) => T::deserialize(value).map_err(|error| invalid(name, &error)),
        None => absent(name),
    }
}

/// Decodes a parameter that was not given: from `null` (`Option<T>`), else from `{}` (structs
/// whose fields all have defaults), else it is missing.
fn absent<'a, T: Deserialize<'a>>(name: &str) -> Result<T, CallError> {
    T::deserialize(&NULL)
        .or_else(|_: serde_json::Error| {
            let empty = std::iter::empty::<(&'a str, &'a Value)>();
            T::deserialize(serde::de::value::MapDeserializer::<_, serde_json::Error>::new(empty))
        })
        .map_err(|_| missing(name))
}

/// Decodes the only parameter of a method called with an object, by name or as the whole.
fn decode_single<'a, T: Deserialize<'a>>(
    name: &str,
    map: &'a Map<String, Value>,
) -> Result<T, CallError> {
    let keyed = map.get(name);
    if let (Some(value), 1) = (keyed, map.len()) {
        // Exactly `{"name": value}`: the named form, unless only the whole object fits.
        return match T::deserialize(value) {
            Ok(decoded) => Ok(decoded),
            Err(error) => whole(map).map_err(|_| invalid(name, &error)),
        };
    }
    let whole_error = match whole(map) {
        Ok(decoded) => return Ok(decoded),
        Err(error) => error,
    };
    if let Some(value) = keyed {
        // The named form with extra keys alongside.
        return T::deserialize(value).map_err(|error| invalid(name, &error));
    }
    if map.is_empty() {
        return absent(name);
    }
    Err(CallError::InvalidParams(format!(
        "invalid parameter `{name}`: the params object has no `{name}` key and is not a valid \
         `{name}` itself: {whole_error}"
    )))
}

/// Decodes a whole params object as one parameter.
fn whole<'a, T: Deserialize<'a>>(map: &'a Map<String, Value>) -> Result<T, serde_json::Error> {
    T::deserialize(MapDeserializer(map))
}

/// Lets a borrowed object be deserialized without cloning it into a `Value`.
struct MapDeserializer<'a>(&'a Map<String, Value>);

impl<'de> serde::Deserializer<'de> for MapDeserializer<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        serde::de::value::MapDeserializer::new(
            self.0.iter().map(|(key, value)| (key.as_str(), value)),
        )
        .deserialize_any(visitor)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Serializes a method's result as the call's JSON answer.
///
/// ```
/// assert_eq!(fdo_sdk::rpc::to_json(&vec![1, 2]).unwrap(), "[1,2]");
/// assert_eq!(fdo_sdk::rpc::to_json(&()).unwrap(), "null");
/// ```
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CallError> {
    serde_json::to_string(value).map_err(|error| {
        CallError::Failed(format!(
            "the function's result cannot be encoded as JSON: {error}"
        ))
    })
}

/// The message for more positional parameters than the method takes.
fn too_many(names: &[&str], given: usize) -> String {
    if names.is_empty() {
        format!("this method takes no parameters, got {given}")
    } else {
        format!(
            "expected at most {} parameter(s) ({}), got {given}",
            names.len(),
            list(names)
        )
    }
}

/// The message for a key that names no parameter.
fn unknown_key(names: &[&str], key: &str) -> String {
    if names.is_empty() {
        format!("this method takes no parameters, got `{key}`")
    } else {
        format!("unknown parameter `{key}` (expected {})", list(names))
    }
}

/// `a, b, c` with backticks, for messages.
fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parameter that was given but does not decode.
fn invalid(name: &str, error: &serde_json::Error) -> CallError {
    CallError::InvalidParams(format!("invalid parameter `{name}`: {error}"))
}

/// A required parameter that was not given.
fn missing(name: &str) -> CallError {
    CallError::InvalidParams(format!("missing parameter `{name}`"))
}

/// What kind of JSON value this is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Support for the code the macros generate; not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::CallError;
    use std::fmt::Display;

    pub use crate::bindings::exports::fdo::function::rpc::Guest;

    /// Wraps a method's error so method resolution picks how it becomes a [`CallError`].
    pub struct ErrorWrap<E>(pub E);

    /// A [`CallError`] returned by the author goes through unchanged (chosen first, by value).
    pub trait ViaCallError {
        /// The call error to report.
        fn into_call_error(self) -> CallError;
    }

    impl ViaCallError for ErrorWrap<CallError> {
        fn into_call_error(self) -> CallError {
            self.0
        }
    }

    /// Any other displayable error becomes [`CallError::Failed`] with its message (chosen by
    /// auto-ref when the by-value impl does not apply). `{:#}` keeps `anyhow`'s cause chain.
    pub trait ViaDisplay {
        /// The call error to report.
        fn into_call_error(self) -> CallError;
    }

    impl<E: Display> ViaDisplay for &ErrorWrap<E> {
        fn into_call_error(self) -> CallError {
            CallError::Failed(format!("{:#}", self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::__private::{ErrorWrap, ViaCallError as _, ViaDisplay as _};
    use super::*;
    use std::collections::BTreeMap;

    fn invalid_params(result: Result<impl std::fmt::Debug, CallError>) -> String {
        match result {
            Err(CallError::InvalidParams(message)) => message,
            other => panic!("expected invalid-params, got {other:?}"),
        }
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Args {
        tag: Option<String>,
        #[serde(default)]
        limit: u32,
    }

    #[test]
    fn positional_parameters_decode_in_order() {
        let params = Params::parse(r#"["Alice", 3]"#, &["name", "times"]).unwrap();
        assert_eq!(params.get::<String>(0).unwrap(), "Alice");
        assert_eq!(params.get::<u32>(1).unwrap(), 3);
    }

    #[test]
    fn named_parameters_decode_by_key_in_any_order() {
        let params = Params::parse(r#"{"times": 3, "name": "Alice"}"#, &["name", "times"]).unwrap();
        assert_eq!(params.get::<String>(0).unwrap(), "Alice");
        assert_eq!(params.get::<u32>(1).unwrap(), 3);
    }

    #[test]
    fn missing_optional_parameters_are_none_and_required_ones_are_named() {
        for json in ["", "null", "[]", "{}", r#"["x"]"#] {
            let params = Params::parse(json, &["name", "times"]).unwrap();
            assert_eq!(params.get::<Option<u32>>(1).unwrap(), None, "{json}");
            let message = invalid_params(params.get::<u32>(1));
            assert_eq!(message, "missing parameter `times`", "{json}");
        }
    }

    #[test]
    fn missing_struct_parameters_with_default_fields_decode_from_an_empty_object() {
        let params = Params::parse("[1]", &["id", "options"]).unwrap();
        assert_eq!(
            params.get::<Args>(1).unwrap(),
            Args {
                tag: None,
                limit: 0
            }
        );
        let params = Params::parse("", &["args"]).unwrap();
        assert_eq!(
            params.get::<Args>(0).unwrap(),
            Args {
                tag: None,
                limit: 0
            }
        );
        #[derive(Debug, Deserialize)]
        struct Required {
            #[allow(dead_code)]
            id: u32,
        }
        let message = invalid_params(params.get::<Required>(0));
        assert_eq!(message, "missing parameter `args`");
    }

    #[test]
    fn a_wrong_type_names_the_parameter_and_the_problem() {
        let params = Params::parse(r#"["Alice", "three"]"#, &["name", "times"]).unwrap();
        let message = invalid_params(params.get::<u32>(1));
        assert!(
            message.starts_with("invalid parameter `times`: invalid type: string \"three\""),
            "{message}"
        );
        let params = Params::parse(r#"{"name": 7, "times": 1}"#, &["name", "times"]).unwrap();
        let message = invalid_params(params.get::<String>(0));
        assert!(
            message.starts_with("invalid parameter `name`: invalid type: integer `7`"),
            "{message}"
        );
    }

    #[test]
    fn too_many_positional_parameters_is_an_error_listing_them() {
        let message = invalid_params(Params::parse("[1, 2, 3]", &["a", "b"]));
        assert_eq!(message, "expected at most 2 parameter(s) (`a`, `b`), got 3");
        let message = invalid_params(Params::parse("[1]", &[]));
        assert_eq!(message, "this method takes no parameters, got 1");
    }

    #[test]
    fn unknown_keys_are_rejected_when_parameters_are_named() {
        let message = invalid_params(Params::parse(r#"{"a": 1, "nme": 2}"#, &["a", "name"]));
        assert_eq!(message, "unknown parameter `nme` (expected `a`, `name`)");
        let message = invalid_params(Params::parse(r#"{"x": 1}"#, &[]));
        assert_eq!(message, "this method takes no parameters, got `x`");
        assert!(Params::parse("{}", &[]).is_ok());
    }

    #[test]
    fn invalid_json_and_scalars_for_several_parameters_are_rejected() {
        let message = invalid_params(Params::parse("[1,", &["a"]));
        assert!(
            message.starts_with("the params are not valid JSON"),
            "{message}"
        );
        let message = invalid_params(Params::parse("\"x\"", &["a", "b"]));
        assert_eq!(
            message,
            "the params must be a JSON array or object, got a string"
        );
    }

    #[test]
    fn a_scalar_is_the_only_parameter() {
        let params = Params::parse("\"Alice\"", &["name"]).unwrap();
        assert_eq!(params.get::<String>(0).unwrap(), "Alice");
    }

    #[test]
    fn a_single_parameter_takes_its_key_when_that_is_the_only_key() {
        let params = Params::parse(r#"{"name": "Alice"}"#, &["name"]).unwrap();
        assert_eq!(params.get::<String>(0).unwrap(), "Alice");
        let params = Params::parse(r#"{"args": {"tag": "web"}}"#, &["args"]).unwrap();
        assert_eq!(
            params.get::<Args>(0).unwrap(),
            Args {
                tag: Some("web".into()),
                limit: 0
            }
        );
        // A `Value` parameter too: `{"args": 1}` means args = 1.
        assert_eq!(
            params.get::<Value>(0).unwrap(),
            serde_json::json!({"tag": "web"})
        );
    }

    #[test]
    fn a_single_parameter_takes_the_whole_object_otherwise() {
        let params = Params::parse(r#"{"tag": "web", "limit": 5}"#, &["args"]).unwrap();
        assert_eq!(
            params.get::<Args>(0).unwrap(),
            Args {
                tag: Some("web".into()),
                limit: 5
            }
        );
        assert_eq!(
            params.get::<Value>(0).unwrap(),
            serde_json::json!({"tag": "web", "limit": 5})
        );
        let map = params.get::<BTreeMap<String, Value>>(0).unwrap();
        assert_eq!(map.len(), 2);
        // An empty object is a valid struct with defaults...
        let params = Params::parse("{}", &["args"]).unwrap();
        assert_eq!(
            params.get::<Args>(0).unwrap(),
            Args {
                tag: None,
                limit: 0
            }
        );
        // ...and no value for an optional scalar.
        assert_eq!(params.get::<Option<String>>(0).unwrap(), None);
        assert_eq!(
            invalid_params(params.get::<String>(0)),
            "missing parameter `args`"
        );
    }

    #[test]
    fn a_struct_whose_field_has_the_parameter_name_still_gets_the_whole_object() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Wrapper {
            args: u32,
        }
        let params = Params::parse(r#"{"args": 3}"#, &["args"]).unwrap();
        assert_eq!(params.get::<Wrapper>(0).unwrap(), Wrapper { args: 3 });
    }

    #[test]
    fn a_single_parameter_uses_its_key_when_extra_keys_do_not_fit_it() {
        let params =
            Params::parse(r#"{"name": "Alice", "__ow_method": "post"}"#, &["name"]).unwrap();
        assert_eq!(params.get::<String>(0).unwrap(), "Alice");
        assert_eq!(params.get::<&str>(0).unwrap(), "Alice");
    }

    #[test]
    fn a_single_parameter_that_fits_nothing_says_why() {
        let params = Params::parse(r#"{"nme": "Alice"}"#, &["name"]).unwrap();
        let message = invalid_params(params.get::<String>(0));
        assert!(
            message.starts_with("invalid parameter `name`: the params object has no `name` key"),
            "{message}"
        );
        let params = Params::parse(r#"{"name": 5}"#, &["name"]).unwrap();
        let message = invalid_params(params.get::<String>(0));
        assert!(
            message.starts_with("invalid parameter `name`: invalid type: integer `5`"),
            "{message}"
        );
        let params = Params::parse(r#"{"tag": 5}"#, &["args"]).unwrap();
        let message = invalid_params(params.get::<Args>(0));
        assert!(
            message.contains("invalid type: integer `5`, expected a string"),
            "{message}"
        );
    }

    #[test]
    fn str_parameters_borrow_from_the_params() {
        let params = Params::parse(r#"["Alice", {"b": "Bob"}]"#, &["a", "b"]).unwrap();
        let a: &str = params.get(0).unwrap();
        let b: BTreeMap<&str, &str> = params.get(1).unwrap();
        assert_eq!((a, b["b"]), ("Alice", "Bob"));
    }

    #[test]
    fn an_out_of_range_index_is_an_error_not_a_panic() {
        let params = Params::parse("[]", &["a"]).unwrap();
        assert!(invalid_params(params.get::<Option<u8>>(1)).contains("out of range"));
    }

    #[test]
    fn results_encode_as_json_and_unencodable_ones_fail_cleanly() {
        assert_eq!(
            to_json(&serde_json::json!({"body": "hi"})).unwrap(),
            r#"{"body":"hi"}"#
        );
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], 1);
        match to_json(&bad) {
            Err(CallError::Failed(message)) => {
                assert!(message.contains("cannot be encoded"), "{message}")
            }
            other => panic!("expected failed, got {other:?}"),
        }
    }

    #[test]
    fn errors_become_failed_with_their_message_and_call_errors_pass_through() {
        let error = ErrorWrap(std::io::Error::other("disk on fire")).into_call_error();
        assert!(matches!(error, CallError::Failed(m) if m == "disk on fire"));
        let error = ErrorWrap(CallError::InvalidParams("bad id".into())).into_call_error();
        assert!(matches!(error, CallError::InvalidParams(m) if m == "bad id"));
        let error = ErrorWrap("plain text").into_call_error();
        assert!(matches!(error, CallError::Failed(m) if m == "plain text"));
    }
}
