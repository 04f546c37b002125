//! Entries of a function's outbound allow-list (`allowedHosts`), parsed into [`AllowedHost`].
//!
//! Accepted forms: `host`, `host:port`, `*.domain`, `*.domain:port`, `*` (every host, for
//! functions that call user-supplied URLs), and any of these behind
//! `http://` or `https://` (a single trailing `/` is tolerated). A host is a DNS name, an IPv4
//! address, or a bracketed IPv6 address (`[::1]:8080`).
//!
//! Matching rules (what [`AllowedHost::matches`] implements, for the runtime's outbound hook):
//! - no scheme: both `http` and `https` are allowed; with a scheme, only that one;
//! - no port: any port; with a port, only that one;
//! - `*.example.com` matches every subdomain at any depth (`a.example.com`,
//!   `a.b.example.com`) but not `example.com` itself;
//! - `*` matches every host (still restricted by the scheme and port when given:
//!   `https://*` allows any host over https only);
//! - names compare case-insensitively; a trailing dot on the requested host is ignored.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest DNS name accepted (RFC 1035).
pub const MAX_HOST_NAME_LEN: usize = 253;
/// Longest DNS label accepted (RFC 1035).
pub const MAX_HOST_LABEL_LEN: usize = 63;

/// An `allowedHosts` entry that does not parse; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidHost(String);

/// The scheme an entry is restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

impl Scheme {
    /// The scheme's name, lowercase, without `://`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Which hosts an entry covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// `*`: every host.
    Any,
    /// One DNS name, lowercase, without trailing dot.
    Name(String),
    /// `*.suffix`: every subdomain of `suffix` (lowercase), not `suffix` itself.
    Subdomains(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written bracketed in the entry).
    Ipv6(Ipv6Addr),
}

/// One parsed `allowedHosts` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedHost {
    /// Restricts the entry to one scheme; `None` allows `http` and `https`.
    pub scheme: Option<Scheme>,
    /// The host or hosts covered.
    pub host: HostPattern,
    /// Restricts the entry to one port; `None` allows any port.
    pub port: Option<u16>,
}

impl AllowedHost {
    /// Parses one entry. See the module documentation for the accepted forms.
    pub fn parse(entry: &str) -> Result<Self, InvalidHost> {
        if entry.is_empty() {
            return Err(InvalidHost("allowed host must not be empty".into()));
        }
        if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidHost(format!(
                "allowed host '{}' must not contain whitespace or control characters",
                entry.escape_debug()
            )));
        }
        let (scheme, rest) = split_scheme(entry)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(InvalidHost(format!("allowed host '{entry}' has no host")));
        }
        if let Some(c) = authority
            .chars()
            .find(|c| matches!(c, '/' | '?' | '#' | '@' | '\\'))
        {
            return Err(InvalidHost(format!(
                "allowed host '{entry}' must be a host with an optional port, found '{c}'"
            )));
        }
        let (host, port) = split_port(entry, authority)?;
        let host = parse_host(entry, host)?;
        Ok(AllowedHost { scheme, host, port })
    }

    /// Whether an outbound request to `scheme://host:port` is covered by this entry.
    /// `host` may be a name, an IPv4 address, or an IPv6 address with or without brackets.
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if let Some(required) = self.scheme
            && !required.as_str().eq_ignore_ascii_case(scheme)
        {
            return false;
        }
        if let Some(required) = self.port
            && required != port
        {
            return false;
        }
        let host = host.strip_suffix('.').unwrap_or(host);
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Name(name) => name.eq_ignore_ascii_case(host),
            HostPattern::Subdomains(suffix) => {
                let host = host.to_ascii_lowercase();
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
            HostPattern::Ipv4(addr) => host.parse::<Ipv4Addr>().is_ok_and(|h| h == *addr),
            HostPattern::Ipv6(addr) => {
                let bare = host
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(host);
                bare.parse::<Ipv6Addr>().is_ok_and(|h| h == *addr)
            }
        }
    }
}

impl std::str::FromStr for AllowedHost {
    type Err = InvalidHost;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AllowedHost::parse(s)
    }
}

/// Splits an optional `http://` / `https://` prefix off; any other `x://` is an error.
fn split_scheme(entry: &str) -> Result<(Option<Scheme>, &str), InvalidHost> {
    let Some((scheme, rest)) = entry.split_once("://") else {
        return Ok((None, entry));
    };
    let scheme = if scheme.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return Err(InvalidHost(format!(
            "allowed host '{entry}' has unsupported scheme '{scheme}' (use http or https)"
        )));
    };
    Ok((Some(scheme), rest))
}

/// Splits `host[:port]` or `[v6][:port]`.
fn split_port<'a>(entry: &str, authority: &'a str) -> Result<(&'a str, Option<u16>), InvalidHost> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(InvalidHost(format!(
                "allowed host '{entry}' has an unclosed '['"
            )));
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => {
                    return Err(InvalidHost(format!(
                        "allowed host '{entry}' has junk after the IPv6 address"
                    )));
                }
            },
        };
        // Keep the brackets so parse_host knows this is IPv6.
        (&authority[..v6.len() + 2], port)
    } else {
        match authority.split_once(':') {
            None => (authority, None),
            Some((host, port)) => {
                if port.contains(':') {
                    return Err(InvalidHost(format!(
                        "allowed host '{entry}': IPv6 addresses must be written in brackets, e.g. [::1]:8080"
                    )));
                }
                (host, Some(port))
            }
        }
    };
    let port = match port {
        None => None,
        Some(text) => {
            let port = text
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0 && text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    InvalidHost(format!(
                        "allowed host '{entry}' has an invalid port '{text}' (expected 1-65535)"
                    ))
                })?;
            Some(port)
        }
    };
    Ok((host, port))
}

/// Parses the host part: `[v6]`, IPv4, `*.name` or a DNS name.
fn parse_host(entry: &str, host: &str) -> Result<HostPattern, InvalidHost> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().map(HostPattern::Ipv6).map_err(|_| {
            InvalidHost(format!(
                "allowed host '{entry}' has an invalid IPv6 address"
            ))
        });
    }
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some(suffix) = host.strip_prefix("*.") {
        let name = dns_name(entry, suffix)?;
        return Ok(HostPattern::Subdomains(name));
    }
    if host.contains('*') {
        return Err(InvalidHost(format!(
            "allowed host '{entry}': '*' is only allowed as a leading '*.' label"
        )));
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ipv4(v4));
    }
    dns_name(entry, host).map(HostPattern::Name)
}

/// Validates a DNS name (letters, digits, hyphens; labels of 1-63; not all-numeric at the
/// end, which would be a malformed IPv4 address) and lowercases it.
fn dns_name(entry: &str, name: &str) -> Result<String, InvalidHost> {
    let invalid = |why: &str| {
        InvalidHost(format!(
            "allowed host '{entry}' is not a valid host name: {why}"
        ))
    };
    if name.is_empty() {
        return Err(invalid("empty name"));
    }
    if name.len() > MAX_HOST_NAME_LEN {
        return Err(invalid("longer than 253 characters"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(invalid("empty label"));
        }
        if label.len() > MAX_HOST_LABEL_LEN {
            return Err(invalid("label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("only letters, digits, '-' and '.' are allowed"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid("a label cannot start or end with '-'"));
        }
    }
    if labels
        .last()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid("looks like a malformed IPv4 address"));
    }
    Ok(name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> AllowedHost {
        AllowedHost::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(
            host("api.example.com"),
            AllowedHost {
                scheme: None,
                host: HostPattern::Name("api.example.com".into()),
                port: None
            }
        );
        assert_eq!(host("localhost:8080").port, Some(8080));
        assert_eq!(
            host("*.Example.com").host,
            HostPattern::Subdomains("example.com".into())
        );
        let full = host("http://127.0.0.1:3000");
        assert_eq!(full.scheme, Some(Scheme::Http));
        assert_eq!(full.host, HostPattern::Ipv4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(full.port, Some(3000));
        assert_eq!(host("https://api.example.com/").scheme, Some(Scheme::Https));
        assert_eq!(
            host("[::1]:8080").host,
            HostPattern::Ipv6(Ipv6Addr::LOCALHOST)
        );
        assert_eq!(host("https://[::1]").port, None);
    }

    #[test]
    fn junk_is_rejected() {
        for bad in [
            "",
            "ftp://example.com",
            "http://",
            "example.com/path",
            "exa mple.com",
            "user@example.com",
            "example.com:0",
            "example.com:65536",
            "example.com:http",
            "example.com:",
            "-bad.com",
            "bad-.com",
            "a..b",
            ".example.com",
            "example.com.",
            "*example.com",
            "api.*.com",
            "::1",
            "[::1",
            "[nope]",
            "[::1]x",
            "999.1.1.1",
            "under_score.com",
            "http://example.com?x=1",
            "example.com#frag",
            "c:\\x",
        ] {
            assert!(
                AllowedHost::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert!(AllowedHost::parse(&long_label).is_err());
    }

    #[test]
    fn matching_rules() {
        let any = host("api.example.com");
        assert!(any.matches("https", "api.example.com", 443));
        assert!(any.matches("http", "API.example.com.", 8080));
        assert!(!any.matches("https", "example.com", 443));
        assert!(!any.matches("https", "evil-api.example.com", 443));

        let pinned = host("https://api.example.com:8443");
        assert!(pinned.matches("https", "api.example.com", 8443));
        assert!(!pinned.matches("http", "api.example.com", 8443));
        assert!(!pinned.matches("https", "api.example.com", 443));

        let wild = host("*.example.com");
        assert!(wild.matches("https", "a.example.com", 443));
        assert!(wild.matches("https", "a.b.example.com", 443));
        assert!(!wild.matches("https", "example.com", 443));
        assert!(!wild.matches("https", "badexample.com", 443));

        let v6 = host("[::1]:80");
        assert!(v6.matches("http", "[::1]", 80));
        assert!(v6.matches("http", "::1", 80));
        assert!(!v6.matches("http", "::2", 80));

        let all_https = host("https://*");
        assert_eq!(all_https.host, HostPattern::Any);
        assert!(all_https.matches("https", "anything.example", 443));
        assert!(!all_https.matches("http", "anything.example", 80));

        let v4 = host("10.0.0.1");
        assert!(v4.matches("http", "10.0.0.1", 1));
        assert!(!v4.matches("http", "10.0.0.2", 1));
    }
}
