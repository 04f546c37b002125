//! The domain's types, one of each, valid by construction: their fields are private and they
//! are built only through constructors (`new`, `TryFrom`, `FromStr`, a parser) that run the
//! rules of [`crate::validate`]. A value of one of these types has passed them, so storage, the
//! host and the server take it as is and never check it again.
//!
//! * [`DeployMetadata`] (with [`DeployFields`] to build one): what a version is deployed with.
//! * [`Language`], [`Limits`], [`Secrets`], [`Interface`]: its parts.
//! * [`LogLevel`]: one severity scale from the guest to storage and the API.
//! * [`Digest`]: the content address of a component (SHA-256).

mod deploy;
mod digest;
mod interface;
mod language;
mod limits;
mod log;
mod secrets;

pub use deploy::{DeployFields, DeployMetadata, parse_deploy_metadata};
pub use digest::{Digest, InvalidDigest};
pub use interface::Interface;
pub use language::Language;
pub use limits::Limits;
pub use log::{InvalidLogLevel, LogLevel};
pub use secrets::Secrets;
