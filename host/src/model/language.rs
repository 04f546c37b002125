//! The languages a function may be written in (the reference's list).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// The languages the reference supports. Serialized lowercase, as in the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// `typescript`
    TypeScript,
    /// `javascript`
    JavaScript,
    /// `rust`
    Rust,
    /// `python`
    Python,
    /// `go`
    Go,
    /// `zig`
    Zig,
    /// `assemblyscript`
    AssemblyScript,
    /// `csharp`
    CSharp,
}

impl Language {
    /// Every supported language, in the reference's order.
    pub const ALL: [Language; 8] = [
        Language::TypeScript,
        Language::JavaScript,
        Language::Rust,
        Language::Python,
        Language::Go,
        Language::Zig,
        Language::AssemblyScript,
        Language::CSharp,
    ];

    /// The reference's lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::TypeScript => "typescript",
            Language::JavaScript => "javascript",
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Go => "go",
            Language::Zig => "zig",
            Language::AssemblyScript => "assemblyscript",
            Language::CSharp => "csharp",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Language {
    type Err = ValidationError;

    /// Exact, lowercase names only (`TypeScript` is rejected, as the reference lists them).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "language",
                    s,
                    format!("Invalid language: must be one of {}", language_list()),
                )
            })
    }
}

fn language_list() -> String {
    Language::ALL.map(Language::as_str).join(", ")
}
