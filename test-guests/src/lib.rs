//! Paths of the guest components built for tests and benchmarks.
//!
//! The build script (`build/main.rs`) compiles every guest and generates one constant per guest:
//! `pub const NAME: &str` holding the absolute path of its component (`rpc-basic` becomes
//! [`RPC_BASIC`]-style names: dashes to underscores, upper case), and [`ALL`] listing them all.
//! Guests come from the `examples/` workspace, from `examples/*/build.sh`, and from the
//! test-only workspace in `test-guests/components/` (see its README).
//!
//! Building needs a WebAssembly toolchain: `rustup target add wasm32-wasip2`, or offline on
//! Debian 12 the packages `scripts/setup.sh` installs.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
