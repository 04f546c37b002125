//! Finding a toolchain that compiles Rust guests to WebAssembly, and running its cargo with an
//! environment of its own.
//!
//! Two toolchains are supported, tried in this order:
//! 1. **wasip2**: the toolchain building the host (rustup's, usually) when its sysroot has the
//!    `wasm32-wasip2` target (`rustup target add wasm32-wasip2`). It produces components directly.
//! 2. **offline**: Debian's Rust (`rustc-web`, `cargo-web`, `rust-web-src`) building `std` itself
//!    for `wasm32-wasip2`, linked by LLVM 19's `wasm-ld` (`lld-19`) against wasi-libc's
//!    `wasm32-wasip2` build (Debian 13's `wasi-libc`, or the copy `scripts/setup.sh` puts in
//!    `/usr/local/lib/wasm32-wasip2` on Debian 12). [`crate::wasm`] turns the core modules into
//!    components (with the preview1 adapter only when a module still imports preview1).
//!
//! `FDO_GUEST_TOOLCHAIN=wasip2|offline` forces one of them.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Environment variable that forces a toolchain (`wasip2` or `offline`).
pub const TOOLCHAIN_OVERRIDE_VAR: &str = "FDO_GUEST_TOOLCHAIN";

/// Where Debian's `rustc-web` / `cargo-web` put their binaries.
const DEBIAN_BIN_DIR: &str = "/usr/bin";

/// Where Debian's `rust-web-src` puts the standard library sources `-Zbuild-std` compiles.
const DEBIAN_STD_SOURCES: &str = "/usr/lib/rustlib/src/rust/library";

/// Where wasi-libc's `wasm32-wasip2` build (the C library `std` links against) is looked for:
/// Debian 13's `wasi-libc` package, then the copy `scripts/setup.sh` extracts on Debian 12
/// (whose own `wasi-libc` only has `wasm32-wasi`). `FDO_WASI_LIBC_DIR` names another.
const WASI_LIBC_DIRS: &[&str] = &["/usr/lib/wasm32-wasip2", "/usr/local/lib/wasm32-wasip2"];

/// Environment variable naming a directory with wasi-libc's `wasm32-wasip2` `libc.a`.
pub const WASI_LIBC_VAR: &str = "FDO_WASI_LIBC_DIR";

/// The oldest LLVM whose `wasm-ld` links wasi-libc's `wasm32-wasip2` build (it defines
/// `__heap_end`, which Debian 12's default `wasm-ld`, LLVM 14, does not).
const MIN_LLVM: u32 = 16;

/// Variables the outer cargo (or the user's shell) may set that must not leak into the nested
/// guest build: they name the host's compiler, flags, target directory and profile.
const SCRUBBED_EXACT: &[&str] = &[
    "CARGO",
    "RUSTC",
    "RUSTDOC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTUP_TOOLCHAIN",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "NUM_JOBS",
    "OPT_LEVEL",
    "PROFILE",
    "DEBUG",
];

/// Prefixes of variables scrubbed the same way (`CARGO_*` minus [`KEPT_CARGO_PREFIXES`]).
const SCRUBBED_PREFIXES: &[&str] = &["CARGO_", "__CARGO", "RUSTC_", "RUSTDOC_", "DEP_"];

/// `CARGO_*` variables the nested build keeps: where the registry lives and how to reach it,
/// and the outer build's jobserver (`CARGO_MAKEFLAGS`), so guests compile within the job
/// slots the outer build grants instead of starting a second full set of jobs beside it.
const KEPT_CARGO_PREFIXES: &[&str] = &[
    "CARGO_HOME",
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_MAKEFLAGS",
];

/// Profile settings for every guest, passed as `CARGO_PROFILE_RELEASE_*`: fast code (as
/// `examples/Cargo.toml` says), no debug info, proc-macros and build scripts unoptimised (they only run once, at build time). Every
/// guest workspace gets the same ones, so they share one build of `std`.
const GUEST_PROFILE: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "false"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_RELEASE_BUILD_OVERRIDE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_BUILD_OVERRIDE_DEBUG", "false"),
];

/// A toolchain able to build Rust guests.
#[derive(Debug, Clone)]
pub enum Toolchain {
    /// A rustup-style sysroot with the `wasm32-wasip2` target installed.
    Wasip2 {
        /// The sysroot's `cargo`.
        cargo: PathBuf,
        /// The sysroot's `rustc`.
        rustc: PathBuf,
    },
    /// Debian's Rust building `std` for `wasm32-wasip2`, componentized afterwards.
    Offline {
        /// Debian's `cargo`.
        cargo: PathBuf,
        /// Debian's `rustc`.
        rustc: PathBuf,
        /// `wasm-ld` from `lld-N`, N >= [`MIN_LLVM`].
        linker: PathBuf,
        /// The directory holding wasi-libc's `wasm32-wasip2` `libc.a`.
        libc: PathBuf,
    },
}

impl Toolchain {
    /// Finds a toolchain, or explains what to install.
    pub fn detect() -> Result<Self> {
        let forced = env::var(TOOLCHAIN_OVERRIDE_VAR)
            .ok()
            .filter(|v| !v.is_empty());
        match forced.as_deref() {
            Some("wasip2") => return Self::wasip2().map_err(missing_toolchain),
            Some("offline") => return Self::offline().map_err(missing_toolchain),
            Some(other) => {
                bail!("{TOOLCHAIN_OVERRIDE_VAR}={other:?}: expected `wasip2` or `offline`")
            }
            None => {}
        }
        let wasip2 = match Self::wasip2() {
            Ok(toolchain) => return Ok(toolchain),
            Err(e) => e,
        };
        Self::offline().map_err(|offline| {
            missing_toolchain(anyhow::anyhow!(
                "wasm32-wasip2: {wasip2:#}\n  offline: {offline:#}"
            ))
        })
    }

    /// The host's toolchain, when its sysroot has `wasm32-wasip2`.
    fn wasip2() -> Result<Self> {
        let outer_rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let output = Command::new(&outer_rustc)
            .args(["--print", "sysroot"])
            .output()
            .with_context(|| {
                format!(
                    "running `{} --print sysroot`",
                    Path::new(&outer_rustc).display()
                )
            })?;
        if !output.status.success() {
            bail!("`rustc --print sysroot` failed");
        }
        let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let target = sysroot.join("lib/rustlib/wasm32-wasip2");
        if !target.is_dir() {
            bail!("target not installed in {}", sysroot.display());
        }
        let cargo = sysroot.join("bin/cargo");
        let rustc = sysroot.join("bin/rustc");
        for tool in [&cargo, &rustc] {
            if !tool.is_file() {
                bail!("{} not found", tool.display());
            }
        }
        Ok(Toolchain::Wasip2 { cargo, rustc })
    }

    /// Debian's Rust, `wasm-ld` and wasi-libc, as `scripts/setup.sh` installs them.
    fn offline() -> Result<Self> {
        let bin = Path::new(DEBIAN_BIN_DIR);
        let cargo = bin.join("cargo");
        let rustc = bin.join("rustc");
        let mut missing: Vec<String> = [
            (cargo.as_path(), "cargo-web"),
            (rustc.as_path(), "rustc-web"),
            (Path::new(DEBIAN_STD_SOURCES), "rust-web-src"),
        ]
        .iter()
        .filter(|(path, _)| !path.exists())
        .map(|(path, package)| format!("{} (Debian package {package})", path.display()))
        .collect();
        let linker = find_wasm_ld();
        if linker.is_none() {
            missing.push(format!(
                "wasm-ld of LLVM {MIN_LLVM} or newer in /usr/lib/llvm-N/bin (Debian package lld-19)"
            ));
        }
        let libc = find_wasi_libc();
        if libc.is_none() {
            missing.push(format!(
                "wasi-libc for wasm32-wasip2 (libc.a) in {} or ${WASI_LIBC_VAR} (scripts/setup.sh \
                 installs it)",
                WASI_LIBC_DIRS.join(" or ")
            ));
        }
        match (linker, libc) {
            (Some(linker), Some(libc)) if missing.is_empty() => Ok(Toolchain::Offline {
                cargo,
                rustc,
                linker,
                libc,
            }),
            _ => bail!("missing {}", missing.join(", ")),
        }
    }

    /// The target triple guests are compiled for.
    pub fn target(&self) -> &'static str {
        match self {
            Toolchain::Wasip2 { .. } => "wasm32-wasip2",
            Toolchain::Offline { .. } => "wasm32-wasip2",
        }
    }

    /// The `cargo` this toolchain runs.
    pub fn cargo_path(&self) -> &Path {
        match self {
            Toolchain::Wasip2 { cargo, .. } | Toolchain::Offline { cargo, .. } => cargo,
        }
    }

    /// One-line description for the build log.
    pub fn describe(&self) -> String {
        match self {
            Toolchain::Wasip2 { cargo, .. } => format!("wasm32-wasip2 with {}", cargo.display()),
            Toolchain::Offline { cargo, .. } => {
                format!("offline wasm32-wasip2 + build-std with {}", cargo.display())
            }
        }
    }

    /// A `cargo` command with a scrubbed environment, set up for this toolchain, building into
    /// `target_dir`. `args` follow the subcommand; build commands get the target and build-std
    /// flags from [`Toolchain::build_args`].
    pub fn cargo(&self, target_dir: &Path) -> Command {
        let (cargo, rustc) = match self {
            Toolchain::Wasip2 { cargo, rustc } | Toolchain::Offline { cargo, rustc, .. } => {
                (cargo, rustc)
            }
        };
        let mut command = Command::new(cargo);
        scrub_env(&mut command);
        command
            .env("RUSTC", rustc)
            .env("CARGO_TARGET_DIR", target_dir);
        command.env("CARGO_TERM_PROGRESS_WHEN", "never");
        for (key, value) in GUEST_PROFILE {
            command.env(key, value);
        }
        if let Toolchain::Offline { linker, libc, .. } = self {
            let mut path = OsString::from(DEBIAN_BIN_DIR);
            if let Some(old) = env::var_os("PATH") {
                path.push(":");
                path.push(old);
            }
            command
                .env("PATH", path)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_WASIP2_LINKER", linker)
                .env(
                    "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
                    format!("-C link-self-contained=no -L {}", libc.display()),
                );
        }
        command
    }

    /// Arguments after `cargo build` that select the target (and build `std` when offline).
    pub fn build_args(&self) -> Vec<String> {
        let mut args = vec![
            "--release".to_string(),
            "--target".to_string(),
            self.target().to_string(),
        ];
        if let Toolchain::Offline { .. } = self {
            args.push("-Zbuild-std=std,panic_abort".to_string());
        }
        args
    }
}

/// The `wasm-ld` of the newest LLVM (at least [`MIN_LLVM`]) under `/usr/lib/llvm-N/bin`.
fn find_wasm_ld() -> Option<PathBuf> {
    let entries = std::fs::read_dir("/usr/lib").ok()?;
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let version: u32 = name.to_str()?.strip_prefix("llvm-")?.parse().ok()?;
            let wasm_ld = Path::new("/usr/lib").join(&name).join("bin/wasm-ld");
            (version >= MIN_LLVM && wasm_ld.is_file()).then_some((version, wasm_ld))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, wasm_ld)| wasm_ld)
}

/// The first directory holding wasi-libc's `wasm32-wasip2` `libc.a`: `$FDO_WASI_LIBC_DIR`, then
/// [`WASI_LIBC_DIRS`].
fn find_wasi_libc() -> Option<PathBuf> {
    let configured = env::var_os(WASI_LIBC_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    configured
        .into_iter()
        .chain(WASI_LIBC_DIRS.iter().map(PathBuf::from))
        .find(|dir| dir.join("libc.a").is_file())
}

/// Removes from `command`'s environment what an outer cargo (a build script's, or the shell's)
/// set for its own build.
pub fn scrub_env(command: &mut Command) {
    for (key, _) in env::vars_os() {
        if let Some(key) = key.to_str()
            && is_scrubbed(key)
        {
            command.env_remove(key);
        }
    }
}

/// Whether the nested build must not inherit `key`.
fn is_scrubbed(key: &str) -> bool {
    if KEPT_CARGO_PREFIXES.iter().any(|p| key.starts_with(p)) {
        return false;
    }
    SCRUBBED_EXACT.contains(&key) || SCRUBBED_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Wraps the reasons no toolchain was found into the message a user can act on.
fn missing_toolchain(reasons: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "no toolchain to build the guest components (WebAssembly).\n\
         \n\
         On a machine with internet access:  rustup target add wasm32-wasip2\n\
         Offline, on Debian 12 (as root):    scripts/setup.sh  (in an fdo checkout)\n\
         \n\
         What was tried:\n  {reasons:#}"
    )
}
