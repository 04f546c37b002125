//! The shared suite on [`PostgresRegistry`] (a fresh database per test in the run's real
//! PostgreSQL cluster, see the `test-postgres` crate), and what only this backend has: the
//! schema's version and migration races, the change feed across a lost connection.

use std::sync::Arc;
use std::time::Duration;

use super::suite::deploy;
use super::{Fixture, files_contain, for_each_shared_test, shared_suite};
use crate::model::*;
use crate::registry::*;

/// A fresh database.
pub(super) struct PgFixture {
    db: test_postgres::Database,
}

impl PgFixture {
    pub(super) fn new() -> Self {
        PgFixture {
            db: test_postgres::database(),
        }
    }

    async fn open_options(&self, options: PostgresOptions) -> PostgresRegistry {
        PostgresRegistry::open(&self.db.url, options).await.unwrap()
    }

    /// A connection for the test's own SQL, as the superuser; `replica` skips triggers and
    /// foreign keys, to damage what the registry would never let be damaged.
    async fn sql(&self, replica: bool) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.db.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        if replica {
            client
                .batch_execute("SET session_replication_role = replica")
                .await
                .unwrap();
        }
        client
    }
}

#[async_trait::async_trait]
impl Fixture for PgFixture {
    async fn open_with(&self, logs: LogWriterConfig) -> Arc<dyn Registry> {
        Arc::new(
            self.open_options(PostgresOptions {
                logs,
                ..PostgresOptions::default()
            })
            .await,
        )
    }

    async fn open_other(&self) -> Arc<dyn Registry> {
        Arc::new(self.open_options(PostgresOptions::default()).await)
    }

    async fn component_stored(&self, digest: &Digest) -> bool {
        self.sql(false)
            .await
            .query_opt(
                "SELECT 1 FROM components WHERE digest = $1",
                &[&digest.to_hex()],
            )
            .await
            .unwrap()
            .is_some()
    }

    async fn stored_components(&self) -> usize {
        let n: i64 = self
            .sql(false)
            .await
            .query_one("SELECT count(*) FROM components", &[])
            .await
            .unwrap()
            .get(0);
        n as usize
    }

    async fn corrupt_component(&self, digest: &Digest) {
        let changed = self
            .sql(true)
            .await
            .execute(
                "UPDATE components SET bytes = set_byte(bytes, 0, get_byte(bytes, 0) # 255)
                 WHERE digest = $1",
                &[&digest.to_hex()],
            )
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }

    async fn remove_component(&self, digest: &Digest) {
        let changed = self
            .sql(true)
            .await
            .execute(
                "DELETE FROM components WHERE digest = $1",
                &[&digest.to_hex()],
            )
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }

    async fn store_orphan_component(&self, bytes: &[u8]) -> Digest {
        let digest = Digest::of(bytes);
        self.sql(false)
            .await
            .execute(
                "INSERT INTO components (digest, size, bytes, created_at) VALUES ($1, $2, $3, 0)",
                &[&digest.to_hex(), &(bytes.len() as i64), &bytes],
            )
            .await
            .unwrap();
        digest
    }

    async fn rows_of_function(&self, table: &str, id: &str) -> i64 {
        self.sql(false)
            .await
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE function_id = $1"),
                &[&id],
            )
            .await
            .unwrap()
            .get(0)
    }

    async fn expire_key(&self, id: &str) {
        self.sql(false)
            .await
            .execute(
                "UPDATE api_keys SET expires_at = 1000, revoked_at = NULL WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
    }

    async fn stored_anywhere(&self, needle: &[u8]) -> bool {
        let client = self.sql(false).await;
        client.batch_execute("CHECKPOINT").await.unwrap();
        let oid: u32 = client
            .query_one(
                "SELECT oid FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let data = &self.db.cluster().data_dir;
        files_contain(&data.join("base").join(oid.to_string()), needle)
            || files_contain(&data.join("pg_wal"), needle)
    }
}

for_each_shared_test!(shared_suite!(super::PgFixture::new()));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_starting_at_once_on_an_empty_database_migrate_once() {
    let fx = PgFixture::new();
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let url = fx.db.url.clone();
            tokio::spawn(
                async move { PostgresRegistry::open(&url, PostgresOptions::default()).await },
            )
        })
        .collect();
    let mut hosts = Vec::new();
    for open in opens {
        hosts.push(open.await.unwrap().unwrap());
    }
    deploy(&hosts[0], "f", "1.0.0", "1").await;
    assert_eq!(
        hosts[3].get_function("f").await.unwrap().active.version,
        "1.0.0"
    );
    let version: i64 = fx
        .sql(false)
        .await
        .query_one("SELECT version FROM fdo_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, latest_postgres_schema_version());
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let fx = PgFixture::new();
    drop(fx.open().await);
    fx.sql(false)
        .await
        .execute("UPDATE fdo_schema SET version = version + 1", &[])
        .await
        .unwrap();
    let err = PostgresRegistry::open(&fx.db.url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::SchemaTooNew { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_arrive_after_the_feed_connection_is_killed() {
    let fx = PgFixture::new();
    let a = fx.open().await;
    let b = PostgresRegistry::open(
        &fx.db.url,
        PostgresOptions {
            // Long, so the change must come through the reconnected listener, not a poll.
            change_poll: Duration::from_secs(3600),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap();
    deploy(a.as_ref(), "f", "1.0.0", "1").await;
    assert_eq!(b.get_function("f").await.unwrap().active.version, "1.0.0");
    // Every listening connection goes (b's included).
    let killed: i64 = fx
        .sql(false)
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1);
    deploy(a.as_ref(), "f", "2.0.0", "2").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.get_function("f").await.unwrap().active.version != "2.0.0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the change never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn artifacts_are_shared_by_engine_key_verified_and_go_with_their_component() {
    let fx = PgFixture::new();
    let reg = fx.open().await;
    let digest = deploy(reg.as_ref(), "f", "1.0.0", "1")
        .await
        .version
        .component
        .digest;
    assert_eq!(reg.read_artifact(&digest, "engine-a").await.unwrap(), None);
    reg.store_artifact(&digest, "engine-a", b"compiled for a".to_vec())
        .await
        .unwrap();
    // Idempotent: the first one stays.
    reg.store_artifact(&digest, "engine-a", b"again".to_vec())
        .await
        .unwrap();
    let other = fx.open_other().await;
    assert_eq!(
        other
            .read_artifact(&digest, "engine-a")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"compiled for a"[..])
    );
    assert_eq!(
        other.read_artifact(&digest, "engine-b").await.unwrap(),
        None
    );
    // Damaged bytes are refused, never handed to the engine.
    fx.sql(false)
        .await
        .execute("UPDATE artifacts SET bytes = 'x'", &[])
        .await
        .unwrap();
    let err = other.read_artifact(&digest, "engine-a").await.unwrap_err();
    assert!(matches!(err, RegistryError::Corrupt(_)), "{err}");
    // An artifact of an unknown component is not stored; deleting the function takes it along.
    reg.store_artifact(&Digest::of(b"nothing"), "engine-a", b"x".to_vec())
        .await
        .unwrap();
    reg.delete_function("f").await.unwrap();
    let left: i64 = fx
        .sql(false)
        .await
        .query_one("SELECT count(*) FROM artifacts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
