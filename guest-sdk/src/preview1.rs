//! The WASI preview1 calls Rust's `std` makes on `wasm32-wasip2`, answered with WASI 0.2 imports,
//! so that an fdo function needs no preview1 adapter.
//!
//! On `wasm32-wasip2`, `std` goes through wasi-libc, and wasi-libc still reaches a few things
//! through preview1 functions: the environment (`std::env::var`, and the panic hook's
//! `RUST_BACKTRACE`), writes to standard output and error (`println!`, panic messages) and
//! `exit`. A module importing any `wasi_snapshot_preview1` function has to be wrapped with the
//! preview1 adapter when it becomes a component: a second core module with its own state that
//! every call instantiates and wires up, whether the function ever prints or not. wasi-libc
//! calls each preview1 import through a symbol named `__imported_wasi_snapshot_preview1_NAME`;
//! defining those symbols here resolves them at link time, so the module imports only WASI 0.2
//! and the component is the module alone (the host instantiates about a third fewer core
//! instances per call).
//!
//! Only what a function can use in fdo is implemented: the host grants no files and no
//! sockets, so the only descriptors are standard input (0, empty), output (1) and error (2). A
//! preview1 function not defined here (`fd_read` on standard input, say) stays an import, and
//! the component is then built with the adapter as before: correct, only slower to instantiate.
//!
//! Compiled for `wasm32-wasip2` only; on `wasm32-wasip1` `std` calls preview1 itself.

#![allow(unsafe_code)]

use wasi::cli::{environment, exit, stderr, stdin, stdout};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::io::poll::Pollable;
use wasi::io::streams::{OutputStream, StreamError};

/// `errno::success`.
const SUCCESS: i32 = 0;
/// `errno::badf`: not an open descriptor.
const BADF: i32 = 8;
/// `errno::inval`: an argument out of range (no subscriptions, an unknown clock or event).
const INVAL: i32 = 28;
/// `errno::notsup`: a clock fdo does not have (process and thread CPU time).
const NOTSUP: i32 = 58;
/// `errno::overflow`: the environment does not fit the address space.
const OVERFLOW: i32 = 61;
/// `errno::io`: the stream failed.
const IO: i32 = 29;
/// `errno::pipe`: the stream is closed.
const PIPE: i32 = 64;

/// The most `blocking-write-and-flush` takes at once.
const MAX_WRITE: usize = 4096;

/// A preview1 `ciovec`: a buffer to write.
#[repr(C)]
struct Ciovec {
    buf: *const u8,
    len: usize,
}

/// The environment as preview1 lists it: `NAME=value` strings.
fn environ() -> Vec<[String; 2]> {
    environment::get_environment()
        .into_iter()
        .map(|(name, value)| [name, format!("={value}")])
        .collect()
}

/// The arguments as preview1 lists them.
fn args() -> Vec<[String; 2]> {
    environment::get_arguments()
        .into_iter()
        .map(|arg| [arg, String::new()])
        .collect()
}

/// `*_sizes_get(count, buf_size)` of a list of strings (each the concatenation of its parts):
/// how many, and the bytes they take with a NUL after each.
///
/// # Safety
/// `count` and `buf_size` are valid, aligned out-pointers.
unsafe fn sizes_get(list: &[[String; 2]], count: *mut usize, buf_size: *mut usize) -> i32 {
    let mut size = 0usize;
    for [a, b] in list {
        match size.checked_add(a.len() + b.len() + 1) {
            Some(s) => size = s,
            None => return OVERFLOW,
        }
    }
    // SAFETY: the caller passes valid out-pointers.
    unsafe {
        count.write(list.len());
        buf_size.write(size);
    }
    SUCCESS
}

/// `*_get(pointers, buf)` of a list of strings: writes each string and a NUL into `buf` and a
/// pointer to it into `pointers`.
///
/// # Safety
/// `pointers` holds `list.len()` pointers and `buf` the bytes [`sizes_get`] counted (the
/// environment and arguments of a call do not change between the two calls).
unsafe fn list_get(list: &[[String; 2]], pointers: *mut *mut u8, buf: *mut u8) -> i32 {
    let mut at = buf;
    for (i, parts) in list.iter().enumerate() {
        // SAFETY: the buffers were sized by `sizes_get` for this same list.
        unsafe {
            pointers.add(i).write(at);
            for part in [parts[0].as_bytes(), parts[1].as_bytes(), b"\0"] {
                std::ptr::copy_nonoverlapping(part.as_ptr(), at, part.len());
                at = at.add(part.len());
            }
        }
    }
    SUCCESS
}

/// `environ_sizes_get(count, buf_size)`: the number of variables and the bytes their
/// `NAME=value\0` strings take.
///
/// # Safety
/// Called by wasi-libc with two valid, aligned out-pointers.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_environ_sizes_get(
    count: *mut usize,
    buf_size: *mut usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { sizes_get(&environ(), count, buf_size) }
}

/// `environ_get(environ, environ_buf)`: writes each `NAME=value\0` into `environ_buf` and a
/// pointer to it into `environ`, sized as `environ_sizes_get` said.
///
/// # Safety
/// Called by wasi-libc with buffers of the sizes `environ_sizes_get` answered.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_environ_get(
    environ_ptrs: *mut *mut u8,
    environ_buf: *mut u8,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { list_get(&environ(), environ_ptrs, environ_buf) }
}

/// `args_sizes_get(count, buf_size)`, like `environ_sizes_get`.
///
/// # Safety
/// Called by wasi-libc with two valid, aligned out-pointers.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_args_sizes_get(
    count: *mut usize,
    buf_size: *mut usize,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { sizes_get(&args(), count, buf_size) }
}

/// `args_get(argv, argv_buf)`, like `environ_get`.
///
/// # Safety
/// Called by wasi-libc with buffers of the sizes `args_sizes_get` answered.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_args_get(
    argv: *mut *mut u8,
    argv_buf: *mut u8,
) -> i32 {
    // SAFETY: forwarded from the caller.
    unsafe { list_get(&args(), argv, argv_buf) }
}

/// `clockid::realtime`.
const CLOCK_REALTIME: u32 = 0;
/// `clockid::monotonic`.
const CLOCK_MONOTONIC: u32 = 1;

/// Nanoseconds since the Unix epoch, saturating.
fn wall_clock_ns() -> u64 {
    let now = wall_clock::now();
    now.seconds
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(now.nanoseconds))
}

/// `clock_time_get(id, precision, time)`: the wall clock or the monotonic clock, in ns.
///
/// # Safety
/// Called by wasi-libc with a valid, aligned out-pointer.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_clock_time_get(
    id: u32,
    _precision: u64,
    time: *mut u64,
) -> i32 {
    let now = match id {
        CLOCK_REALTIME => wall_clock_ns(),
        CLOCK_MONOTONIC => monotonic_clock::now(),
        2 | 3 => return NOTSUP,
        _ => return INVAL,
    };
    // SAFETY: the caller passes a valid out-pointer.
    unsafe { time.write(now) };
    SUCCESS
}

/// `clock_res_get(id, resolution)`: 1 ns for the wall clock (WASI 0.2 reports nanoseconds),
/// the monotonic clock's own resolution.
///
/// # Safety
/// Called by wasi-libc with a valid, aligned out-pointer.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_clock_res_get(
    id: u32,
    resolution: *mut u64,
) -> i32 {
    let res = match id {
        CLOCK_REALTIME => {
            let r = wall_clock::resolution();
            r.seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(u64::from(r.nanoseconds))
        }
        CLOCK_MONOTONIC => monotonic_clock::resolution(),
        2 | 3 => return NOTSUP,
        _ => return INVAL,
    };
    // SAFETY: the caller passes a valid out-pointer.
    unsafe { resolution.write(res) };
    SUCCESS
}

/// `random_get(buf, len)`: `len` bytes from `wasi:random/random`.
///
/// # Safety
/// Called by wasi-libc with `len` writable bytes at `buf`.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_random_get(buf: *mut u8, len: usize) -> i32 {
    let mut at = 0usize;
    while at < len {
        let chunk = (len - at).min(MAX_RANDOM);
        let bytes = wasi::random::random::get_random_bytes(chunk as u64);
        let n = bytes.len().min(len - at);
        // SAFETY: `buf` has `len` writable bytes; `at + n <= len`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.add(at), n) };
        at += n;
        if n == 0 {
            return IO;
        }
    }
    SUCCESS
}

/// The most random bytes asked for at once.
const MAX_RANDOM: usize = 64 * 1024;

/// `sched_yield()`: nothing to yield to inside an instance.
#[unsafe(no_mangle)]
extern "C" fn __imported_wasi_snapshot_preview1_sched_yield() -> i32 {
    SUCCESS
}

/// A preview1 `subscription` (48 bytes): what `poll_oneoff` waits for.
#[repr(C)]
struct Subscription {
    userdata: u64,
    /// `eventtype`: 0 clock, 1 fd_read, 2 fd_write.
    tag: u8,
    /// For a clock: `id: u32` at 0, `timeout: u64` at 8, `precision: u64` at 16, `flags: u16` at
    /// 24. For a descriptor: `fd: u32` at 0.
    payload: [u64; 4],
}

/// A preview1 `event` (32 bytes): what `poll_oneoff` reports.
#[derive(Clone, Copy)]
#[repr(C)]
struct Event {
    userdata: u64,
    error: u16,
    kind: u8,
    /// `fd_readwrite`: `nbytes: u64`, `flags: u16`.
    nbytes: u64,
    flags: u16,
}

/// `subclockflags::subscription_clock_abstime`.
const ABSTIME: u16 = 1;

/// `poll_oneoff(in, out, nsubscriptions, nevents)`: waits on clocks (what `thread::sleep` and
/// `nanosleep` ask for) and on the standard streams, through `wasi:io/poll`.
///
/// # Safety
/// Called by wasi-libc with `nsubscriptions` subscriptions at `in_`, room for as many events at
/// `out` and a valid out-pointer.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_poll_oneoff(
    in_: *const Subscription,
    out: *mut Event,
    nsubscriptions: usize,
    nevents: *mut usize,
) -> i32 {
    if nsubscriptions == 0 {
        return INVAL;
    }
    // SAFETY: the caller passes `nsubscriptions` subscriptions.
    let subscriptions = unsafe { std::slice::from_raw_parts(in_, nsubscriptions) };
    let mut ready: Vec<Event> = Vec::new();
    let mut waiting: Vec<(usize, Pollable)> = Vec::new();
    for (i, sub) in subscriptions.iter().enumerate() {
        let event = |error: i32| Event {
            userdata: sub.userdata,
            error: error as u16,
            kind: sub.tag,
            nbytes: 0,
            flags: 0,
        };
        let pollable = match sub.tag {
            0 => {
                let id = sub.payload[0] as u32;
                let timeout = sub.payload[1];
                let absolute = (sub.payload[3] as u16) & ABSTIME != 0;
                match (id, absolute) {
                    (CLOCK_MONOTONIC, true) => monotonic_clock::subscribe_instant(timeout),
                    (CLOCK_MONOTONIC | CLOCK_REALTIME, false) => {
                        monotonic_clock::subscribe_duration(timeout)
                    }
                    (CLOCK_REALTIME, true) => {
                        monotonic_clock::subscribe_duration(timeout.saturating_sub(wall_clock_ns()))
                    }
                    _ => {
                        ready.push(event(INVAL));
                        continue;
                    }
                }
            }
            1 | 2 => match (sub.tag, sub.payload[0] as u32) {
                (1, 0) => stdin::get_stdin().subscribe(),
                (2, 1) => stdout::get_stdout().subscribe(),
                (2, 2) => stderr::get_stderr().subscribe(),
                _ => {
                    ready.push(event(BADF));
                    continue;
                }
            },
            _ => return INVAL,
        };
        waiting.push((i, pollable));
    }
    if ready.is_empty() {
        let pollables: Vec<&Pollable> = waiting.iter().map(|(_, p)| p).collect();
        for index in wasi::io::poll::poll(&pollables) {
            let (i, _) = &waiting[index as usize];
            let sub = &subscriptions[*i];
            ready.push(Event {
                userdata: sub.userdata,
                error: SUCCESS as u16,
                kind: sub.tag,
                // A ready stream takes or gives at least a byte; that is all preview1 promises.
                nbytes: u64::from(sub.tag != 0),
                flags: 0,
            });
        }
    }
    // SAFETY: the caller has room for `nsubscriptions` events; there is at most one per
    // subscription.
    unsafe {
        for (i, event) in ready.iter().enumerate() {
            out.add(i).write(*event);
        }
        nevents.write(ready.len());
    }
    SUCCESS
}

/// `fd_write(fd, iovs, iovs_len, nwritten)`: standard output and error only.
///
/// # Safety
/// Called by wasi-libc with `iovs_len` valid `ciovec`s at `iovs` and a valid out-pointer.
#[unsafe(no_mangle)]
unsafe extern "C" fn __imported_wasi_snapshot_preview1_fd_write(
    fd: i32,
    iovs: *const Ciovec,
    iovs_len: usize,
    nwritten: *mut usize,
) -> i32 {
    let stream: OutputStream = match fd {
        1 => stdout::get_stdout(),
        2 => stderr::get_stderr(),
        _ => return BADF,
    };
    let mut written = 0usize;
    'iovs: for i in 0..iovs_len {
        // SAFETY: the caller passes `iovs_len` valid iovecs, each naming readable memory.
        let bytes = unsafe {
            let iov = &*iovs.add(i);
            if iov.len == 0 {
                continue;
            }
            std::slice::from_raw_parts(iov.buf, iov.len)
        };
        for chunk in bytes.chunks(MAX_WRITE) {
            match stream.blocking_write_and_flush(chunk) {
                Ok(()) => written += chunk.len(),
                Err(StreamError::Closed) if written == 0 => return PIPE,
                Err(StreamError::LastOperationFailed(_)) if written == 0 => return IO,
                // Part went out: report that much, as a short write.
                Err(_) => break 'iovs,
            }
        }
    }
    // SAFETY: the caller passes a valid out-pointer.
    unsafe { nwritten.write(written) };
    SUCCESS
}

/// `proc_exit(code)`: ends the call (`exit(0)` as success, anything else as failure).
#[unsafe(no_mangle)]
extern "C" fn __imported_wasi_snapshot_preview1_proc_exit(code: i32) -> ! {
    exit::exit(if code == 0 { Ok(()) } else { Err(()) });
    // `exit` does not return; if a host let it, trap rather than run on.
    core::arch::wasm32::unreachable()
}
