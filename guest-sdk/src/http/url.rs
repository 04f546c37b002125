//! Splitting an absolute URL into what `wasi:http` wants: scheme, authority, path and query.

use super::HttpError;

/// An absolute `http`/`https` URL split into its parts.
///
/// ```
/// use fdo_sdk::http::Target;
///
/// let target = Target::parse("https://api.digitalocean.com/v2/droplets?page=2#top")?;
/// assert!(target.https);
/// assert_eq!(target.authority, "api.digitalocean.com");
/// assert_eq!(target.path_with_query, "/v2/droplets?page=2");
/// # Ok::<(), fdo_sdk::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `true` for `https`, `false` for `http`.
    pub https: bool,
    /// Host and optional port, e.g. `127.0.0.1:8080`.
    pub authority: String,
    /// The path (at least `/`) and the query, without the fragment.
    pub path_with_query: String,
}

impl Target {
    /// Parses an absolute URL; relative URLs, other schemes, credentials and whitespace are
    /// errors that name the URL.
    ///
    /// ```
    /// use fdo_sdk::http::Target;
    ///
    /// assert_eq!(Target::parse("http://localhost:3000")?.path_with_query, "/");
    /// assert!(Target::parse("ftp://example.com/").is_err());
    /// assert!(Target::parse("/v2/droplets").is_err());
    /// # Ok::<(), fdo_sdk::http::HttpError>(())
    /// ```
    pub fn parse(url: &str) -> Result<Target, HttpError> {
        let invalid = |reason: &str| HttpError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace or control characters"));
        }
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("it is not absolute (expected `http://` or `https://`)"))?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(invalid("the scheme must be `http` or `https`"));
        };
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_with_query) = rest.split_at(split);
        if authority.is_empty() {
            return Err(invalid("it has no host"));
        }
        if authority.contains('@') {
            return Err(invalid(
                "credentials in URLs are not supported (send them in a header)",
            ));
        }
        let path_with_query = match path_with_query.chars().next() {
            None => "/".to_owned(),
            Some('?') => format!("/{path_with_query}"),
            Some(_) => path_with_query.to_owned(),
        };
        Ok(Target {
            https,
            authority: authority.to_owned(),
            path_with_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> String {
        match Target::parse(url) {
            Err(HttpError::InvalidUrl { reason, url: named }) => {
                assert_eq!(named, url);
                reason
            }
            other => panic!("expected an invalid URL, got {other:?}"),
        }
    }

    #[test]
    fn absolute_urls_split_into_parts() {
        let target = Target::parse("http://127.0.0.1:8080/v2/droplets/42/actions").unwrap();
        assert_eq!(
            target,
            Target {
                https: false,
                authority: "127.0.0.1:8080".into(),
                path_with_query: "/v2/droplets/42/actions".into()
            }
        );
        let target = Target::parse("HTTPS://example.com?page=2").unwrap();
        assert!(target.https);
        assert_eq!(target.path_with_query, "/?page=2");
        assert_eq!(
            Target::parse("https://[::1]:443/#x").unwrap().authority,
            "[::1]:443"
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(reason("example.com/x").contains("not absolute"));
        assert!(reason("file:///etc/passwd").contains("scheme"));
        assert!(reason("https:///path").contains("no host"));
        assert!(reason("https://user:pw@example.com/").contains("credentials"));
        assert!(reason("https://example.com/a b").contains("whitespace"));
    }
}
