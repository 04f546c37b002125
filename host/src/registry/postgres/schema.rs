//! The PostgreSQL schema and its migrations, tracked in `fdo_schema`.
//!
//! All migrations run in ONE transaction that first takes a transaction-level advisory lock,
//! so hosts starting at once on an empty (or older) database queue up: the first migrates,
//! the others find the work done. A database migrated by a newer fdo is refused. Never edit a
//! released migration: append one (and the SQLite one beside it, `registry/schema.rs`).

use tokio_postgres::Client;

use crate::registry::RegistryError;

/// Advisory lock key of the migration (`fdo` + `schema` in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x6664_6f5f_7363_6865;

/// The migrations, in order. `MIGRATIONS.len()` is the schema version this build writes.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema: what SQLite's version 3 holds, plus component bytes and the change
    // feed. Times are Unix milliseconds, maps and lists JSONB.
    r#"
    CREATE TABLE functions (
        id             TEXT PRIMARY KEY,
        active_version TEXT NOT NULL,
        created_at     BIGINT NOT NULL,
        updated_at     BIGINT NOT NULL
    );

    -- Component bytes by content address. Rows are immutable (see the trigger) except to
    -- repair bytes that no longer match their digest; readers verify the digest.
    CREATE TABLE components (
        digest     TEXT PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
        size       BIGINT NOT NULL,
        bytes      BYTEA NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE FUNCTION fdo_components_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF sha256(OLD.bytes) = decode(OLD.digest, 'hex') OR NEW.digest <> OLD.digest THEN
            RAISE EXCEPTION 'components are immutable';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER components_immutable BEFORE UPDATE ON components
        FOR EACH ROW EXECUTE FUNCTION fdo_components_immutable();

    CREATE TABLE versions (
        function_id      TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        version          TEXT NOT NULL,
        seq              BIGSERIAL NOT NULL,  -- deploy order
        language         TEXT NOT NULL,
        entry_point      TEXT NOT NULL,
        dependencies     JSONB NOT NULL,
        component_digest TEXT NOT NULL REFERENCES components (digest),
        component_size   BIGINT NOT NULL,
        memory_mb        BIGINT,
        timeout_ms       BIGINT,
        max_concurrency  BIGINT,
        env              JSONB NOT NULL,
        secrets          JSONB NOT NULL,
        allowed_hosts    JSONB NOT NULL,
        created_at       BIGINT NOT NULL,
        -- How a WASI command is called (issue 28; SQLite's migration 3).
        interface        TEXT NOT NULL DEFAULT 'rpc' CHECK (interface IN ('rpc', 'http')),
        PRIMARY KEY (function_id, version)
    );
    CREATE INDEX versions_by_digest ON versions (component_digest);
    CREATE FUNCTION fdo_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'versions are immutable';
    END $$;
    CREATE TRIGGER versions_immutable BEFORE UPDATE ON versions
        FOR EACH ROW EXECUTE FUNCTION fdo_versions_immutable();
    -- The active version must exist; checked at commit (a deploy writes the function row
    -- first).
    ALTER TABLE functions ADD FOREIGN KEY (id, active_version)
        REFERENCES versions (function_id, version) DEFERRABLE INITIALLY DEFERRED;

    CREATE TABLE history (
        seq              BIGSERIAL PRIMARY KEY,
        function_id      TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        version          TEXT NOT NULL,
        action           TEXT NOT NULL CHECK (action IN ('deploy', 'rollback')),
        previous_version TEXT,
        at               BIGINT NOT NULL
    );
    CREATE INDEX history_by_function ON history (function_id, seq);

    CREATE TABLE api_keys (
        id         TEXT PRIMARY KEY,
        seq        BIGSERIAL NOT NULL,
        name       TEXT NOT NULL,
        prefix     TEXT NOT NULL,
        hash       BYTEA NOT NULL UNIQUE CHECK (length(hash) = 32),
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT
    );

    CREATE TABLE logs (
        id          BIGSERIAL PRIMARY KEY,
        function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        ts          BIGINT NOT NULL,
        level       SMALLINT NOT NULL,
        message     TEXT NOT NULL,
        request_id  TEXT,
        version     TEXT,
        duration_ms BIGINT,
        outcome     TEXT
    );
    CREATE INDEX logs_by_function ON logs (function_id, id);

    -- The change feed: one row per change, written in the change's transaction (under the
    -- feed lock, so sequence order is commit order) and announced with NOTIFY fdo_changes.
    CREATE TABLE changes (
        seq  BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        key  TEXT NOT NULL,
        at   BIGINT NOT NULL
    );
    "#,
    // 2: precompiled artifacts (issue 24, "compile once, load everywhere"): the host that
    // compiles a component keeps wasmtime's serialized form here, keyed by the component and
    // the engine's compatibility key; hosts with the same key load it instead of compiling.
    r#"
    CREATE TABLE artifacts (
        digest     TEXT NOT NULL REFERENCES components (digest) ON DELETE CASCADE,
        engine_key TEXT NOT NULL,
        sha256     BYTEA NOT NULL CHECK (length(sha256) = 32),
        bytes      BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (digest, engine_key)
    );
    "#,
    // 3: access (issue 22; SQLite's migration 4). Namespaces with env, secrets and a token
    // signing key (the `default` row is written by `ensure_default_namespace`, its key from
    // the OS's random source); functions get a namespace (a foreign key: a namespace holding
    // functions cannot be deleted) and a privacy; keys a role and an optional namespace list;
    // history records privacy and namespace changes with a detail.
    r#"
    CREATE TABLE namespaces (
        name         TEXT PRIMARY KEY,
        description  TEXT NOT NULL DEFAULT '',
        env          JSONB NOT NULL DEFAULT '{}',
        secrets      JSONB NOT NULL DEFAULT '{}',
        token_key    BYTEA NOT NULL CHECK (length(token_key) = 32),  -- Ed25519 seed
        token_key_id TEXT NOT NULL UNIQUE,  -- the tokens' kid
        created_at   BIGINT NOT NULL,
        updated_at   BIGINT NOT NULL
    );
    INSERT INTO namespaces (name, token_key, token_key_id, created_at, updated_at)
        VALUES ('default', sha256(gen_random_uuid()::text::bytea || gen_random_uuid()::text::bytea),
                'pending-' || gen_random_uuid()::text,
                (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint);
    ALTER TABLE functions ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default'
        REFERENCES namespaces (name);
    ALTER TABLE functions ADD COLUMN privacy TEXT NOT NULL DEFAULT 'private'
        CHECK (privacy IN ('private', 'public'));
    CREATE INDEX functions_by_namespace ON functions (namespace, id);

    ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
        CHECK (role IN ('admin', 'deploy', 'invoke', 'read'));
    ALTER TABLE api_keys ADD COLUMN namespaces JSONB;  -- array of names; NULL: every namespace

    ALTER TABLE history DROP CONSTRAINT history_action_check;
    ALTER TABLE history ADD CONSTRAINT history_action_check
        CHECK (action IN ('deploy', 'rollback', 'privacy', 'namespace'));
    ALTER TABLE history ADD COLUMN detail TEXT;
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database to [`latest_version`] (see the module documentation). Refuses a
/// database from a newer build.
pub async fn migrate(client: &mut Client) -> Result<(), RegistryError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    // No "already exists, skipping" notice in every host's log at every start.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS fdo_schema (
             one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
             version BIGINT NOT NULL
         )",
    )
    .await?;
    let current: i64 = tx
        .query_opt("SELECT version FROM fdo_schema", &[])
        .await?
        .map_or(0, |row| row.get(0));
    if current > latest_version() {
        return Err(RegistryError::SchemaTooNew {
            found: current,
            supported: latest_version(),
        });
    }
    for sql in MIGRATIONS.iter().skip(current.max(0) as usize) {
        tx.batch_execute(sql).await?;
    }
    if current < latest_version() {
        tx.execute(
            "INSERT INTO fdo_schema (version) VALUES ($1)
             ON CONFLICT (one) DO UPDATE SET version = excluded.version",
            &[&latest_version()],
        )
        .await?;
    }
    ensure_default_namespace(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives the `default` namespace a signing key from the OS's random source when it still has
/// the migration's placeholder (the database's `gen_random_uuid` is only a stand-in).
async fn ensure_default_namespace(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), RegistryError> {
    let key = crate::model::TokenKey::generate();
    tx.execute(
        "UPDATE namespaces SET token_key = $1, token_key_id = $2
         WHERE name = 'default' AND token_key_id LIKE 'pending-%'",
        &[&key.seed.as_slice(), &key.id],
    )
    .await?;
    Ok(())
}
