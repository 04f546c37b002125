//! The severity of a log line, one scale for guests, storage and the API.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Severity of a log entry, ordered `Debug < Info < Warn < Error`. A guest's `trace` lines
/// are `Debug` (the linker maps them), so the scale is the same from the guest to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl LogLevel {
    /// Lowercase name as in the reference.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }

    /// Stable small integer used by storage (0..=3), preserving order.
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// Inverse of [`LogLevel::rank`].
    pub fn from_rank(rank: i64) -> Option<Self> {
        [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ]
        .into_iter()
        .find(|l| l.rank() == rank)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level name that is not one of `debug`, `info`, `warn`, `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log level '{0}': expected debug, info, warn or error")]
pub struct InvalidLogLevel(pub String);

impl FromStr for LogLevel {
    type Err = InvalidLogLevel;

    /// `debug`, `info`, `warn`, `error`, case-insensitive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ]
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| InvalidLogLevel(s.chars().take(64).collect()))
    }
}
