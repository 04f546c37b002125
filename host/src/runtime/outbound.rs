//! The outbound HTTP allow-list: which hosts a function may call through
//! `wasi:http/outgoing-handler`.
//!
//! Nothing is allowed unless listed. Patterns: `*` (any host), `host`, `host:port`,
//! `*.example.com` (any subdomain), each optionally prefixed with `http://` or `https://` to
//! pin the scheme. Link-local and cloud-metadata addresses (169.254.0.0/16, fe80::/10,
//! 100.100.100.200, fd00:ec2::254) are refused even under `*` unless their host is listed
//! explicitly. A refused request fails in the guest with `HTTP-request-denied` (or
//! `destination-IP-prohibited`) and leaves a warning in the call's logs.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    scheme: Option<String>,
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    Suffix(String),
}

impl HostPattern {
    /// Parses one entry; `None` when it is not a pattern this module understands.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let (scheme, rest) = match raw.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
                (Some(s.to_ascii_lowercase()), rest)
            }
            Some(_) => return None,
            None => (None, raw),
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let (host, port) = split_host_port(rest)?;
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if !valid_host(suffix) {
                return None;
            }
            HostMatch::Suffix(suffix.to_owned())
        } else {
            if !valid_host(&host) {
                return None;
            }
            HostMatch::Exact(host)
        };
        Some(Self { scheme, host, port })
    }

    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if let Some(s) = &self.scheme
            && s != scheme
        {
            return false;
        }
        if let Some(p) = self.port
            && p != port
        {
            return false;
        }
        match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(h) => h == host,
            HostMatch::Suffix(s) => {
                host.len() > s.len() + 1 && host.ends_with(s.as_str()) && host[..host.len() - s.len()].ends_with('.')
            }
        }
    }

    fn names_exactly(&self, host: &str) -> bool {
        matches!(&self.host, HostMatch::Exact(h) if h == host)
    }
}

fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        // [v6]:port
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host, port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, Some(port.parse().ok()?))),
        Some(_) => Some((s, None)), // a bare IPv6 address
        None => Some((s, None)),
    }
}

fn valid_host(host: &str) -> bool {
    host == "*"
        || host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

/// Whether `ip` is link-local or a well-known cloud metadata address.
pub fn is_sensitive_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.octets() == [100, 100, 100, 200],
        IpAddr::V6(v6) => {
            const AWS_METADATA: std::net::Ipv6Addr =
                std::net::Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == AWS_METADATA
                || v6.to_ipv4_mapped().is_some_and(|v4| is_sensitive_address(IpAddr::V4(v4)))
        }
    }
}

/// The per-call outbound policy: the function's allow-list, plus the denials it recorded.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allowed: Arc<Vec<HostPattern>>,
    /// Messages for requests this call was refused, for the function's logs.
    pub(crate) denials: Vec<String>,
}

impl OutboundPolicy {
    /// A policy allowing exactly `allowed` (already parsed).
    pub fn new(allowed: Arc<Vec<HostPattern>>) -> Self {
        Self { allowed, denials: Vec::new() }
    }

    /// Parses an allow-list; the error names the first entry that is not a valid pattern.
    pub fn parse_list(entries: &[String]) -> Result<Vec<HostPattern>, String> {
        entries
            .iter()
            .map(|e| HostPattern::parse(e).ok_or_else(|| format!("invalid allowed host: {e:?}")))
            .collect()
    }

    /// Whether a request to `scheme://host:port` is allowed by the list (before DNS).
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        self.allowed.iter().any(|p| p.matches(scheme, &host, port))
    }

    fn names_exactly(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        self.allowed.iter().any(|p| p.names_exactly(&host))
    }
}

type SendResult = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>;

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
        let port = uri.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
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
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &[&str]) -> OutboundPolicy {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        OutboundPolicy::new(Arc::new(OutboundPolicy::parse_list(&list).unwrap()))
    }

    #[test]
    fn empty_list_denies_everything() {
        assert!(!policy(&[]).allows("https", "api.digitalocean.com", 443));
    }

    #[test]
    fn patterns_match_as_documented() {
        let p = policy(&["api.digitalocean.com", "*.example.com", "http://127.0.0.1:9000"]);
        assert!(p.allows("https", "api.digitalocean.com", 443));
        assert!(p.allows("http", "API.DigitalOcean.com", 80));
        assert!(p.allows("https", "a.b.example.com", 443));
        assert!(!p.allows("https", "example.com", 443));
        assert!(!p.allows("https", "badexample.com", 443));
        assert!(p.allows("http", "127.0.0.1", 9000));
        assert!(!p.allows("https", "127.0.0.1", 9000));
        assert!(!p.allows("http", "127.0.0.1", 9001));
        assert!(policy(&["*"]).allows("http", "anything.test", 8080));
        assert!(policy(&["[::1]:8080"]).allows("http", "[::1]", 8080));
    }

    #[test]
    fn junk_patterns_are_rejected() {
        for bad in ["", "ftp://x.com", "x.com/path", "x..com", "host:99999", "user@host", "*.", "a b"] {
            assert!(HostPattern::parse(bad).is_none(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn metadata_and_link_local_addresses_are_sensitive() {
        for ip in ["169.254.169.254", "169.254.1.1", "100.100.100.200", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254"] {
            assert!(is_sensitive_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.1", "8.8.8.8", "::1", "fd00::1"] {
            assert!(!is_sensitive_address(ip.parse().unwrap()), "{ip}");
        }
    }
}
