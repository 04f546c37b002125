//! Shared by the criterion benches: a measurement of the CPU time the benchmarking thread
//! itself consumed.
//!
//! Wall time on a shared 2-core machine counts every moment the thread waited for a core
//! while other processes ran; `CLOCK_THREAD_CPUTIME_ID` counts only the nanoseconds it ran
//! (user and kernel, so the `madvise` and page faults of instance recycling are in).
//! Benches that do all their work on the calling thread (a current-thread tokio runtime) use
//! it to stay comparable when the machine is busy.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// CPU time of the calling thread, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
pub struct ThreadCpuTime;

/// The calling thread's on-CPU nanoseconds so far.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, started: u64) -> u64 {
        thread_cpu_ns().saturating_sub(started)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, like wall time: reuse its formatting.
        const WALL: &WallTime = &WallTime;
        WALL.formatter()
    }
}
