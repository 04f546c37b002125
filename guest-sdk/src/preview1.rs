//! The WASI preview1 calls every Rust function makes on `wasm32-wasip2`, answered with WASI 0.2
//! imports, so that an fdo function needs no preview1 adapter.
//!
//! On `wasm32-wasip2`, `std` goes through wasi-libc, and wasi-libc still reaches a few things
//! through preview1 functions: the environment (`std::env::var`, and the panic hook's
//! `RUST_BACKTRACE`), writes to standard output and error (`println!`, panic messages), the
//! clocks (`SystemTime::now`, `Instant::now`) and `exit`. A module importing any
//! `wasi_snapshot_preview1` function has to be wrapped with the preview1 adapter when it becomes
//! a component: one more core module, with its own state, that every call instantiates and wires
//! up whether the function ever prints or not (about 31k instructions of the 163k an RPC call of
//! the `hello` example took). wasi-libc calls each preview1 import through a symbol named
//! `__imported_wasi_snapshot_preview1_NAME`; defining those symbols here resolves them at link
//! time, so the module imports only WASI 0.2 and the component is the module alone.
//!
//! Only the calls nearly every function makes are answered, because each one defined here costs
//! every function something: rustc exports `#[no_mangle]` functions from a `cdylib`, so each
//! stays in the module with the WASI 0.2 functions it calls, and every WASI function a component
//! imports is wired up at each instantiation (about 1k instructions per call each; answering
//! `poll_oneoff`, `random_get`, `args_get` and `clock_res_get` as well made every call of `hello`
//! 10 % dearer). A preview1 function not defined here (`poll_oneoff` for `thread::sleep`,
//! `fd_read` on standard input) stays an import of the module, and its component is then built
//! with the adapter, as without the SDK: correct, only slower to instantiate.
//!
//! The host grants no files and no sockets, so the only descriptors written to are standard
//! output (1) and standard error (2). Compiled for `wasm32-wasip2` only; on `wasm32-wasip1`,
//! `std` calls preview1 itself.

#![allow(unsafe_code)]

use wasi::cli::{environment, exit, stderr, stdout};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::io::streams::{OutputStream, StreamError};

/// `errno::success`.
const SUCCESS: i32 = 0;
/// `errno::badf`: not an open descriptor.
const BADF: i32 = 8;
/// `errno::inval`: an unknown clock.
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
/// environment of a call does not change between the two calls).
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

/// `sched_yield()`: nothing to yield to inside an instance.
#[unsafe(no_mangle)]
extern "C" fn __imported_wasi_snapshot_preview1_sched_yield() -> i32 {
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
