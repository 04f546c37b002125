//! Write fdo functions in plain Rust.
//!
//! An fdo function is a WebAssembly component exporting `fdo:function/rpc`: callers send
//! `POST /v1/functions/:id` with `{"method": "...", "params": [...] | {...}}` and get the
//! method's JSON result back. With this crate a function is an ordinary Rust function:
//!
//! ```
//! /// Greets someone: `{"method": "hello", "params": ["Alice"]}` or `{"name": "Alice"}`.
//! #[fdo_sdk::function]
//! fn hello(name: String) -> String {
//!     format!("Hello {name}!")
//! }
//! # fn main() {
//! # assert_eq!(hello("Alice".into()), "Hello Alice!");
//! # }
//! ```
//!
//! or several, as the `pub` methods of an impl block:
//!
//! ```
//! use fdo_sdk::CallError;
//!
//! struct Calculator;
//!
//! #[fdo_sdk::functions]
//! impl Calculator {
//!     /// `{"method": "add", "params": [1, 2]}` gives `3`.
//!     pub fn add(a: i64, b: i64) -> i64 {
//!         a + b
//!     }
//!
//!     /// Errors become `call-error::failed` with the message.
//!     pub fn divide(a: i64, b: i64) -> Result<i64, String> {
//!         a.checked_div(b).ok_or_else(|| format!("cannot divide {a} by {b}"))
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! Build it as a `cdylib` for `wasm32-wasip2` and deploy the `.wasm`. On that target the SDK also
//! answers the WASI preview1 calls `std` makes through wasi-libc with WASI 0.2 imports, so the
//! component needs no preview1 adapter (one core module fewer to instantiate per call). Besides
//! the macros the SDK has what functions usually need:
//!
//! - [`log`](mod@log): leveled logging into the function's logs (`fdo_sdk::info!("...")`);
//! - [`env`](mod@env): configuration variables and write-only [secrets](secret) set at deploy;
//! - [`http`]: a blocking outbound HTTP client (subject to the function's outbound allow-list).
//!
//! Authors depend on `fdo-sdk` alone: the WIT bindings are generated here, and
//! [`wit_bindgen`], [`serde_json`] (and, with the `http` feature, [`wasi`]) are re-exported.

#![deny(missing_docs)]

extern crate self as fdo_sdk;

#[doc(hidden)]
pub mod bindings;
pub mod env;
#[cfg(feature = "http")]
pub mod http;
pub mod log;
#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod preview1;
pub mod rpc;

pub use env::secret;
pub use rpc::CallError;

/// The `wit-bindgen` runtime the generated bindings use.
pub use wit_bindgen;

/// JSON values and (de)serialization, for `serde_json::Value` parameters and results.
pub use serde_json;

/// The WASI 0.2 bindings (the `wasi` crate), e.g. to write a `wasi:http/incoming-handler`
/// component with `fdo_sdk::wasi::http::proxy::export!`.
#[cfg(feature = "http")]
pub use wasi;

/// Exports a hand-written implementation of `rpc::Guest` (what the attribute macros generate).
///
/// ```
/// use fdo_sdk::rpc::{CallError, Params, __private::Guest};
///
/// struct Echo;
///
/// impl Guest for Echo {
///     fn call(method: String, params: String) -> Result<String, CallError> {
///         match method.as_str() {
///             "echo" => {
///                 let params = Params::parse(&params, &["value"])?;
///                 fdo_sdk::rpc::to_json(&params.get::<fdo_sdk::serde_json::Value>(0)?)
///             }
///             _ => Err(CallError::UnknownMethod(method)),
///         }
///     }
/// }
///
/// fdo_sdk::export!(Echo);
/// # fn main() {
/// # assert_eq!(Echo::call("echo".into(), "[1]".into()).unwrap(), "1");
/// # }
/// ```
#[doc(inline)]
pub use bindings::export;

/// Makes a free function the function's one RPC method.
///
/// The method is called by the function's name (or `#[fdo_sdk::function(name = "other")]`).
/// Its parameters are decoded with serde from the call's `params`, by position (a JSON array)
/// or by name (an object keyed by the parameter names); a function with a single parameter
/// also accepts the whole object as that parameter, which suits DigitalOcean-style
/// `main(args)` functions. `Option<T>` parameters may be left out. `&str` parameters borrow
/// from the call. The result is serialized to JSON; `()` gives `null`.
///
/// A return type spelled `Result<T, E>` (including aliases such as `anyhow::Result<T>`)
/// serializes `Ok`, and turns `Err` into `call-error::failed` with the error's message
/// (`{:#}`, so `anyhow` shows its causes), unless `E` is [`CallError`], which is passed through
/// (to answer `invalid-params` yourself, say).
///
/// The caller gets `invalid-params` naming the parameter when one is missing or has the wrong
/// type, and `unknown-method` for any other method name.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Args {
///     name: Option<String>,
/// }
///
/// #[derive(Serialize)]
/// struct Reply {
///     body: String,
/// }
///
/// /// `{"method": "main", "params": {"name": "Alice"}}` gives `{"body": "Hello Alice!"}`.
/// #[fdo_sdk::function(name = "main")]
/// fn greet(args: Args) -> Reply {
///     let name = args.name.unwrap_or_else(|| "stranger".into());
///     Reply { body: format!("Hello {name}!") }
/// }
/// # fn main() {
/// # use fdo_sdk::rpc::__private::Guest;
/// # let out = __FdoSdkFunction::call("main".into(), r#"{"name": "Alice"}"#.into()).unwrap();
/// # assert_eq!(out, r#"{"body":"Hello Alice!"}"#);
/// # }
/// ```
///
/// A crate (a component) has one `#[function]` or one `#[functions]` block. Signatures that
/// cannot be called from JSON are compile errors pointing at the problem: `async fn`, generic
/// functions, `impl Trait` parameters, reference parameters other than `&str`, patterns in
/// parameter position.
///
/// ```compile_fail
/// #[fdo_sdk::function]
/// async fn hello(name: String) -> String { name } // error: RPC methods cannot be `async`
/// ```
///
/// ```compile_fail
/// #[fdo_sdk::function]
/// fn count(items: &Vec<u32>) -> usize { items.len() } // error: only `&str` references
/// ```
#[doc(inline)]
pub use fdo_sdk_macro::function;

/// Makes each `pub` method of an inherent impl block an RPC method of the function.
///
/// Methods follow the rules of [`function`]; private methods are left alone as helpers.
/// Rename a method with `#[rpc(name = "processData")]`. Methods may have no receiver or take
/// `&self` / `&mut self`, in which case the type must implement `Default` and each call gets
/// a fresh `Self::default()` (components keep no state between calls that they can rely on).
///
/// ```
/// use fdo_sdk::CallError;
///
/// #[derive(Default)]
/// struct Greeter {
///     greeting: Greeting,
/// }
///
/// struct Greeting(&'static str);
///
/// impl Default for Greeting {
///     fn default() -> Self {
///         Greeting("Hello")
///     }
/// }
///
/// #[fdo_sdk::functions]
/// impl Greeter {
///     /// `{"method": "greet", "params": {"name": "Alice"}}`
///     pub fn greet(&self, name: &str) -> String {
///         self.decorate(name)
///     }
///
///     /// `{"method": "processData", "params": [[1, 2, 3]]}` gives `6`.
///     #[rpc(name = "processData")]
///     pub fn process_data(values: Vec<u64>) -> Result<u64, CallError> {
///         if values.is_empty() {
///             return Err(CallError::InvalidParams("`values` cannot be empty".into()));
///         }
///         Ok(values.iter().sum())
///     }
///
///     fn decorate(&self, name: &str) -> String {
///         format!("{} {name}!", self.greeting.0)
///     }
/// }
/// # fn main() {
/// # use fdo_sdk::rpc::__private::Guest;
/// # assert_eq!(Greeter::call("greet".into(), r#"["Bob"]"#.into()).unwrap(), r#""Hello Bob!""#);
/// # assert_eq!(Greeter::call("processData".into(), "[[1,2,3]]".into()).unwrap(), "6");
/// # }
/// ```
///
/// ```compile_fail
/// struct Counter;
///
/// #[fdo_sdk::functions]
/// impl Counter {
///     pub fn consume(self) -> u32 { 1 } // error: `self` by value is not supported
/// }
/// ```
#[doc(inline)]
pub use fdo_sdk_macro::functions;
