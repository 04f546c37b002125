//! The registry's test suite: ONE set of tests ([`suite`]) run against every backend, so the
//! backends cannot drift. Each backend supplies a [`Fixture`] (a fresh store per test, plus
//! the few things a test must do behind the registry's back, such as damaging stored bytes)
//! and instantiates the suite with [`shared_suite!`]; what only one backend has (SQLite's
//! files, a killed process) is tested beside its fixture.
//!
//! Run one backend's half with `cargo nextest run -p fdo --lib -E 'test(/registry::tests::sqlite/)'`.

use std::path::Path;
use std::sync::Arc;

use super::{LogWriterConfig, Registry};
use crate::model::Digest;

mod postgres;
mod sqlite;
mod suite;

/// One test's store, on one backend.
#[async_trait::async_trait]
pub(super) trait Fixture: Send + Sync {
    /// Opens a registry on this test's store with `logs` tuning. Opening again after the
    /// earlier handle is dropped is a restart: everything acknowledged must be there.
    async fn open_with(&self, logs: LogWriterConfig) -> Arc<dyn Registry>;

    /// [`Fixture::open_with`] with the default log tuning.
    async fn open(&self) -> Arc<dyn Registry> {
        self.open_with(LogWriterConfig::default()).await
    }

    /// A second registry on the same store, as another process or host would have, beside
    /// the ones already open.
    async fn open_other(&self) -> Arc<dyn Registry>;

    /// Whether component bytes with `digest` are stored (whatever their state).
    async fn component_stored(&self, digest: &Digest) -> bool;

    /// How many components are stored.
    async fn stored_components(&self) -> usize;

    /// Flips a byte of the stored component, behind the registry's back.
    async fn corrupt_component(&self, digest: &Digest);

    /// Deletes the stored component, behind the registry's back.
    async fn remove_component(&self, digest: &Digest);

    /// Stores component bytes no version references (an interrupted deploy's leftover).
    async fn store_orphan_component(&self, bytes: &[u8]) -> Digest;

    /// Rows of `table` (`versions`, `history` or `logs`) that belong to function `id`.
    async fn rows_of_function(&self, table: &str, id: &str) -> i64;

    /// Moves key `id`'s expiry into the past (and clears its revocation) behind the
    /// registry's back; the registry sees it after [`Registry::refresh`].
    async fn expire_key(&self, id: &str);

    /// Whether `needle` appears anywhere in what the backend stores (files, pages, logs).
    async fn stored_anywhere(&self, needle: &[u8]) -> bool;
}

/// Whether any file under `dir` contains `needle` (files that vanish meanwhile, such as
/// recycled WAL segments, count as not containing it).
fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_contain(&path, needle)
        } else {
            std::fs::read(&path)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        }
    })
}

/// Calls `$m!($($args)*; every shared test)`: the one list of [`suite`] tests each backend
/// instantiates.
macro_rules! for_each_shared_test {
    ($m:ident ! ( $($args:tt)* )) => {
        $m!($($args)*;
            deploy_then_read_everything_back,
            secrets_never_appear_in_debug_output,
            list_functions_is_sorted_and_shows_active_versions,
            identical_redeploy_is_idempotent,
            same_version_with_other_code_or_metadata_conflicts_and_changes_nothing,
            new_versions_activate_and_rollback_restores_with_history,
            delete_cascades_and_removes_only_unreferenced_components,
            everything_survives_a_reopen,
            a_deploy_failing_inside_its_transaction_leaves_the_old_state,
            a_corrupt_component_is_never_served_and_an_identical_redeploy_heals_it,
            gc_removes_unreferenced_components_only,
            api_keys_create_verify_revoke_expire,
            keys_are_stored_only_as_hashes,
            other_handles_changes_are_picked_up,
            reads_stay_consistent_under_concurrent_deploys,
            logs_batch_filter_order_and_limit,
            log_retention_is_bounded_per_function,
            log_retention_is_exact_for_many_functions_logging_at_once,
            a_function_deleted_and_deployed_again_keeps_its_new_entries,
            the_registry_is_usable_from_other_tasks,
            the_first_key_is_created_once_by_hosts_starting_together,
            namespaces_hold_functions_env_and_a_token_key,
            namespace_cascade_delete_takes_everything_in_one_go,
            privacy_changes_are_history_not_versions,
            keys_carry_a_role_and_namespaces,
        );
    };
}
pub(super) use for_each_shared_test;

/// `mod shared { one #[tokio::test] per suite test, each on a fresh `$fixture` }`.
macro_rules! shared_suite {
    ($fixture:expr; $($test:ident),* $(,)?) => {
        /// The shared suite ([`crate::registry::tests::suite`]) on this backend.
        mod shared {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = $fixture;
                    crate::registry::tests::suite::$test(&fixture).await;
                }
            )*
        }
    };
}
pub(super) use shared_suite;

#[test]
fn invalid_metadata_cannot_reach_the_registry() {
    // The registry takes only a `DeployMetadata`, and an invalid one cannot be built.
    let mut bad = suite::meta("f", "1.0.0").into_fields();
    bad.id = "bad..id".into();
    let err = crate::model::DeployMetadata::try_from(bad).unwrap_err();
    assert_eq!(err.field, "id");
}
