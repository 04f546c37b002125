//! `sdk-std`: an `fdo-sdk` function that uses what Rust's `std` reaches through WASI preview1
//! calls on `wasm32-wasip2` (environment, arguments, standard output and error, clocks, sleep,
//! random bytes, exit). `fdo-sdk` answers those calls itself, so this component needs no
//! preview1 adapter; the host tests check both that and that each call still works.
//!
//! | method    | params        | result                                                      |
//! |-----------|---------------|-------------------------------------------------------------|
//! | `env`     | `[name]`      | `std::env::var(name)`, or `null`                            |
//! | `args`    | `[]`          | `std::env::args()`                                          |
//! | `print`   | `[text]`      | `println!(text)` and `eprintln!(text)`; `null`              |
//! | `clocks`  | `[]`          | `{"unixMs": SystemTime::now(), "monotonicNs": ...}`         |
//! | `sleep`   | `[ms]`        | sleeps with `thread::sleep`, returns the elapsed ms (`Instant`) |
//! | `entropy` | `[len]`       | `len` bytes from wasi-libc's `getentropy`, as numbers       |
//! | `exit`    | `[code]`      | `std::process::exit(code)`                                  |

#![allow(unsafe_code)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fdo_sdk::serde_json::{Value, json};

/// The longest `sleep` accepted.
const MAX_SLEEP_MS: u64 = 10_000;

unsafe extern "C" {
    /// wasi-libc's `getentropy` (reads preview1 `random_get`).
    fn getentropy(buf: *mut u8, len: usize) -> i32;
}

/// The component's methods.
struct SdkStd;

#[fdo_sdk::functions]
impl SdkStd {
    /// The variable's value, or `None`.
    pub fn env(name: String) -> Option<String> {
        std::env::var(name).ok()
    }

    /// The arguments.
    pub fn args() -> Vec<String> {
        std::env::args().collect()
    }

    /// Writes `text` to standard output and to standard error.
    pub fn print(text: String) {
        println!("{text}");
        eprintln!("{text}");
    }

    /// The wall clock (ms since the epoch) and the monotonic clock's reading of a short span.
    pub fn clocks() -> Value {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let started = Instant::now();
        let mut spin = 0u64;
        for i in 0..10_000u64 {
            spin = spin.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(spin);
        json!({"unixMs": unix_ms, "monotonicNs": started.elapsed().as_nanos() as u64})
    }

    /// Sleeps `ms` milliseconds and returns how long it took, in ms.
    pub fn sleep(ms: u64) -> Result<u64, String> {
        if ms > MAX_SLEEP_MS {
            return Err(format!("at most {MAX_SLEEP_MS} ms"));
        }
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(ms));
        Ok(started.elapsed().as_millis() as u64)
    }

    /// `len` random bytes (at most 256, `getentropy`'s limit).
    pub fn entropy(len: usize) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; len];
        // SAFETY: `buf` has `len` writable bytes.
        let rc = unsafe { getentropy(buf.as_mut_ptr(), len) };
        if rc != 0 {
            return Err(format!("getentropy failed ({rc})"));
        }
        Ok(buf)
    }

    /// Ends the instance with `code`.
    pub fn exit(code: i32) {
        std::process::exit(code)
    }
}
