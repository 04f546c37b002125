//! `sdk-std`: an `fdo-sdk` function that uses what Rust's `std` reaches through WASI preview1
//! calls on `wasm32-wasip2` in nearly every function (environment, standard output and error,
//! clocks, exit). `fdo-sdk` answers those calls itself, so this component needs no preview1
//! adapter; the host tests check both that and that each call still works.
//!
//! | method    | params        | result                                                      |
//! |-----------|---------------|-------------------------------------------------------------|
//! | `env`     | `[name]`      | `std::env::var(name)`, or `null`                            |
//! | `print`   | `[text]`      | `println!(text)` and `eprintln!(text)`; `null`              |
//! | `clocks`  | `[]`          | `{"unixMs": SystemTime::now(), "monotonicNs": ...}`         |
//! | `yield`   | `[]`          | `std::thread::yield_now()`; `null`                          |
//! | `exit`    | `[code]`      | `std::process::exit(code)`                                  |
//! | `panic`   | `[text]`      | `panic!("{text}")`: a trap whose message went to stderr     |

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use fdo_sdk::serde_json::{Value, json};

/// The component's methods.
struct SdkStd;

#[fdo_sdk::functions]
impl SdkStd {
    /// The variable's value, or `None`.
    pub fn env(name: String) -> Option<String> {
        std::env::var(name).ok()
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
        for i in 0..100_000u64 {
            spin = spin.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(spin);
        json!({"unixMs": unix_ms, "monotonicNs": started.elapsed().as_nanos() as u64})
    }

    /// Yields the thread (nothing to yield to: returns at once).
    #[rpc(name = "yield")]
    pub fn yield_now() {
        std::thread::yield_now();
    }

    /// Ends the instance with `code`.
    pub fn exit(code: i32) {
        std::process::exit(code)
    }

    /// Panics with `text` (the panic hook writes it to standard error, then the call traps).
    pub fn panic(text: String) {
        panic!("{text}")
    }
}
