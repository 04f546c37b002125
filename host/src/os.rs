//! Operating-system tweaks, in one place: each is best effort (the host runs the same without
//! it) and says what it buys.

/// Asks the scheduler (Linux 6.12+, EEVDF) for 100 us time slices for the calling thread
/// instead of the default ~3 ms. The writer keeps its fair share of the CPU, but a batch
/// (milliseconds of SQLite work under load) no longer holds a core for its
/// whole length when a request thread wakes: p99 at one connection went from ~1.1 ms to
/// ~0.6 ms (benches/RESULTS.md). Best effort: older kernels and other systems keep the default.
pub fn short_time_slice() {
    #[cfg(target_os = "linux")]
    {
        /// `struct sched_attr` (SCHED_ATTR_SIZE_VER1).
        #[repr(C)]
        struct SchedAttr {
            size: u32,
            policy: u32,
            flags: u64,
            nice: i32,
            priority: u32,
            runtime: u64,
            deadline: u64,
            period: u64,
            util_min: u32,
            util_max: u32,
        }
        const SLICE_NS: u64 = 100_000;
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: libc::SCHED_OTHER as u32,
            flags: 0,
            nice: 0,
            priority: 0,
            runtime: SLICE_NS,
            deadline: 0,
            period: 0,
            util_min: 0,
            util_max: 0,
        };
        #[allow(unsafe_code)]
        // SAFETY: `attr` is a valid, fully initialized `sched_attr` that outlives the call;
        // pid 0 is the calling thread; the kernel only reads `size` bytes of it.
        let rc =
            unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0u32) };
        if rc != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "log writer keeps the default time slice"
            );
        }
    }
}
