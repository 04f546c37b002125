//! The outbound HTTP allow-list: which hosts a function may call through
//! `wasi:http/outgoing-handler`.
//!
//! Nothing is allowed unless listed. Entries are [`AllowedHost`]s (validated at deploy):
//! `*` (any host), `host`, `host:port`, `*.example.com` (any subdomain), each optionally
//! prefixed with `http://` or `https://` to pin the scheme. Link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10,
//! 100.100.100.200, fd00:ec2::254) are refused even under `*` unless their host is listed
//! explicitly. A refused request fails in the guest with `HTTP-request-denied` (or
//! `destination-IP-prohibited`) and leaves a warning in the call's logs.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::validate::{AllowedHost, HostPattern};

/// Whether `ip` is link-local or a well-known cloud metadata address.
pub fn is_sensitive_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.octets() == [100, 100, 100, 200],
        IpAddr::V6(v6) => {
            const AWS_METADATA: std::net::Ipv6Addr =
                std::net::Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == AWS_METADATA
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_sensitive_address(IpAddr::V4(v4)))
        }
    }
}

/// The per-call outbound policy: the function's allow-list, plus the denials it recorded.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allowed: Arc<Vec<AllowedHost>>,
    /// Messages for requests this call was refused, for the function's logs.
    pub(crate) denials: Vec<String>,
}

impl OutboundPolicy {
    /// A policy allowing exactly `allowed` (already parsed).
    pub fn new(allowed: Arc<Vec<AllowedHost>>) -> Self {
        Self {
            allowed,
            denials: Vec::new(),
        }
    }

    /// Whether a request to `scheme://host:port` is allowed by the list (before DNS).
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.allowed.iter().any(|p| p.matches(scheme, host, port))
    }

    /// Whether an entry names `host` itself (not through `*` or `*.domain`): only such an
    /// entry lets a request reach a link-local or metadata address.
    fn names_exactly(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed.iter().any(|p| match &p.host {
            HostPattern::Name(n) => n.eq_ignore_ascii_case(bare.trim_end_matches('.')),
            HostPattern::Ipv4(a) => bare.parse::<std::net::Ipv4Addr>().is_ok_and(|h| h == *a),
            HostPattern::Ipv6(a) => bare.parse::<std::net::Ipv6Addr>().is_ok_and(|h| h == *a),
            HostPattern::Any | HostPattern::Subdomains(_) => false,
        })
    }
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri.host().unwrap_or_default().to_owned();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        if !self.allows(&scheme, &host, port) {
            self.denials.push(format!(
                "outbound request to {scheme}://{host}:{port} denied: host not in allowedHosts"
            ));
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let explicit = self.names_exactly(&host);
        Box::new(async move {
            if !explicit {
                let addrs = tokio::net::lookup_host((host.as_str(), port))
                    .await
                    .map_err(|_| HttpError::DestinationNotFound)?;
                if addrs.into_iter().any(|a| is_sensitive_address(a.ip())) {
                    return Err(HttpError::DestinationIpProhibited);
                }
            }
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &[&str]) -> OutboundPolicy {
        let list = list
            .iter()
            .map(|s| AllowedHost::parse(s).unwrap())
            .collect();
        OutboundPolicy::new(Arc::new(list))
    }

    #[test]
    fn empty_list_denies_everything() {
        assert!(!policy(&[]).allows("https", "api.digitalocean.com", 443));
    }

    #[test]
    fn only_exact_entries_unlock_sensitive_addresses() {
        let p = policy(&[
            "*",
            "*.internal",
            "169.254.169.254",
            "metadata.google.internal",
        ]);
        assert!(p.names_exactly("169.254.169.254"));
        assert!(p.names_exactly("metadata.google.internal"));
        assert!(
            !p.names_exactly("other.internal"),
            "a wildcard is not an explicit listing"
        );
        assert!(!p.names_exactly("example.com"));
    }

    #[test]
    fn metadata_and_link_local_addresses_are_sensitive() {
        for ip in [
            "169.254.169.254",
            "169.254.1.1",
            "100.100.100.200",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_sensitive_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.1", "8.8.8.8", "::1", "fd00::1"] {
            assert!(!is_sensitive_address(ip.parse().unwrap()), "{ip}");
        }
    }
}
