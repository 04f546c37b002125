//! Building fdo's guest components: the logic `fdo build` runs for users and the `test-guests`
//! build script runs for fdo's own tests, so both build guests the same way.
//!
//! - [`toolchain`] finds a compiler for Rust guests (rustup's `wasm32-wasip2` target, or the
//!   offline recipe: Debian's Rust building `std`, `wasm-ld`, wasi-libc) and runs its cargo in
//!   an environment of its own; when none is there it says what is missing and what installs it.
//! - [`rust`] builds the `cdylib` crates of a Cargo workspace (or one package) and turns each
//!   into a component ([`wasm`] adds the WASI preview1 adapter only when a module needs it).
//! - [`script`] runs any other build (`build.sh`, `componentize-py`, `node ...`) that writes a
//!   component to a path, and caches its output by a digest of the sources.
//! - [`cache`] is where builds keep what outlives them: one cargo target directory per user for
//!   every guest workspace (so `std`, which the offline recipe compiles, is built once for every
//!   project and for the tests alike), and the cached outputs of script builds.

pub mod cache;
pub mod rust;
pub mod script;
pub mod toolchain;
pub mod wasm;

pub use cache::{BuildLock, cache_dir, guest_target_dir, script_cache_dir};
pub use toolchain::Toolchain;

/// Where a child build's standard output goes: the parent's standard error. Build tools print
/// progress there; a parent whose standard output is reserved (a build script's `cargo:`
/// lines, `fdo build --json`) keeps it clean.
pub fn stdout_to_stderr() -> std::process::Stdio {
    use std::os::fd::AsFd as _;
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => std::process::Stdio::from(fd),
        Err(_) => std::process::Stdio::null(),
    }
}
