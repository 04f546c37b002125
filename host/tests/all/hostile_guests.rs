//! Hostile guests (an infinite loop, a memory bomb, a trap, unbounded recursion) each fail
//! with their own error, the host keeps serving, and a spinning guest does not hold up a
//! neighbour.

use std::sync::Arc;

use crate::support::*;
use fdo::runtime::InvokeError;
use serde_json::{Value, json};

#[tokio::test]
async fn infinite_loop_is_stopped_at_its_timeout() {
    let core = Core::new();
    let spin = core.deploy(spinner()).await.component;
    let out = core
        .runtime
        .call_json(&spin, &spec("spin", limits(64, 200, 4)), "run", &json!([]))
        .await;
    assert_eq!(out.result, Err(InvokeError::Timeout(200)));
    assert_host_still_serves(&core).await;
}

/// The epoch ticker sleeps while the host is idle; the first call after that still gets its
/// deadline (the call wakes the ticker before the guest runs).
#[tokio::test]
async fn infinite_loop_after_an_idle_spell_is_stopped_at_its_timeout() {
    let core = Core::new();
    let spin = core.deploy(spinner()).await.component;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !core.runtime.engine().ticker_asleep() {
        assert!(
            std::time::Instant::now() < deadline,
            "the ticker never slept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let out = core
        .runtime
        .call_json(&spin, &spec("spin", limits(64, 200, 4)), "run", &json!([]))
        .await;
    assert_eq!(out.result, Err(InvokeError::Timeout(200)));
}

#[tokio::test]
async fn memory_bomb_hits_the_memory_limit() {
    let core = Core::new();
    let bomb = core.deploy(memory_bomb()).await.component;
    let out = core
        .runtime
        .call_json(&bomb, &spec("bomb", limits(16, 5000, 4)), "run", &json!([]))
        .await;
    assert_eq!(out.result, Err(InvokeError::MemoryLimit(16)));
    assert_host_still_serves(&core).await;
}

#[tokio::test]
async fn trap_is_reported_as_a_trap() {
    let core = Core::new();
    let trap = core.deploy(trapper()).await.component;
    let out = core
        .runtime
        .call_json(&trap, &spec("trap", limits(64, 5000, 4)), "run", &json!([]))
        .await;
    match out.result {
        Err(InvokeError::Trap(message)) => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_host_still_serves(&core).await;
}

#[tokio::test]
async fn unbounded_recursion_is_a_stack_overflow() {
    let core = Core::new();
    let rec = core.deploy(recurser()).await.component;
    let out = core
        .runtime
        .call_json(&rec, &spec("rec", limits(64, 5000, 4)), "run", &json!([]))
        .await;
    assert_eq!(out.result, Err(InvokeError::StackOverflow));
    assert_host_still_serves(&core).await;
}

/// On a single runtime thread, a guest spinning until its timeout must not stop a neighbour's
/// calls from completing in the meantime: the spinner yields every epoch tick.
#[tokio::test(flavor = "current_thread")]
async fn spinning_guest_does_not_block_a_neighbour() {
    let core = Arc::new(Core::new());
    let spin = core.deploy(spinner()).await.component;
    let quick = core.deploy(answer()).await.component;

    let spinner_task = {
        let core = core.clone();
        tokio::spawn(async move {
            core.runtime
                .call_json(&spin, &spec("spin", limits(64, 3000, 4)), "run", &json!([]))
                .await
        })
    };
    // Let the spinner start running.
    tokio::task::yield_now().await;
    for _ in 0..20 {
        let out = core
            .runtime
            .call_json(
                &quick,
                &spec("quick", limits(64, 5000, 4)),
                "run",
                &json!([]),
            )
            .await;
        assert_eq!(out.result, Ok(json!(42)));
    }
    assert!(
        !spinner_task.is_finished(),
        "the neighbour's 20 calls finished while the spinner still ran"
    );
    assert_eq!(
        spinner_task.await.unwrap().result,
        Err(InvokeError::Timeout(3000))
    );
}

/// Calls beyond a function's maxConcurrency wait, and past the queue timeout are refused as
/// busy, while the running one is unaffected.
#[tokio::test]
async fn excess_calls_wait_then_get_busy() {
    let core = Arc::new(Core::with(
        engine_config(),
        std::time::Duration::from_millis(100),
    ));
    let spin = core.deploy(spinner()).await.component;
    let first = {
        let (core, spin) = (core.clone(), spin.clone());
        tokio::spawn(async move {
            core.runtime
                .call_json(&spin, &spec("one", limits(64, 1000, 1)), "run", &json!([]))
                .await
        })
    };
    while core.runtime.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let second = core
        .runtime
        .call_json(&spin, &spec("one", limits(64, 1000, 1)), "run", &json!([]))
        .await;
    match second.result {
        Err(InvokeError::Busy(message)) => {
            assert!(message.contains("maxConcurrency 1"), "{message}")
        }
        other => panic!("expected busy, got {other:?}"),
    }
    assert_eq!(first.await.unwrap().result, Err(InvokeError::Timeout(1000)));
}

/// Calls arriving together at a function not called before share its limit: exactly
/// `maxConcurrency` of them run, the rest are refused as busy after the queue timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_first_calls_share_one_limit() {
    let core = Arc::new(Core::with(
        engine_config(),
        std::time::Duration::from_millis(100),
    ));
    let spin = core.deploy(spinner()).await.component;
    let start = Arc::new(tokio::sync::Barrier::new(8));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (core, spin, start) = (core.clone(), spin.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                core.runtime
                    .call_json(
                        &spin,
                        &spec("fresh", limits(64, 1000, 2)),
                        "run",
                        &json!([]),
                    )
                    .await
                    .result
            })
        })
        .collect();
    let (mut ran, mut busy) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Err(InvokeError::Timeout(1000)) => ran += 1,
            Err(InvokeError::Busy(_)) => busy += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((ran, busy), (2, 6));
}

async fn assert_host_still_serves(core: &Core) {
    let quick = core.deploy(answer()).await.component;
    let out = core
        .runtime
        .call_json(
            &quick,
            &spec("quick", limits(64, 5000, 4)),
            "run",
            &Value::Null,
        )
        .await;
    assert_eq!(out.result, Ok(json!(42)));
}
