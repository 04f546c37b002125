//! Secrets: name -> value, write-only at the API.

use std::collections::BTreeMap;
use std::fmt;

use crate::validate::{ValidationError, validate_secrets};

/// Secret name -> value. Write-only at the API: this type implements neither `Serialize` nor
/// a revealing `Debug` (values print as `<redacted>`), so a secret cannot leak through a
/// response body or a log line by accident. Read values with [`Secrets::iter`] / [`Secrets::get`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, String>);

impl Secrets {
    /// Secrets with these names and values, each following the rules of
    /// [`validate_secrets`] (names like environment variables, no NUL, bounded sizes).
    pub fn new(map: BTreeMap<String, String>) -> Result<Self, ValidationError> {
        validate_secrets(&map, &BTreeMap::new())?;
        Ok(Secrets(map))
    }

    /// The value of one secret.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Secret names, sorted; safe to show.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Name/value pairs, sorted by name (for handing to the guest's environment).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of secrets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The underlying map, for storage backends.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, Redacted)))
            .finish()
    }
}
