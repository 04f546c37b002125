//! The host's integration tests: ONE test binary (`cargo nextest run -p fdo --test all`), so
//! wasmtime and the host are linked once instead of once per file (wasmtime's `tests/all`
//! layout).
//!
//! Adding tests:
//! - a new area: a file `host/tests/all/NAME.rs` starting with a `//!` line saying what it
//!   covers, and `mod NAME;` below (kept in alphabetical order). Do not add files directly under
//!   `host/tests/`: each would be a binary of its own that links everything again.
//! - shared helpers go in `support/` (the one helpers module): `support::server::TestServer`
//!   (the real server on a port, in process), `support::process::HostProcess` (the real `fdo`
//!   binary), `support::Core` (engine + runtime + loader), `support::fake_digitalocean`, the WAT
//!   hostile guests. Use them with `use crate::support::...`. Built guests come from the
//!   `test-guests` crate (`test_guests::RPC_BASIC`, ...); do not build guests another way.
//! - golden files live in `host/tests/golden/NAME.json` (`support::server::golden`);
//!   `FDO_BLESS=1` rewrites them.
//! - nextest runs every test in its own process, in parallel; `cargo test` runs them as threads
//!   of one process, so a test must not change process-wide state (environment variables, the
//!   current directory): pass them to child processes instead.
//! - filter with nextest's expressions, e.g. `cargo nextest run -p fdo -E 'test(/^api::/)'`
//!   for one module, or `cargo test -p fdo --test all api::` without nextest.

mod access;
mod api;
mod api_dispatch;
mod authoring;
mod cli;
mod commands;
mod console;
mod examples;
mod fake_digitalocean_contract;
mod hostile_guests;
mod loader_tiers;
mod many_hosts;
mod observability;
mod polyglot;
mod sdk_std;
mod support;
mod typed_exports;
