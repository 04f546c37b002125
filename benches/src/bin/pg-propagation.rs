//! `pg-propagation`: how long a change made through one host takes to reach another host on
//! the same PostgreSQL (issue 24: "every change reaches every host within 1 s").
//!
//! Starts a throwaway PostgreSQL cluster (the `test-postgres` harness: initdb into a temporary
//! directory, a free loopback port), opens two registries on one database as two hosts do
//! (each with its own pool, listening connection and caches), and makes `--changes` changes
//! through host A: deploys of a new version and rollbacks, alternately, plus key revocations.
//! For each, the time from A's acknowledgement (the write committed) to host B's change feed
//! delivering it (what makes B's FunctionHost drop the old version or the revoked key) is
//! measured. Prints p50 / p99 / max in milliseconds.
//!
//! Usage: `cargo run --release -p fdo-benches --bin pg-propagation [-- --changes 100]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use fdo::model::parse_deploy_metadata;
use fdo::registry::{Change, PostgresOptions, PostgresRegistry, Registry};

#[derive(Parser)]
struct Args {
    /// Changes to measure.
    #[arg(long, default_value_t = 100)]
    changes: usize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = test_postgres::database();
    let a = PostgresRegistry::open(&db.url, PostgresOptions::default()).await?;
    let b = PostgresRegistry::open(&db.url, PostgresOptions::default()).await?;
    let mut feed = b.changes().expect("PostgreSQL reports changes");
    let code = Arc::new(b"\0asm propagation bench".to_vec());
    let meta = |version: &str| {
        parse_deploy_metadata(&serde_json::json!({
            "id": "f", "version": version, "language": "rust", "entryPoint": "src/lib.rs",
            "dependencies": {}
        }))
    };
    a.deploy(meta("1.0.0")?, code.clone()).await?;
    let key = a.create_key("bench", None).await?;
    // Let the set-up's own changes through first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while feed.try_recv().is_ok() {}

    let mut delays = Vec::with_capacity(args.changes);
    let mut from_start = Vec::with_capacity(args.changes);
    for i in 0..args.changes {
        let started = Instant::now();
        let (acked, expected) = match i % 3 {
            0 => {
                a.deploy(meta(&format!("1.{}.0", i + 1))?, code.clone())
                    .await?;
                (Instant::now(), Change::Function("f".into()))
            }
            1 => {
                a.rollback("f", "1.0.0").await?;
                (Instant::now(), Change::Function("f".into()))
            }
            _ => {
                a.revoke_key(&key.record.id).await?;
                (Instant::now(), Change::Key(key.record.id.clone()))
            }
        };
        loop {
            let change = tokio::time::timeout(Duration::from_secs(10), feed.recv()).await??;
            if change == expected {
                break;
            }
        }
        // B may hear of the change before A's caller has its answer: zero then.
        delays.push(Instant::now().saturating_duration_since(acked));
        from_start.push(started.elapsed());
        // Changes one at a time, as people make them.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (what, mut v) in [
        ("after A acknowledged the change", delays),
        ("after A's write started (includes the write)", from_start),
    ] {
        v.sort();
        let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
        println!(
            "{} changes (deploy / rollback / key revocation) reached host B {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            v.len(),
            ms(at(0.50)),
            ms(at(0.99)),
            ms(*v.last().expect("measured"))
        );
    }
    Ok(())
}
