//! The service every connection talks to: invocations of a function go straight to their
//! handler, everything else through the router.
//!
//! An invocation (`/v1/functions/:id`, `/functions/:id`, and their `/invoke` forms) is the hot
//! path: every call of every function comes this way, and the router's work for it (matching
//! nested routes, the path extractor, two middleware layers that each clone the inner service
//! and box a future) is a fixed cost per call. For these paths the front runs the same steps
//! the router would, directly: the gate ([`auth::admit`], [`auth::annotate`]), the invoke
//! handler ([`invoke::invoke_function`]), the JSON content type. Any other path, and an id the
//! router would have to percent-decode, goes through the router unchanged, so the two cannot
//! disagree about what a route is: the front only recognises paths the router maps to the
//! invoke handler.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use tower::{Service, ServiceExt as _};

use super::{AppState, auth, invoke, set_json_content_type};

/// One connection's service; cheap to clone (two `Arc`s and an address).
#[derive(Clone)]
pub(super) struct Front {
    state: Arc<AppState>,
    router: Router,
    peer: SocketAddr,
}

impl Front {
    /// The service for a connection from `peer`.
    pub(super) fn new(state: Arc<AppState>, router: Router, peer: SocketAddr) -> Self {
        Self {
            state,
            router,
            peer,
        }
    }
}

impl Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if let Some(id) = invoke_target(request.uri().path()) {
            let id = id.to_owned();
            let state = self.state.clone();
            let peer = self.peer;
            return Box::pin(async move {
                let mut response = match auth::admit(&state, peer, request.headers(), false).await {
                    Ok((caller, decision)) => {
                        let mut response =
                            invoke::invoke_function(state, id, caller, request).await;
                        auth::annotate(&mut response, decision);
                        response
                    }
                    Err(refusal) => refusal,
                };
                set_json_content_type(&mut response);
                Ok(response)
            });
        }
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(router.oneshot(request))
    }
}

/// The function id when `path` is one the router sends to the invoke handler
/// (`/v1/functions/ID`, `/functions/ID`, either with `/invoke`), and the id needs no decoding.
fn invoke_target(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/v1/functions/")
        .or_else(|| path.strip_prefix("/functions/"))?;
    let id = rest.strip_suffix("/invoke").unwrap_or(rest);
    let plain = !id.is_empty() && !id.bytes().any(|b| b == b'/' || b == b'%');
    plain.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::invoke_target;

    #[test]
    fn only_the_invoke_routes_are_recognised() {
        for (path, id) in [
            ("/v1/functions/hello", Some("hello")),
            ("/functions/hello", Some("hello")),
            ("/v1/functions/hello/invoke", Some("hello")),
            ("/functions/hello/invoke", Some("hello")),
            ("/v1/functions/invoke", Some("invoke")),
            ("/v1/functions/Bad_ID!", Some("Bad_ID!")), // the handler validates ids
            ("/v1/functions/hello/logs", None),
            ("/v1/functions/hello/echo", None),
            ("/v1/functions/hello/invoke/x", None),
            ("/v1/functions/hello/", None),
            ("/v1/functions/", None),
            ("/v1/functions/he%6clo", None),
            ("/v1/functions//invoke", None),
            ("/v1/api/functions/hello", None),
            ("/v2/functions/hello", None),
            ("/", None),
        ] {
            assert_eq!(invoke_target(path), id, "{path}");
        }
    }
}
