//! The function's environment variables and secrets, as set at deploy.
//!
//! The host passes both to the component as WASI environment variables. They are kept apart
//! in the API for clarity: [`var`] is for configuration (`DO_API_BASE_URL`), [`secret`] for
//! credentials (`DO_API_TOKEN`), and returns a [`Secret`] that refuses to print itself, so a
//! stray `{:?}` or log line cannot leak it.
//!
//! ```
//! let base = fdo_sdk::env::var("API_BASE_URL").unwrap_or_else(|| "https://example.com".into());
//! assert!(base.starts_with("https://"));
//! ```

use std::fmt;

/// The value of the environment variable `name`, or `None` when it is unset or not UTF-8.
///
/// ```
/// assert_eq!(fdo_sdk::env::var("FDO_SDK_SURELY_UNSET_VARIABLE"), None);
/// ```
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The value of the environment variable `name`, or `default` when it is unset or empty.
///
/// ```
/// let region = fdo_sdk::env::var_or("FDO_SDK_SURELY_UNSET_VARIABLE", "nyc3");
/// assert_eq!(region, "nyc3");
/// ```
pub fn var_or(name: &str, default: &str) -> String {
    match var(name) {
        Some(value) if !value.is_empty() => value,
        _ => default.to_owned(),
    }
}

/// The secret `name` set at deploy, or an error saying it is missing.
///
/// An empty value counts as missing. The [`Secret`] hides its value from `Debug` and
/// `Display`; call [`Secret::expose`] where the value is really needed.
///
/// ```
/// match fdo_sdk::secret("FDO_SDK_SURELY_UNSET_SECRET") {
///     Ok(token) => println!("token is {token}"), // prints "token is [redacted]"
///     Err(missing) => assert_eq!(
///         missing.to_string(),
///         "secret `FDO_SDK_SURELY_UNSET_SECRET` is not set: add it to the function's secrets at deploy"
///     ),
/// }
/// ```
pub fn secret(name: &str) -> Result<Secret, MissingSecret> {
    match var(name) {
        Some(value) if !value.is_empty() => Ok(Secret(value)),
        _ => Err(MissingSecret {
            name: name.to_owned(),
        }),
    }
}

/// A secret value that does not print itself.
///
/// ```
/// let secret = fdo_sdk::env::Secret::new("hunter2");
/// assert_eq!(format!("{secret} {secret:?}"), "[redacted] Secret([redacted])");
/// assert_eq!(secret.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (for tests and for secrets obtained some other way).
    ///
    /// ```
    /// let secret = fdo_sdk::env::Secret::new(String::from("t0ken"));
    /// assert_eq!(secret.expose(), "t0ken");
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's value. Use it only where the value goes (a header), never in a message.
    ///
    /// ```
    /// let secret = fdo_sdk::env::Secret::new("t0ken");
    /// let header = format!("Bearer {}", secret.expose());
    /// assert_eq!(header, "Bearer t0ken");
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A secret the function needs was not set at deploy.
///
/// ```
/// let missing = fdo_sdk::secret("FDO_SDK_SURELY_UNSET_SECRET").unwrap_err();
/// assert_eq!(missing.name, "FDO_SDK_SURELY_UNSET_SECRET");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret `{name}` is not set: add it to the function's secrets at deploy")]
pub struct MissingSecret {
    /// The secret's name.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let secret = Secret::new("dop_v1_abcdef");
        for text in [
            format!("{secret}"),
            format!("{secret:?}"),
            format!("{secret:#?}"),
        ] {
            assert!(!text.contains("abcdef"), "{text}");
        }
    }

    #[test]
    fn a_missing_secret_names_itself() {
        let error = secret("FDO_SDK_TEST_NO_SUCH_SECRET").unwrap_err();
        assert_eq!(error.name, "FDO_SDK_TEST_NO_SUCH_SECRET");
        assert!(
            error
                .to_string()
                .contains("`FDO_SDK_TEST_NO_SUCH_SECRET` is not set")
        );
    }

    #[test]
    fn set_variables_and_secrets_are_read() {
        // PATH is set in every environment that runs the test suite.
        let path = var("PATH").expect("PATH is set");
        assert_eq!(var_or("PATH", "fallback"), path);
        assert_eq!(secret("PATH").unwrap().expose(), path);
    }
}
