//! The SQLite schema and its migrations, tracked by `PRAGMA user_version`.
//!
//! Migration `n` (1-based) moves the schema from version `n - 1` to `n`; each runs in its own
//! transaction together with the `user_version` bump, so an interrupted upgrade is retried
//! from the last complete step. Never edit a released migration: append a new one.

use rusqlite::{Connection, TransactionBehavior};

use super::RegistryError;

/// The migrations, in order. `MIGRATIONS.len()` is the schema version this build writes.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
    -- Counter bumped by every write that changes functions, versions or keys, so caches in
    -- this and other processes can tell when to reload.
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) STRICT;
    INSERT INTO meta (key, value) VALUES ('generation', 0);

    CREATE TABLE functions (
        id             TEXT PRIMARY KEY,
        active_version TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        -- The active version must exist; checked at commit (the version row is inserted after
        -- the function row in a deploy).
        FOREIGN KEY (id, active_version) REFERENCES versions (function_id, version)
            DEFERRABLE INITIALLY DEFERRED
    ) STRICT;

    CREATE TABLE versions (
        function_id      TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        version          TEXT NOT NULL,
        language         TEXT NOT NULL,
        entry_point      TEXT NOT NULL,
        dependencies     TEXT NOT NULL,  -- JSON object
        component_digest TEXT NOT NULL,  -- lowercase hex sha256
        component_size   INTEGER NOT NULL,
        memory_mb        INTEGER,
        timeout_ms       INTEGER,
        max_concurrency  INTEGER,
        env              TEXT NOT NULL,  -- JSON object
        secrets          TEXT NOT NULL,  -- JSON object; the database file is mode 0600
        allowed_hosts    TEXT NOT NULL,  -- JSON array
        created_at       INTEGER NOT NULL,
        PRIMARY KEY (function_id, version)
    ) STRICT;
    CREATE INDEX versions_by_digest ON versions (component_digest);
    -- Versions are immutable.
    CREATE TRIGGER versions_immutable BEFORE UPDATE ON versions
    BEGIN
        SELECT RAISE(ABORT, 'versions are immutable');
    END;

    CREATE TABLE history (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        function_id      TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        version          TEXT NOT NULL,
        action           TEXT NOT NULL CHECK (action IN ('deploy', 'rollback')),
        previous_version TEXT,
        at               INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX history_by_function ON history (function_id, seq);

    CREATE TABLE api_keys (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        prefix     TEXT NOT NULL,
        hash       BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
    ) STRICT;

    CREATE TABLE logs (
        id          INTEGER PRIMARY KEY,
        function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        ts          INTEGER NOT NULL,
        level       INTEGER NOT NULL,
        message     TEXT NOT NULL,
        request_id  TEXT,
        version     TEXT,
        duration_ms INTEGER,
        outcome     TEXT
    ) STRICT;
    -- Retention trims and queries walk one function's entries by id; retention bounds that walk.
    CREATE INDEX logs_by_function ON logs (function_id, id);
    "#,
    // 2: logs clustered by function. With the rowid table and its index, rows of different
    // functions interleave on the table's pages, so trimming one function's oldest entries
    // dirtied a page per deleted row and every insert dirtied an index page too: with 1,000
    // busy functions the log writer spent most of its time writing those pages to the WAL.
    // Clustered on (function_id, id), a function's entries share pages: an insert touches its
    // function's last page and a trim a few contiguous ones. Ids come from `meta.log_seq`,
    // advanced once per batch inside the batch's write transaction.
    r#"
    CREATE TABLE logs_by_function_id (
        function_id TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        id          INTEGER NOT NULL,
        ts          INTEGER NOT NULL,
        level       INTEGER NOT NULL,
        message     TEXT NOT NULL,
        request_id  TEXT,
        version     TEXT,
        duration_ms INTEGER,
        outcome     TEXT,
        PRIMARY KEY (function_id, id)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO logs_by_function_id
        (function_id, id, ts, level, message, request_id, version, duration_ms, outcome)
        SELECT function_id, id, ts, level, message, request_id, version, duration_ms, outcome
        FROM logs;
    INSERT INTO meta (key, value)
        VALUES ('log_seq', (SELECT coalesce(max(id), 0) FROM logs_by_function_id));
    DROP TABLE logs;
    ALTER TABLE logs_by_function_id RENAME TO logs;
    "#,
    // 3: commands (issue 28). How a WASI command is called: `rpc` ({"method", "params"} on
    // stdin) or `http` (CGI on the pass-through routes). Part of a version, like its env.
    r#"
    ALTER TABLE versions ADD COLUMN interface TEXT NOT NULL DEFAULT 'rpc'
        CHECK (interface IN ('rpc', 'http'));
    "#,
    // 4: access (issue 22). Namespaces with env, secrets and a token signing key; functions
    // get a namespace and a privacy; keys a role and an optional namespace list; history
    // records privacy and namespace changes (the table is rebuilt to widen its CHECK).
    // The `default` namespace row is written by `ensure_default_namespace` (its key comes
    // from the OS's random source, not SQLite's PRNG). ALTER TABLE cannot add a column with a
    // foreign key and a non-null default, so triggers keep `functions.namespace` pointing at a
    // namespace, and keep namespaces holding functions (and `default`) from being deleted.
    r#"
    CREATE TABLE namespaces (
        name         TEXT PRIMARY KEY,
        description  TEXT NOT NULL DEFAULT '',
        env          TEXT NOT NULL DEFAULT '{}',  -- JSON object
        secrets      TEXT NOT NULL DEFAULT '{}',  -- JSON object
        token_key    BLOB NOT NULL CHECK (length(token_key) = 32),  -- Ed25519 seed
        token_key_id TEXT NOT NULL UNIQUE,  -- the tokens' kid
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
    ) STRICT;
    CREATE TRIGGER namespaces_keep_default BEFORE DELETE ON namespaces
        WHEN OLD.name = 'default'
    BEGIN
        SELECT RAISE(ABORT, 'the default namespace cannot be deleted');
    END;
    CREATE TRIGGER namespaces_keep_functions BEFORE DELETE ON namespaces
        WHEN EXISTS (SELECT 1 FROM functions WHERE namespace = OLD.name)
    BEGIN
        SELECT RAISE(ABORT, 'the namespace still holds functions');
    END;
    CREATE TRIGGER namespaces_name_immutable BEFORE UPDATE OF name ON namespaces
    BEGIN
        SELECT RAISE(ABORT, 'namespace names are immutable');
    END;

    ALTER TABLE functions ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE functions ADD COLUMN privacy TEXT NOT NULL DEFAULT 'private'
        CHECK (privacy IN ('private', 'public'));
    CREATE INDEX functions_by_namespace ON functions (namespace, id);
    CREATE TRIGGER functions_namespace_exists BEFORE INSERT ON functions
        WHEN NOT EXISTS (SELECT 1 FROM namespaces WHERE name = NEW.namespace)
    BEGIN
        SELECT RAISE(ABORT, 'unknown namespace');
    END;
    CREATE TRIGGER functions_namespace_update BEFORE UPDATE OF namespace ON functions
        WHEN NOT EXISTS (SELECT 1 FROM namespaces WHERE name = NEW.namespace)
    BEGIN
        SELECT RAISE(ABORT, 'unknown namespace');
    END;

    ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
        CHECK (role IN ('admin', 'deploy', 'invoke', 'read'));
    ALTER TABLE api_keys ADD COLUMN namespaces TEXT;  -- JSON array; NULL: every namespace

    CREATE TABLE history_v4 (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        function_id      TEXT NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
        version          TEXT NOT NULL,
        action           TEXT NOT NULL
            CHECK (action IN ('deploy', 'rollback', 'privacy', 'namespace')),
        previous_version TEXT,
        detail           TEXT,
        at               INTEGER NOT NULL
    ) STRICT;
    INSERT INTO history_v4 (seq, function_id, version, action, previous_version, at)
        SELECT seq, function_id, version, action, previous_version, at FROM history;
    DROP TABLE history;
    ALTER TABLE history_v4 RENAME TO history;
    CREATE INDEX history_by_function ON history (function_id, seq);
    "#,
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database to [`latest_version`]. Refuses a database from a newer build.
pub fn migrate(conn: &mut Connection) -> Result<(), RegistryError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > latest_version() {
        return Err(RegistryError::SchemaTooNew {
            found: current,
            supported: latest_version(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if now > index as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    ensure_default_namespace(conn)?;
    Ok(())
}

/// Creates the `default` namespace if it is missing (a fresh or just-migrated database), with
/// a token key from the OS's random source.
fn ensure_default_namespace(conn: &mut Connection) -> Result<(), RegistryError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM namespaces WHERE name = 'default')",
        [],
        |row| row.get(0),
    )?;
    if exists {
        return Ok(());
    }
    let key = crate::model::TokenKey::generate();
    let now = crate::model::Timestamp::now().as_millis();
    conn.execute(
        "INSERT OR IGNORE INTO namespaces (name, token_key, token_key_id, created_at, updated_at)
         VALUES ('default', ?1, ?2, ?3, ?3)",
        rusqlite::params![key.seed, key.id, now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_fresh_database_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest_version());
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('functions','versions','history','api_keys','logs','meta','namespaces')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 7);
        let default: i64 = conn
            .query_row(
                "SELECT count(*) FROM namespaces WHERE name = 'default'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(default, 1);
    }

    #[test]
    fn version_1_logs_move_to_the_clustered_table_with_their_ids() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "BEGIN;
             INSERT INTO functions (id, active_version, created_at, updated_at)
                 VALUES ('f', '1.0.0', 0, 0), ('g', '1.0.0', 0, 0);
             INSERT INTO versions (function_id, version, language, entry_point, dependencies,
                 component_digest, component_size, env, secrets, allowed_hosts, created_at)
                 VALUES ('f', '1.0.0', 'rust', 'x', '{}', 'd', 1, '{}', '{}', '[]', 0),
                        ('g', '1.0.0', 'rust', 'x', '{}', 'd', 1, '{}', '{}', '[]', 0);
             INSERT INTO logs (function_id, ts, level, message) VALUES
                 ('f', 1, 2, 'one'), ('g', 2, 2, 'two'), ('f', 3, 4, 'three');
             COMMIT;",
        )
        .unwrap();

        migrate(&mut conn).unwrap();

        let rows: Vec<(String, i64, String)> = conn
            .prepare("SELECT function_id, id, message FROM logs ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected = [("f", 1, "one"), ("g", 2, "two"), ("f", 3, "three")]
            .map(|(f, id, m)| (f.to_owned(), id, m.to_owned()));
        assert_eq!(rows, expected);
        let seq: i64 = conn
            .query_row("SELECT value FROM meta WHERE key = 'log_seq'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(seq, 3, "new entries continue after the migrated ones");
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'logs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.contains("WITHOUT ROWID"), "{sql}");
        // Deleting a function still takes its entries with it.
        conn.execute("DELETE FROM functions WHERE id = 'f'", [])
            .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM logs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
    }

    #[test]
    fn refuses_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, RegistryError::SchemaTooNew { .. }), "{err}");
    }
}
