//! Who may do what: roles, namespace scopes, function privacy, the credentials a request can
//! act for ([`Principal`]) and the one permission check every route makes ([`authorize`]).
//!
//! The rules (issue 22):
//! - `admin` may do everything; `deploy` may deploy, roll back, change privacy, delete and read;
//!   `invoke` may call functions (and issue tokens for what it may call); `read` may list and
//!   read functions, versions, logs and stats.
//! - A key may be limited to some namespaces: functions and namespaces outside them are hidden
//!   ([`Denied::Hidden`], answered exactly like an unknown id), never merely forbidden.
//! - A token may call one function, or every function of one namespace, and nothing else.
//! - Nobody creates a key or a token with more rights than their own ([`may_create_key`]).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::validate::ValidationError;

/// The namespace every installation has and functions land in by default.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Deploy, roll back, change privacy, delete, and everything `read` may.
    Deploy,
    /// Call functions (and issue tokens for them).
    Invoke,
    /// List and read functions, versions, logs and stats.
    Read,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Deploy, Role::Invoke, Role::Read];

    /// Lowercase name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Deploy => "deploy",
            Role::Invoke => "invoke",
            Role::Read => "read",
        }
    }

    /// Whether the role allows `action` at all (namespaces aside).
    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Deploy => matches!(action, Action::Read | Action::Deploy),
            Role::Invoke => matches!(action, Action::Invoke | Action::IssueToken),
            Role::Read => matches!(action, Action::Read),
        }
    }

    /// Whether everything `other` allows, this role allows too.
    pub fn covers(self, other: Role) -> bool {
        Action::ALL
            .iter()
            .all(|&a| !other.allows(a) || self.allows(a))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                ValidationError::new(
                    "role",
                    s,
                    "Invalid role: must be one of admin, deploy, invoke, read",
                )
            })
    }
}

/// Whether calling a function needs a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    /// Calls need an API key or a token that covers the function (the default).
    #[default]
    Private,
    /// Anyone may call it; managing it still needs a key. Rate limits still apply.
    Public,
}

impl Privacy {
    /// Lowercase name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Privacy::Private => "private",
            Privacy::Public => "public",
        }
    }
}

impl fmt::Display for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Privacy {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(Privacy::Private),
            "public" => Ok(Privacy::Public),
            other => Err(ValidationError::new(
                "privacy",
                other,
                "Invalid privacy: must be private or public",
            )),
        }
    }
}

/// Namespace names follow the function id rules.
pub fn validate_namespace_name(name: &str) -> Result<(), ValidationError> {
    crate::validate::validate_function_id(name).map_err(|e| {
        ValidationError::new(
            "namespace",
            name,
            e.message.replace("function ID", "namespace name"),
        )
    })
}

/// The namespaces a key acts in: all of them, or a list (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Namespaces {
    /// Every namespace, present and future.
    #[default]
    All,
    /// Only these (valid names, at least one).
    Only(BTreeSet<String>),
}

/// Most namespaces one key may list.
pub const MAX_KEY_NAMESPACES: usize = 64;

impl Namespaces {
    /// A list of names: validated, deduplicated, at least one and at most
    /// [`MAX_KEY_NAMESPACES`].
    pub fn only<I, S>(names: I) -> Result<Self, ValidationError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.into();
            validate_namespace_name(&name).map_err(|e| ValidationError {
                field: "namespaces".into(),
                ..e
            })?;
            set.insert(name);
        }
        if set.is_empty() || set.len() > MAX_KEY_NAMESPACES {
            return Err(ValidationError::new(
                "namespaces",
                set.len() as u64,
                format!(
                    "Invalid namespaces: give 1 to {MAX_KEY_NAMESPACES} names, or none for every namespace"
                ),
            ));
        }
        Ok(Namespaces::Only(set))
    }

    /// Whether `namespace` is one of them.
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Namespaces::All => true,
            Namespaces::Only(set) => set.contains(namespace),
        }
    }

    /// Whether every namespace in `other` is in `self`.
    pub fn covers(&self, other: &Namespaces) -> bool {
        match (self, other) {
            (Namespaces::All, _) => true,
            (Namespaces::Only(_), Namespaces::All) => false,
            (Namespaces::Only(mine), Namespaces::Only(theirs)) => theirs.is_subset(mine),
        }
    }

    /// The list, or `None` for every namespace (as stored and sent).
    pub fn as_list(&self) -> Option<Vec<&str>> {
        match self {
            Namespaces::All => None,
            Namespaces::Only(set) => Some(set.iter().map(String::as_str).collect()),
        }
    }
}

impl fmt::Display for Namespaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Namespaces::All => f.write_str("every namespace"),
            Namespaces::Only(set) => {
                let list: Vec<&str> = set.iter().map(String::as_str).collect();
                write!(
                    f,
                    "namespace{} {}",
                    if set.len() == 1 { "" } else { "s" },
                    list.join(", ")
                )
            }
        }
    }
}

impl Serialize for Namespaces {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_list().serialize(serializer)
    }
}

/// What a token may call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// One function (in the namespace whose key signed the token).
    Function {
        /// The function's namespace when the token was issued.
        namespace: String,
        /// The function.
        id: String,
    },
    /// Every function of a namespace.
    Namespace(String),
}

impl TokenScope {
    /// The namespace whose key signs and verifies the token.
    pub fn namespace(&self) -> &str {
        match self {
            TokenScope::Function { namespace, .. } | TokenScope::Namespace(namespace) => namespace,
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenScope::Function { id, .. } => write!(f, "function {id}"),
            TokenScope::Namespace(ns) => write!(f, "the functions of namespace {ns}"),
        }
    }
}

/// Who a request acts for: what a verified credential stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The key the host was configured with (`FDO_API_KEY`): an admin for every namespace.
    HostKey,
    /// A key stored in the registry.
    ApiKey {
        /// The key's id.
        id: String,
        /// The key's name.
        name: String,
        /// What it may do.
        role: Role,
        /// Where.
        namespaces: Namespaces,
    },
    /// An invocation token.
    Token(TokenScope),
}

impl Principal {
    /// The role of a key (`None` for a token, which has a scope instead).
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::HostKey => Some(Role::Admin),
            Principal::ApiKey { role, .. } => Some(*role),
            Principal::Token(_) => None,
        }
    }

    /// The namespaces a key acts in (`None` for a token).
    pub fn namespaces(&self) -> Option<&Namespaces> {
        match self {
            Principal::HostKey => Some(&Namespaces::All),
            Principal::ApiKey { namespaces, .. } => Some(namespaces),
            Principal::Token(_) => None,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::HostKey => f.write_str("host key"),
            Principal::ApiKey { id, name, .. } => write!(f, "key {id} ({name})"),
            Principal::Token(scope) => write!(f, "token for {scope}"),
        }
    }
}

/// Something a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Call a function.
    Invoke,
    /// List or read functions, versions, history, logs, stats, namespaces.
    Read,
    /// Deploy, roll back, change privacy, delete functions.
    Deploy,
    /// Create, change, delete namespaces; rotate their token keys.
    ConfigureNamespaces,
    /// Create, list, revoke API keys.
    ManageKeys,
    /// Issue invocation tokens.
    IssueToken,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::Invoke,
        Action::Read,
        Action::Deploy,
        Action::ConfigureNamespaces,
        Action::ManageKeys,
        Action::IssueToken,
    ];

    /// What the action is, for messages (`"deploying"`), and which roles may.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Action::Invoke => ("calling a function", "invoke or admin"),
            Action::Read => ("reading functions", "read, deploy or admin"),
            Action::Deploy => (
                "deploying (and rollback, privacy, delete)",
                "deploy or admin",
            ),
            Action::ConfigureNamespaces => ("managing namespaces", "admin"),
            Action::ManageKeys => ("managing API keys", "admin"),
            Action::IssueToken => ("issuing a token", "invoke or admin"),
        }
    }
}

/// What an action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Everything at once: only a principal for every namespace may (metrics over every
    /// function, creating a namespace).
    Global,
    /// Whatever the principal can see (a list, filtered afterwards with [`visible`]).
    Visible,
    /// One namespace.
    Namespace(&'a str),
    /// One function of a namespace.
    Function {
        /// Its namespace.
        namespace: &'a str,
        /// Its id.
        id: &'a str,
    },
}

/// Why [`authorize`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The target is outside the principal's namespaces: answer as if it did not exist.
    Hidden,
    /// The credential is valid but does not cover the action: a 403 with this message.
    Forbidden(String),
}

/// The permission check: may `who` do `action` on `target`? Namespaces are checked before the
/// role, so a key never learns that something outside its namespaces exists.
pub fn authorize(who: &Principal, action: Action, target: Target<'_>) -> Result<(), Denied> {
    match who {
        Principal::HostKey => Ok(()),
        Principal::ApiKey {
            role, namespaces, ..
        } => {
            let namespace = match target {
                Target::Namespace(ns) | Target::Function { namespace: ns, .. } => Some(ns),
                Target::Global | Target::Visible => None,
            };
            if let Some(ns) = namespace
                && !namespaces.contains(ns)
            {
                return Err(Denied::Hidden);
            }
            let (doing, needs) = action.describe();
            if !role.allows(action) {
                return Err(Denied::Forbidden(format!(
                    "this key has role {role}; {doing} needs {needs}"
                )));
            }
            if target == Target::Global && *namespaces != Namespaces::All {
                return Err(Denied::Forbidden(format!(
                    "this key is limited to {namespaces}; {doing} across every namespace needs a key for every namespace"
                )));
            }
            Ok(())
        }
        Principal::Token(scope) => {
            let covered = match (action, target, scope) {
                (
                    Action::Invoke,
                    Target::Function { namespace, id },
                    TokenScope::Function {
                        namespace: ns,
                        id: fid,
                    },
                ) => namespace == ns && id == fid,
                (Action::Invoke, Target::Function { namespace, .. }, TokenScope::Namespace(ns)) => {
                    namespace == ns
                }
                _ => false,
            };
            if covered {
                Ok(())
            } else if action == Action::Invoke {
                Err(Denied::Forbidden(format!(
                    "this token may only call {scope}"
                )))
            } else {
                let (doing, _) = action.describe();
                Err(Denied::Forbidden(format!(
                    "this token may only call {scope}; {doing} needs an API key"
                )))
            }
        }
    }
}

/// Whether something in `namespace` shows in `who`'s lists (any action aside).
pub fn visible(who: &Principal, namespace: &str) -> bool {
    who.namespaces().is_some_and(|n| n.contains(namespace))
}

/// May `who` create a key with `role` for `namespaces`? Only admins manage keys, and never
/// for namespaces beyond their own.
pub fn may_create_key(who: &Principal, role: Role, namespaces: &Namespaces) -> Result<(), Denied> {
    authorize(who, Action::ManageKeys, Target::Visible)?;
    let (Some(own_role), Some(own)) = (who.role(), who.namespaces()) else {
        return Err(Denied::Forbidden("tokens cannot create keys".into()));
    };
    if !own_role.covers(role) {
        return Err(Denied::Forbidden(format!(
            "this key has role {own_role}; it cannot create a key with role {role}"
        )));
    }
    if !own.covers(namespaces) {
        return Err(Denied::Forbidden(format!(
            "this key is limited to {own}; it cannot create a key for {namespaces}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(role: Role, namespaces: Namespaces) -> Principal {
        Principal::ApiKey {
            id: "key_1".into(),
            name: "k".into(),
            role,
            namespaces,
        }
    }

    fn shop() -> Namespaces {
        Namespaces::only(["shop"]).unwrap()
    }

    const SHOP_FN: Target<'static> = Target::Function {
        namespace: "shop",
        id: "cart",
    };
    const OTHER_FN: Target<'static> = Target::Function {
        namespace: "billing",
        id: "invoice",
    };

    #[test]
    fn roles_allow_what_the_issue_says() {
        use Action::*;
        let table = [
            (
                Role::Admin,
                vec![
                    Invoke,
                    Read,
                    Deploy,
                    ConfigureNamespaces,
                    ManageKeys,
                    IssueToken,
                ],
            ),
            (Role::Deploy, vec![Read, Deploy]),
            (Role::Invoke, vec![Invoke, IssueToken]),
            (Role::Read, vec![Read]),
        ];
        for (role, allowed) in table {
            for action in Action::ALL {
                assert_eq!(
                    role.allows(action),
                    allowed.contains(&action),
                    "{role} {action:?}"
                );
            }
        }
        assert!(Role::Admin.covers(Role::Read));
        assert!(Role::Deploy.covers(Role::Read));
        assert!(!Role::Deploy.covers(Role::Invoke));
        assert!(!Role::Read.covers(Role::Deploy));
    }

    #[test]
    fn namespaces_hide_before_roles_forbid() {
        let reader = key(Role::Read, shop());
        assert_eq!(
            authorize(&reader, Action::Deploy, OTHER_FN),
            Err(Denied::Hidden)
        );
        let Err(Denied::Forbidden(m)) = authorize(&reader, Action::Deploy, SHOP_FN) else {
            panic!("a read key may not deploy");
        };
        assert_eq!(
            m,
            "this key has role read; deploying (and rollback, privacy, delete) needs deploy or admin"
        );
        assert_eq!(authorize(&reader, Action::Read, SHOP_FN), Ok(()));
        assert!(matches!(
            authorize(&reader, Action::Read, Target::Global),
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(
            authorize(
                &key(Role::Read, Namespaces::All),
                Action::Read,
                Target::Global
            ),
            Ok(())
        );
        assert!(visible(&reader, "shop") && !visible(&reader, "billing"));
        assert_eq!(
            authorize(&Principal::HostKey, Action::ManageKeys, Target::Global),
            Ok(())
        );
    }

    #[test]
    fn tokens_call_their_scope_and_nothing_else() {
        let one = Principal::Token(TokenScope::Function {
            namespace: "shop".into(),
            id: "cart".into(),
        });
        let all = Principal::Token(TokenScope::Namespace("shop".into()));
        assert_eq!(authorize(&one, Action::Invoke, SHOP_FN), Ok(()));
        assert_eq!(authorize(&all, Action::Invoke, SHOP_FN), Ok(()));
        let other_in_shop = Target::Function {
            namespace: "shop",
            id: "checkout",
        };
        assert!(matches!(
            authorize(&one, Action::Invoke, other_in_shop),
            Err(Denied::Forbidden(_))
        ));
        assert_eq!(authorize(&all, Action::Invoke, other_in_shop), Ok(()));
        for who in [&one, &all] {
            assert!(matches!(
                authorize(who, Action::Invoke, OTHER_FN),
                Err(Denied::Forbidden(_))
            ));
            for action in [
                Action::Read,
                Action::Deploy,
                Action::ManageKeys,
                Action::IssueToken,
            ] {
                assert!(matches!(
                    authorize(who, action, SHOP_FN),
                    Err(Denied::Forbidden(_))
                ));
            }
            assert!(may_create_key(who, Role::Read, &shop()).is_err());
        }
    }

    #[test]
    fn nobody_creates_a_key_with_more_rights() {
        let admin_shop = key(Role::Admin, shop());
        assert_eq!(may_create_key(&admin_shop, Role::Invoke, &shop()), Ok(()));
        assert!(may_create_key(&admin_shop, Role::Invoke, &Namespaces::All).is_err());
        assert!(
            may_create_key(
                &admin_shop,
                Role::Read,
                &Namespaces::only(["shop", "billing"]).unwrap()
            )
            .is_err()
        );
        assert!(may_create_key(&key(Role::Deploy, Namespaces::All), Role::Read, &shop()).is_err());
        assert_eq!(
            may_create_key(&Principal::HostKey, Role::Admin, &Namespaces::All),
            Ok(())
        );
    }

    #[test]
    fn names_and_enums_parse_strictly() {
        assert_eq!("invoke".parse::<Role>().unwrap(), Role::Invoke);
        assert!("Invoke".parse::<Role>().is_err());
        assert_eq!("public".parse::<Privacy>().unwrap(), Privacy::Public);
        assert!("open".parse::<Privacy>().is_err());
        assert!(Namespaces::only(Vec::<String>::new()).is_err());
        assert!(Namespaces::only(["-bad"]).is_err());
        assert_eq!(
            Namespaces::only(["b", "a", "a"]).unwrap().as_list(),
            Some(vec!["a", "b"])
        );
        assert_eq!(
            serde_json::to_value(Namespaces::All).unwrap(),
            serde_json::Value::Null
        );
        let e = validate_namespace_name("a b").unwrap_err();
        assert_eq!(e.field, "namespace");
        assert!(e.message.contains("namespace name"), "{}", e.message);
    }
}
