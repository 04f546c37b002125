//! Dependency version ranges as the reference accepts them, parsed into a [`DependencySpec`].
//!
//! The reference lists: exact (`1.0.0`), caret (`^1.0.0`), tilde (`~1.0.0`), comparisons
//! (`>=1.0.0`, `<2.0.0`, combined as `>=1.0.0 <2.0.0` or `>=1.0.0, <2.0.0`), hyphen ranges
//! (`1.0.0 - 2.0.0`) and the wildcards `*` and `latest`. These follow npm semantics, which
//! differ from Cargo's in two places the `semver` crate cannot express directly: a bare
//! `1.0.0` means exactly that version (Cargo reads it as `^1.0.0`), and comparators may be
//! separated by spaces. Both are handled here; each comparator is still parsed by
//! [`semver::Comparator`], so the grammar of a single comparator is the crate's.
//!
//! Accepted beyond the list, because npm users write them: partial and x-ranges (`1`, `1.2.x`,
//! `1.*`), an optional `v` before a version (`v1.2.3`), `=1.0.0`, whitespace between an
//! operator and its version (`>= 1.0.0`), and alternatives joined by `||`.

use semver::{Comparator, Op, Prerelease, Version, VersionReq};

/// Most comparators accepted in one range (across all `||` alternatives); the `semver`
/// crate uses the same bound. Anything longer is not a range a person wrote.
pub const MAX_RANGE_COMPARATORS: usize = 32;

/// A dependency range that does not follow the accepted grammar; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRange(String);

/// A parsed dependency version range. See the module documentation for the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencySpec {
    /// `*`, `x` or `X`: any release version (pre-releases excluded, as in npm).
    Any,
    /// `latest`: whatever the package's newest release is; matches any release version.
    Latest,
    /// A bare full version (`1.0.0`, `=1.0.0`, `v1.0.0`): exactly that version. Build metadata
    /// is ignored when matching, as semver precedence ignores it.
    Exact(Version),
    /// One or more comparators that must all hold: `^1.2.3`, `~1.0.0`, `>=1.0.0 <2.0.0`, `1.x`.
    Range(VersionReq),
    /// `from - to`, inclusive on both ends; a partial upper bound (`1.0.0 - 2`) covers the
    /// whole of `2.x`, as in npm.
    Hyphen {
        /// Lower bound (`>=`).
        from: Comparator,
        /// Upper bound (`<=`).
        to: Comparator,
    },
    /// Alternatives joined by `||`: matches when any alternative matches.
    AnyOf(Vec<DependencySpec>),
}

impl DependencySpec {
    /// Parses a range string. Surrounding spaces are ignored; an empty range or one holding
    /// control characters is rejected.
    pub fn parse(input: &str) -> Result<Self, InvalidRange> {
        if input.chars().any(|c| c.is_control()) {
            return Err(InvalidRange(
                "version range must not contain control characters".into(),
            ));
        }
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(InvalidRange("version range must not be empty".into()));
        }
        let mut budget = MAX_RANGE_COMPARATORS;
        let alternatives: Vec<&str> = trimmed.split("||").collect();
        if alternatives.len() == 1 {
            return parse_alternative(trimmed, &mut budget);
        }
        let mut specs = Vec::with_capacity(alternatives.len());
        for alternative in alternatives {
            let alternative = alternative.trim();
            if alternative.is_empty() {
                return Err(InvalidRange("empty alternative around '||'".into()));
            }
            if alternative == "latest" {
                return Err(InvalidRange(
                    "'latest' cannot be combined with other ranges".into(),
                ));
            }
            specs.push(parse_alternative(alternative, &mut budget)?);
        }
        Ok(DependencySpec::AnyOf(specs))
    }
}

impl std::str::FromStr for DependencySpec {
    type Err = InvalidRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DependencySpec::parse(s)
    }
}

/// Parses one `||` alternative: `latest`, a hyphen range, or a comparator set.
fn parse_alternative(input: &str, budget: &mut usize) -> Result<DependencySpec, InvalidRange> {
    if input == "latest" {
        return Ok(DependencySpec::Latest);
    }
    let words: Vec<&str> = input.split_whitespace().collect();
    if words.contains(&"-") {
        return parse_hyphen(input, &words, budget);
    }
    let tokens = comparator_tokens(input)?;
    let mut comparators = Vec::with_capacity(tokens.len());
    let mut exact = None;
    for token in &tokens {
        match parse_token(token)? {
            Token::Any => {}
            Token::Exact(version, comparator) => {
                exact = Some(version);
                comparators.push(comparator);
            }
            Token::Comparator(comparator) => comparators.push(comparator),
        }
    }
    if comparators.len() > *budget {
        return Err(too_many());
    }
    *budget -= comparators.len();
    match (comparators.len(), exact) {
        (0, _) => Ok(DependencySpec::Any),
        (1, Some(version)) => Ok(DependencySpec::Exact(version)),
        _ => Ok(DependencySpec::Range(VersionReq { comparators })),
    }
}

/// Parses `from - to`: exactly three words, both bounds plain (partial) versions.
fn parse_hyphen(
    input: &str,
    words: &[&str],
    budget: &mut usize,
) -> Result<DependencySpec, InvalidRange> {
    let [from, "-", to] = words else {
        return Err(InvalidRange(format!(
            "invalid hyphen range '{input}': expected 'FROM - TO', e.g. 1.0.0 - 2.0.0"
        )));
    };
    if *budget < 2 {
        return Err(too_many());
    }
    *budget -= 2;
    let bound = |text: &str, op: Op| -> Result<Comparator, InvalidRange> {
        let plain = strip_v(text);
        if !plain.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(InvalidRange(format!(
                "invalid hyphen range '{input}': bounds must be plain versions, found '{text}'"
            )));
        }
        let mut comparator = plain
            .parse::<Comparator>()
            .map_err(|e| InvalidRange(format!("invalid version '{text}' in range: {e}")))?;
        comparator.op = op;
        Ok(comparator)
    };
    let from = bound(from, Op::GreaterEq)?;
    let to = bound(to, Op::LessEq)?;
    Ok(DependencySpec::Hyphen { from, to })
}

/// One comparator token of a comparator set.
enum Token {
    /// `*`, `x`, `X`: no constraint.
    Any,
    /// A bare or `=` full version: exact.
    Exact(Version, Comparator),
    /// Anything else the `semver` crate parses.
    Comparator(Comparator),
}

/// Splits a comparator set on whitespace and commas, gluing a lone operator (`>=`) to the
/// version that follows it.
fn comparator_tokens(input: &str) -> Result<Vec<String>, InvalidRange> {
    let mut tokens: Vec<String> = Vec::new();
    let mut pending_op: Option<&str> = None;
    for word in input.split(|c: char| c.is_whitespace() || c == ',') {
        if word.is_empty() {
            continue;
        }
        if is_operator(word) {
            if let Some(op) = pending_op {
                return Err(InvalidRange(format!(
                    "operator '{op}' is not followed by a version"
                )));
            }
            pending_op = Some(word);
            continue;
        }
        match pending_op.take() {
            Some(op) => tokens.push(format!("{op}{word}")),
            None => tokens.push(word.to_string()),
        }
    }
    if let Some(op) = pending_op {
        return Err(InvalidRange(format!(
            "operator '{op}' is not followed by a version"
        )));
    }
    if tokens.is_empty() {
        return Err(InvalidRange("version range must not be empty".into()));
    }
    if tokens.len() > MAX_RANGE_COMPARATORS {
        return Err(too_many());
    }
    Ok(tokens)
}

fn is_operator(word: &str) -> bool {
    matches!(word, "=" | ">" | ">=" | "<" | "<=" | "~" | "^")
}

/// Parses one token into a comparator with npm meaning for bare versions.
fn parse_token(token: &str) -> Result<Token, InvalidRange> {
    if matches!(token, "*" | "x" | "X") {
        return Ok(Token::Any);
    }
    let op_len = token
        .find(|c: char| !matches!(c, '=' | '>' | '<' | '~' | '^'))
        .unwrap_or(token.len());
    let (op, rest) = token.split_at(op_len);
    if !matches!(op, "" | "=" | ">" | ">=" | "<" | "<=" | "~" | "^") {
        return Err(InvalidRange(format!(
            "unknown operator '{op}' in '{token}'"
        )));
    }
    let rest = strip_v(rest);
    if rest.is_empty() {
        return Err(InvalidRange(format!(
            "operator '{op}' is not followed by a version"
        )));
    }
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(InvalidRange(format!(
            "invalid version range '{token}': expected a version such as 1.0.0, ^1.0.0, ~1.0.0, >=1.0.0, 1.0.0 - 2.0.0, * or latest"
        )));
    }
    let mut comparator = format!("{op}{rest}")
        .parse::<Comparator>()
        .map_err(|e| InvalidRange(format!("invalid version range '{token}': {e}")))?;
    if op.is_empty() || op == "=" {
        if comparator.patch.is_some() {
            // A full bare version is exact in npm (Cargo would read it as a caret).
            let version = Version::parse(rest)
                .map_err(|e| InvalidRange(format!("invalid version '{rest}': {e}")))?;
            comparator.op = Op::Exact;
            return Ok(Token::Exact(version, comparator));
        }
        // `1`, `1.2`, `1.x`: an x-range.
        comparator.op = Op::Wildcard;
        comparator.pre = Prerelease::EMPTY;
    }
    Ok(Token::Comparator(comparator))
}

/// Drops a leading `v` in front of a digit (`v1.2.3`), which npm tolerates.
fn strip_v(text: &str) -> &str {
    match text.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => text,
    }
}

fn too_many() -> InvalidRange {
    InvalidRange(format!(
        "version range has more than {MAX_RANGE_COMPARATORS} comparators"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the parsed spec means: used by the tests to check the parse, not by the host
    /// (ranges are validated and stored as given).
    impl DependencySpec {
        /// Whether `version` satisfies this range (npm rules: a pre-release only satisfies a
        /// range that names a pre-release of the same `major.minor.patch`).
        fn matches(&self, version: &Version) -> bool {
            match self {
                DependencySpec::Any | DependencySpec::Latest => version.pre.is_empty(),
                DependencySpec::Exact(exact) => {
                    exact.major == version.major
                        && exact.minor == version.minor
                        && exact.patch == version.patch
                        && exact.pre == version.pre
                }
                DependencySpec::Range(req) => req.matches(version),
                DependencySpec::Hyphen { from, to } => VersionReq {
                    comparators: vec![from.clone(), to.clone()],
                }
                .matches(version),
                DependencySpec::AnyOf(specs) => specs.iter().any(|spec| spec.matches(version)),
            }
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn spec(s: &str) -> DependencySpec {
        DependencySpec::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    #[test]
    fn reference_forms_parse_to_the_expected_kind() {
        assert_eq!(spec("1.0.0"), DependencySpec::Exact(v("1.0.0")));
        assert!(matches!(spec("^1.0.0"), DependencySpec::Range(_)));
        assert!(matches!(spec("~1.0.0"), DependencySpec::Range(_)));
        assert!(matches!(spec(">=1.0.0"), DependencySpec::Range(_)));
        assert!(matches!(spec("<2.0.0"), DependencySpec::Range(_)));
        assert!(matches!(
            spec("1.0.0 - 2.0.0"),
            DependencySpec::Hyphen { .. }
        ));
        assert_eq!(spec("*"), DependencySpec::Any);
        assert_eq!(spec("latest"), DependencySpec::Latest);
        // The reference's own examples.
        for ok in ["^4.17.21", "~1.0.0", ">=4.0.0"] {
            spec(ok);
        }
    }

    #[test]
    fn exact_means_exact_not_caret() {
        let s = spec("1.0.0");
        assert!(s.matches(&v("1.0.0")));
        assert!(s.matches(&v("1.0.0+build.7")));
        assert!(!s.matches(&v("1.0.1")));
        assert!(!s.matches(&v("1.1.0")));
        assert_eq!(spec("=1.2.3"), DependencySpec::Exact(v("1.2.3")));
        assert_eq!(spec("v1.2.3"), DependencySpec::Exact(v("1.2.3")));
        let pre = spec("2.0.0-rc.1");
        assert!(pre.matches(&v("2.0.0-rc.1")));
        assert!(!pre.matches(&v("2.0.0")));
    }

    #[test]
    fn caret_and_tilde() {
        let caret = spec("^4.17.21");
        assert!(caret.matches(&v("4.17.21")));
        assert!(caret.matches(&v("4.99.0")));
        assert!(!caret.matches(&v("5.0.0")));
        assert!(!caret.matches(&v("4.17.20")));
        let tilde = spec("~1.0.0");
        assert!(tilde.matches(&v("1.0.9")));
        assert!(!tilde.matches(&v("1.1.0")));
    }

    #[test]
    fn comparison_sets_with_spaces_or_commas() {
        for text in [
            ">=1.0.0 <2.0.0",
            ">=1.0.0, <2.0.0",
            ">= 1.0.0 < 2.0.0",
            ">=1.0.0,<2.0.0",
        ] {
            let s = spec(text);
            assert!(s.matches(&v("1.0.0")), "{text}");
            assert!(s.matches(&v("1.9.9")), "{text}");
            assert!(!s.matches(&v("2.0.0")), "{text}");
            assert!(!s.matches(&v("0.9.0")), "{text}");
        }
        assert!(spec(">1.0.0").matches(&v("1.0.1")));
        assert!(!spec(">1.0.0").matches(&v("1.0.0")));
        assert!(spec("<=2.0.0").matches(&v("2.0.0")));
    }

    #[test]
    fn hyphen_ranges_are_inclusive() {
        let s = spec("1.0.0 - 2.0.0");
        assert!(s.matches(&v("1.0.0")));
        assert!(s.matches(&v("1.5.0")));
        assert!(s.matches(&v("2.0.0")));
        assert!(!s.matches(&v("2.0.1")));
        assert!(!s.matches(&v("0.9.9")));
        // A partial upper bound covers the whole minor/major, as in npm.
        let partial = spec("1.0.0 - 2");
        assert!(partial.matches(&v("2.9.9")));
        assert!(!partial.matches(&v("3.0.0")));
    }

    #[test]
    fn wildcards_and_x_ranges() {
        assert!(spec("*").matches(&v("0.0.1")));
        assert!(spec("latest").matches(&v("99.0.0")));
        assert!(!spec("*").matches(&v("1.0.0-alpha")));
        let x = spec("1.2.x");
        assert!(x.matches(&v("1.2.7")));
        assert!(!x.matches(&v("1.3.0")));
        assert!(spec("1").matches(&v("1.9.0")));
        assert!(!spec("1").matches(&v("2.0.0")));
    }

    #[test]
    fn alternatives() {
        let s = spec("^1.0.0 || ^3.0.0");
        assert!(s.matches(&v("1.2.0")));
        assert!(s.matches(&v("3.1.0")));
        assert!(!s.matches(&v("2.0.0")));
    }

    #[test]
    fn junk_is_rejected_with_a_reason() {
        for bad in [
            "",
            "   ",
            "abc",
            "1.0.0.0",
            "^",
            ">=",
            ">= ",
            "1.0.0 -",
            "- 2.0.0",
            "1.0.0 - 2.0.0 - 3.0.0",
            "1.0.0 - ^2.0.0",
            "=>1.0.0",
            "!1.0.0",
            "||",
            "^1.0.0 ||",
            "latest || ^1.0.0",
            "1.0.0\n",
            "01.0.0",
            "1.0.0-",
            "^1.0.0 foo",
            "latest2",
            "1.0.0 <",
        ] {
            let err = DependencySpec::parse(bad);
            assert!(err.is_err(), "{bad:?} should be rejected, got {err:?}");
            assert!(!err.unwrap_err().to_string().is_empty());
        }
    }

    #[test]
    fn comparator_count_is_bounded() {
        let long = vec![">=1.0.0"; MAX_RANGE_COMPARATORS + 1].join(" ");
        assert!(DependencySpec::parse(&long).is_err());
        let ok = vec![">=1.0.0"; MAX_RANGE_COMPARATORS].join(" ");
        assert!(DependencySpec::parse(&ok).is_ok());
    }
}
