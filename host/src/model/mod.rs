//! The domain's types, one of each, valid by construction: their fields are private and they
//! are built only through constructors (`new`, `TryFrom`, `FromStr`, a parser) that run the
//! rules of [`crate::validate`]. A value of one of these types has passed them, so storage, the
//! host and the server take it as is and never check it again.
//!
//! * [`DeployMetadata`] (with [`DeployFields`] to build one): what a version is deployed with.
//! * [`Language`], [`Limits`], [`Secrets`], [`Interface`]: its parts.
//! * [`LogLevel`]: one severity scale from the guest to storage and the API.
//! * [`Digest`]: the content address of a component (SHA-256).
//! * the records every layer speaks (`records.rs`): [`Timestamp`], [`FunctionRecord`],
//!   [`VersionRecord`], history, API keys, log entries and queries, [`Resource`].
//! * [`access`]: who may do what: roles, namespace scopes, privacy, principals, the one
//!   permission check.

pub mod access;
mod deploy;
mod digest;
mod interface;
mod language;
mod limits;
mod log;
mod records;
mod secrets;

pub use deploy::{DeployFields, DeployMetadata, parse_deploy_metadata};
pub use digest::{Digest, InvalidDigest};
pub use interface::Interface;
pub use language::Language;
pub use limits::Limits;
pub use log::{InvalidLogLevel, LogLevel};
pub use records::{
    ApiKeyRecord, ComponentRef, CreatedKey, DEFAULT_LOG_QUERY_LIMIT, DeleteOutcome, DeployOutcome,
    FunctionRecord, GcReport, HistoryAction, HistoryEntry, KeyInfo, KeyStatus, LevelFilter,
    LogEntry, LogOrder, LogOutcome, LogQuery, LogRecord, MAX_LOG_QUERY_LIMIT,
    MAX_NAMESPACE_DESCRIPTION_CHARS, NamespaceDeleteOutcome, NamespaceInfo, NamespacePatch,
    NamespaceRecord, NamespaceUpdate, NewKey, NewNamespace, PrivacyChange, Resource,
    RollbackOutcome, Timestamp, TokenKey, VersionRecord,
};
pub use secrets::Secrets;
