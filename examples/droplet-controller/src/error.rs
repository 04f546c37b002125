//! What can go wrong in the droplet controller, and how each failure reaches the caller.
//!
//! Bad input is the caller's to fix, so it becomes `invalid-params`; everything else (a
//! missing token, an unreachable or refusing API) is `failed` with a message that says what
//! happened and never contains the token.

use fdo_sdk::CallError;
use fdo_sdk::env::MissingSecret;
use fdo_sdk::http::HttpError;

/// A failure of the droplet controller.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The arguments are wrong (checked before any API call).
    #[error("{0}")]
    InvalidInput(String),
    /// The `DO_API_TOKEN` secret was not set at deploy.
    #[error(transparent)]
    MissingToken(#[from] MissingSecret),
    /// `DO_API_BASE_URL` is not an absolute http(s) URL.
    #[error("DO_API_BASE_URL is not usable: {0}")]
    BadBaseUrl(HttpError),
    /// The API answered with an error status; the message explains it.
    #[error("{message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// What happened, with DigitalOcean's error id and message.
        message: String,
    },
    /// No answer from the API: DNS, connection, a host that denied the request, ...
    #[error("cannot reach the DigitalOcean API: {0}")]
    Http(#[from] HttpError),
    /// The API answered 2xx with something that is not what its description promises.
    #[error("unexpected answer from the DigitalOcean API: {0}")]
    UnexpectedResponse(String),
}

impl From<ControllerError> for CallError {
    fn from(error: ControllerError) -> Self {
        match error {
            ControllerError::InvalidInput(message) => CallError::InvalidParams(message),
            other => CallError::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_invalid_params_and_the_rest_failed() {
        let error = CallError::from(ControllerError::InvalidInput("bad id".into()));
        assert!(matches!(error, CallError::InvalidParams(m) if m == "bad id"));
        let error = CallError::from(ControllerError::Api {
            status: 401,
            message: "rejected".into(),
        });
        assert!(matches!(error, CallError::Failed(m) if m == "rejected"));
        let missing = MissingSecret {
            name: "DO_API_TOKEN".into(),
        };
        let error = CallError::from(ControllerError::from(missing));
        assert!(matches!(error, CallError::Failed(m) if m.contains("`DO_API_TOKEN` is not set")));
    }
}
