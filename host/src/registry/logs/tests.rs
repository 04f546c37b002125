use super::*;
use crate::model::LogLevel;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// An in-memory sink recording batch sizes, optionally blocking until released.
#[derive(Clone, Default)]
struct MemorySink {
    rows: Arc<Mutex<Vec<LogEntry>>>,
    batches: Arc<Mutex<Vec<usize>>>,
    gate: Option<Arc<Mutex<()>>>,
    fail: Arc<std::sync::atomic::AtomicBool>,
    /// Most rows any one function had after a batch (and its trims) was written.
    peak: Arc<AtomicUsize>,
}

impl LogSink for MemorySink {
    fn write_batch(
        &mut self,
        entries: &[LogEntry],
        trim: &[String],
        keep: usize,
    ) -> Result<(), RegistryError> {
        {
            let _held = self.gate.as_ref().map(|g| g.lock().unwrap());
            if self.fail.load(Ordering::SeqCst) {
                return Err(RegistryError::Unavailable("disk on fire".into()));
            }
            self.batches.lock().unwrap().push(entries.len());
            self.rows.lock().unwrap().extend_from_slice(entries);
        }
        self.trim(trim, keep)?;
        let rows = self.rows.lock().unwrap();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in rows.iter() {
            *counts.entry(e.function_id.as_str()).or_default() += 1;
        }
        let most = counts.values().copied().max().unwrap_or(0);
        self.peak.fetch_max(most, Ordering::SeqCst);
        Ok(())
    }

    fn trim(&mut self, function_ids: &[String], keep: usize) -> Result<(), RegistryError> {
        let mut rows = self.rows.lock().unwrap();
        for id in function_ids {
            let count = rows.iter().filter(|e| &e.function_id == id).count();
            let mut excess = count.saturating_sub(keep);
            rows.retain(|e| {
                if &e.function_id == id && excess > 0 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
        Ok(())
    }
}

fn entry(f: &str, i: usize) -> LogEntry {
    LogEntry::new(f, LogLevel::Info, format!("entry {i}"))
}

#[test]
fn batches_and_flush() {
    let sink = MemorySink::default();
    let gate = Arc::new(Mutex::new(()));
    let sink = MemorySink {
        gate: Some(Arc::clone(&gate)),
        ..sink
    };
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            batch_size: 100,
            ..Default::default()
        },
    )
    .unwrap();
    // Hold the sink so entries pile up in the queue, then release: they go in batches.
    let held = gate.lock().unwrap();
    assert!(writer.push(entry("f", 0)));
    // The worker may or may not have taken that first entry; either way it cannot write
    // while the gate is held, so the next 250 queue up and go out in batches of 100.
    for i in 1..=250 {
        assert!(writer.push(entry("f", i)));
    }
    drop(held);
    writer.flush().unwrap();
    let rows = sink.rows.lock().unwrap();
    assert_eq!(rows.len(), 251);
    assert_eq!(rows.last().unwrap().message, "entry 250");
    let batches = sink.batches.lock().unwrap();
    assert!(batches.iter().all(|b| *b <= 100), "{batches:?}");
    assert!(batches.len() <= 5, "entries were not batched: {batches:?}");
    assert_eq!(
        writer.stats(),
        LogStats {
            written: 251,
            dropped: 0,
            failed: 0
        }
    );
}

#[test]
fn flush_does_not_wait_out_the_linger() {
    let sink = MemorySink::default();
    let linger = Duration::from_secs(60);
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            linger,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(writer.push(entry("f", 0)));
    let started = Instant::now();
    writer.flush().unwrap();
    assert!(
        started.elapsed() < linger / 2,
        "flush waited {:?}",
        started.elapsed()
    );
    assert_eq!(sink.rows.lock().unwrap().len(), 1);
}

#[test]
fn a_backlog_is_written_without_lingering_between_batches() {
    let sink = MemorySink::default();
    let linger = Duration::from_secs(60);
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            linger,
            batch_size: 10,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..35 {
        assert!(writer.push(entry("f", i)));
    }
    // The flush cuts the first linger short; the 35 entries then go out as 4 batches,
    // with no linger between them.
    let started = Instant::now();
    writer.flush().unwrap();
    assert!(
        started.elapsed() < linger / 2,
        "flush waited {:?}",
        started.elapsed()
    );
    assert_eq!(sink.rows.lock().unwrap().len(), 35);
    assert_eq!(*sink.batches.lock().unwrap(), vec![10, 10, 10, 5]);
}

#[test]
fn linger_gathers_a_burst_into_one_batch() {
    let sink = MemorySink::default();
    // A linger far longer than pushing 100 entries takes: they all arrive while the
    // worker sleeps after the first, and go out together.
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            linger: Duration::from_secs(1),
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..100 {
        assert!(writer.push(entry("f", i)));
    }
    writer.flush().unwrap();
    assert_eq!(sink.rows.lock().unwrap().len(), 100);
    let batches = sink.batches.lock().unwrap();
    // Two at most: a push delayed past the whole linger would start a second batch.
    assert!(batches.len() <= 2, "entries were not gathered: {batches:?}");
}

/// A writer that lingers 10 ms, counts a batch as sparse from 8 entries and as dense at 4
/// entries per function, and lets a sparse batch gather for up to `max_linger`.
fn gathering_writer(sink: &MemorySink, max_linger: Duration) -> LogWriter {
    LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            linger: Duration::from_millis(10),
            max_linger,
            dense_per_function: 4,
            sparse_min: 8,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Waits (bounded) until the sink has `rows` rows.
fn wait_for_rows(sink: &MemorySink, rows: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.rows.lock().unwrap().len() < rows {
        assert!(Instant::now() < deadline, "entries were never written");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_sparse_batch_gathers_until_it_is_dense() {
    let sink = MemorySink::default();
    let writer = gathering_writer(&sink, Duration::from_secs(60));
    // 8 functions, one entry each: sparse (8 < 8 x 4), so it waits well past the linger.
    for f in 0..8 {
        assert!(writer.push(entry(&format!("f{f}"), 0)));
    }
    thread::sleep(Duration::from_millis(200));
    assert!(
        sink.batches.lock().unwrap().is_empty(),
        "a sparse batch was written after the linger"
    );
    // Three more each: 32 entries over 8 functions is dense, and goes out without a flush.
    for i in 1..4 {
        for f in 0..8 {
            assert!(writer.push(entry(&format!("f{f}"), i)));
        }
    }
    wait_for_rows(&sink, 32);
    assert_eq!(*sink.batches.lock().unwrap(), vec![32]);
}

#[test]
fn a_sparse_batch_waits_at_most_the_max_linger() {
    let sink = MemorySink::default();
    let max_linger = Duration::from_millis(300);
    let writer = gathering_writer(&sink, max_linger);
    let started = Instant::now();
    for f in 0..8 {
        assert!(writer.push(entry(&format!("f{f}"), 0)));
    }
    wait_for_rows(&sink, 8);
    assert!(
        started.elapsed() >= max_linger,
        "written after {:?}, before the batch was dense or the max linger was over",
        started.elapsed()
    );
    assert_eq!(*sink.batches.lock().unwrap(), vec![8]);
}

#[test]
fn a_small_batch_does_not_gather_past_the_linger() {
    let sink = MemorySink::default();
    let writer = gathering_writer(&sink, Duration::from_secs(60));
    let started = Instant::now();
    // Spread over 3 functions, but below `sparse_min`: written after the 10 ms linger.
    for f in 0..3 {
        assert!(writer.push(entry(&format!("f{f}"), 0)));
    }
    wait_for_rows(&sink, 3);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a small batch waited {:?}",
        started.elapsed()
    );
}

#[test]
fn a_flush_cuts_a_sparse_batch_short() {
    let sink = MemorySink::default();
    let writer = gathering_writer(&sink, Duration::from_secs(60));
    for f in 0..16 {
        assert!(writer.push(entry(&format!("f{f}"), 0)));
    }
    let started = Instant::now();
    writer.flush().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "flush waited {:?}",
        started.elapsed()
    );
    assert_eq!(sink.rows.lock().unwrap().len(), 16);
}

#[test]
fn full_queue_drops_and_counts() {
    let gate = Arc::new(Mutex::new(()));
    let sink = MemorySink {
        gate: Some(Arc::clone(&gate)),
        ..MemorySink::default()
    };
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            queue_capacity: 4,
            batch_size: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let held = gate.lock().unwrap();
    let accepted = (0..100).filter(|i| writer.push(entry("f", *i))).count();
    drop(held);
    writer.flush().unwrap();
    // At most the queue plus the one entry the worker holds can be accepted while blocked.
    assert!(accepted <= 4 + 2, "accepted {accepted}");
    let stats = writer.stats();
    assert_eq!(stats.dropped, 100 - accepted as u64);
    assert_eq!(stats.written, accepted as u64);
    assert_eq!(sink.rows.lock().unwrap().len(), accepted);
}

#[test]
fn unwritten_entries_are_bounded_by_bytes_and_freed_once_written() {
    let gate = Arc::new(Mutex::new(()));
    let sink = MemorySink {
        gate: Some(Arc::clone(&gate)),
        ..MemorySink::default()
    };
    let long = |i: usize| LogEntry::new("f", LogLevel::Info, format!("{i:04}{}", "x".repeat(1020)));
    let budget = 10 * entry_bytes(&long(0));
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            queue_capacity: 1000,
            pending_bytes: budget,
            ..Default::default()
        },
    )
    .unwrap();
    // While the sink is held, entries taken into a batch still count: ten fit, whatever
    // the queue's capacity.
    let held = gate.lock().unwrap();
    let accepted = (0..100).filter(|i| writer.push(long(*i))).count();
    assert_eq!(accepted, 10);
    assert_eq!(writer.stats().dropped, 90);
    drop(held);
    writer.flush().unwrap();
    assert_eq!(sink.rows.lock().unwrap().len(), 10);
    // Written entries give their bytes back.
    assert_eq!(writer.counters.pending_bytes.load(Ordering::Relaxed), 0);
    assert_eq!((100..110).filter(|i| writer.push(long(*i))).count(), 10);
    writer.flush().unwrap();
    assert_eq!(writer.stats().written, 20);
    // One entry larger than the whole budget is still taken when nothing is pending.
    let tiny = LogWriter::spawn(
        MemorySink::default(),
        LogWriterConfig {
            pending_bytes: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(tiny.push(long(0)));
    tiny.flush().unwrap();
    assert_eq!(tiny.stats().written, 1);
}

#[test]
fn retention_is_enforced_per_function() {
    let sink = MemorySink::default();
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            retention: 10,
            batch_size: 7,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..95 {
        writer.push(entry("a", i));
    }
    for i in 0..3 {
        writer.push(entry("b", i));
    }
    writer.flush().unwrap();
    let rows = sink.rows.lock().unwrap();
    let a: Vec<&str> = rows
        .iter()
        .filter(|e| e.function_id == "a")
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(a.len(), 10);
    assert_eq!(a.first(), Some(&"entry 85"));
    assert_eq!(a.last(), Some(&"entry 94"));
    assert_eq!(rows.iter().filter(|e| e.function_id == "b").count(), 3);
}

/// Between trims a function holds at most a quarter more than its retention (trims are
/// batched: each costs reads of the function's oldest pages), and exactly its retention
/// after a flush.
#[test]
fn stored_entries_stay_within_a_quarter_over_retention_between_trims() {
    let sink = MemorySink::default();
    let writer = LogWriter::spawn(
        sink.clone(),
        LogWriterConfig {
            retention: 100,
            batch_size: 3,
            ..Default::default()
        },
    )
    .unwrap();
    for i in 0..1000 {
        while !writer.push(entry("a", i)) {
            std::thread::yield_now();
        }
    }
    writer.flush().unwrap();
    let peak = sink.peak.load(Ordering::SeqCst);
    assert!(
        peak <= 125,
        "{peak} rows stored between trims, retention 100"
    );
    // Batches of at most 3: at least 23 entries gather before the trim that takes the
    // function past 25 new ones.
    assert!(
        peak >= 122,
        "trimmed before a quarter of the retention (peak {peak})"
    );
    let rows = sink.rows.lock().unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows.first().unwrap().message, "entry 900");
}

#[test]
fn sink_failure_is_reported_by_flush_and_counted() {
    let sink = MemorySink::default();
    let writer = LogWriter::spawn(sink.clone(), LogWriterConfig::default()).unwrap();
    sink.fail.store(true, Ordering::SeqCst);
    writer.push(entry("f", 0));
    let err = writer.flush().unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
    assert_eq!(writer.stats().failed, 1);
    sink.fail.store(false, Ordering::SeqCst);
    writer.push(entry("f", 1));
    writer.flush().unwrap();
    assert_eq!(sink.rows.lock().unwrap().len(), 1);
}

#[test]
fn queued_entries_are_written_when_the_last_handle_drops() {
    let sink = MemorySink::default();
    let writer = LogWriter::spawn(sink.clone(), LogWriterConfig::default()).unwrap();
    for i in 0..20 {
        writer.clone().push(entry("f", i));
    }
    drop(writer);
    // No handle is left to flush with: wait for the thread to drain (bounded, so a
    // regression fails instead of hanging).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sink.rows.lock().unwrap().len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "queued entries were lost on drop"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(sink.rows.lock().unwrap().len(), 20);
}

#[test]
fn long_messages_are_truncated_on_a_char_boundary() {
    let mut m = "é".repeat(10); // 20 bytes
    truncate_message(&mut m, 8);
    assert!(m.len() <= 8, "{m}");
    assert!(m.ends_with('…'));
    assert_eq!(m, "éé…");
    let mut short = "ok".to_string();
    truncate_message(&mut short, 8);
    assert_eq!(short, "ok");
}
