//! Logging into the function's logs, at a level, through the host's `fdo:function/log` import.
//!
//! Each entry is tagged by the host with the call's request id and shows up in
//! `GET /v1/functions/:id/logs` (filterable by level). Use the functions with a ready message,
//! or the macros with `format!` arguments:
//!
//! ```
//! use fdo_sdk::log;
//!
//! log::info("listing droplets");
//! log::warn!("retrying after {} ms", 250);
//! fdo_sdk::debug!("page {} of {}", 1, 3);
//! ```
//!
//! Outside a WebAssembly component (unit tests and doc tests on the host target) entries go to
//! standard error instead, so code that logs stays testable. Never log secrets: see
//! [`crate::env::Secret`].

pub use crate::bindings::fdo::function::log::Level;

/// Records `message` at `level` in the function's logs.
///
/// ```
/// fdo_sdk::log::log(fdo_sdk::log::Level::Info, "ready");
/// ```
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::fdo::function::log::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{}] {message}", level_name(level));
}

/// The lowercase name of a level, as the host's log API spells it.
///
/// ```
/// assert_eq!(fdo_sdk::log::level_name(fdo_sdk::log::Level::Warn), "warn");
/// ```
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

/// Records `message` at trace level.
///
/// ```
/// fdo_sdk::log::trace("entering main");
/// ```
pub fn trace(message: &str) {
    log(Level::Trace, message);
}

/// Records `message` at debug level.
///
/// ```
/// fdo_sdk::log::debug("3 pages fetched");
/// ```
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Records `message` at info level.
///
/// ```
/// fdo_sdk::log::info("power on requested");
/// ```
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Records `message` at warn level.
///
/// ```
/// fdo_sdk::log::warn("rate limited, giving up");
/// ```
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Records `message` at error level.
///
/// ```
/// fdo_sdk::log::error("upstream answered 500");
/// ```
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Logs a `format!`-style message at trace level: `fdo_sdk::trace!("x = {x}")`.
///
/// ```
/// let page = 2;
/// fdo_sdk::trace!("fetching page {page}");
/// ```
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => {
        $crate::log::trace(&::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at debug level: `fdo_sdk::debug!("x = {x}")`.
///
/// ```
/// fdo_sdk::debug!("{} droplets", 3);
/// ```
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => {
        $crate::log::debug(&::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at info level: `fdo_sdk::info!("x = {x}")`.
///
/// ```
/// fdo_sdk::info!("hello {}", "Alice");
/// ```
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => {
        $crate::log::info(&::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at warn level: `fdo_sdk::warn!("x = {x}")`.
///
/// ```
/// fdo_sdk::warn!("slow answer: {} ms", 900);
/// ```
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {
        $crate::log::warn(&::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at error level: `fdo_sdk::error!("x = {x}")`.
///
/// ```
/// fdo_sdk::error!("status {}", 502);
/// ```
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => {
        $crate::log::error(&::std::format!($($arg)+))
    };
}

#[doc(inline)]
pub use crate::{debug, error, info, trace, warn};
