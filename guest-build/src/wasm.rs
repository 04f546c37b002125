//! Telling components from core modules, and turning a core module (the offline toolchain's
//! `wasm32-wasip2` output) into a component: the module alone when it imports only WASI 0.2
//! (what `fdo-sdk` functions are), or with the matching WASI preview1 adapter when it still
//! imports `wasi_snapshot_preview1` (what wasi-libc uses for the environment and standard output
//! unless something answers those calls, as `fdo-sdk` does).
//!
//! Which adapter: a module exporting anything from `wasi:http/incoming-handler` is a
//! `wasi:http/proxy` guest and gets the **proxy** adapter (which imports only what the proxy
//! world offers); every other module gets the **reactor** adapter (library-style components
//! whose exports the host calls). No per-crate marker is needed.

use anyhow::{Context, Result, bail};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER,
    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};

/// `\0asm`: the first four bytes of every WebAssembly binary.
const MAGIC: &[u8; 4] = b"\0asm";

/// Version and layer of a core module (version 1, layer 0).
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Version and layer of a component (version 0x0d, layer 1).
const COMPONENT_VERSION: [u8; 4] = [0x0d, 0, 1, 0];

/// Substring of the export names of a `wasi:http/incoming-handler` implementation.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";

/// What a `.wasm` file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    /// A core module (needs componentizing).
    CoreModule,
    /// A component (ready to use).
    Component,
}

/// Reads the header of `bytes`.
pub fn kind(bytes: &[u8]) -> Result<WasmKind> {
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        bail!("not a WebAssembly binary");
    }
    match <[u8; 4]>::try_from(&bytes[4..8]) {
        Ok(CORE_MODULE_VERSION) => Ok(WasmKind::CoreModule),
        Ok(COMPONENT_VERSION) => Ok(WasmKind::Component),
        _ => bail!("unknown WebAssembly version/layer {:?}", &bytes[4..8]),
    }
}

/// Turns a core module into a component, choosing the adapter from its exports.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    let names = ModuleNames::parse(module).context("reading the module's imports and exports")?;
    let mut encoder = wit_component::ComponentEncoder::default()
        .module(module)
        .context("reading the module's component type")?
        .validate(true);
    if names
        .imports
        .iter()
        .any(|m| m == WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME)
    {
        let adapter: &[u8] = if names.exports.iter().any(|e| e.contains(INCOMING_HANDLER)) {
            WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER
        } else {
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER
        };
        encoder = encoder
            .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter)
            .context("adding the preview1 adapter")?;
    }
    encoder.encode().context("encoding the component")
}

/// Whether a core module is a WASI command: it exports `_start` (what fdo deploys as kind
/// `command`, wrapping it itself).
pub fn is_command(module: &[u8]) -> Result<bool> {
    let names = ModuleNames::parse(module).context("reading the module's exports")?;
    Ok(names.exports.iter().any(|e| e == "_start"))
}

/// Import module names and export names of a core module.
#[derive(Debug, Default)]
struct ModuleNames {
    /// The module name of every import (`wasi_snapshot_preview1`, `fdo:function/log@0.1.0`, ...).
    imports: Vec<String>,
    /// The name of every export.
    exports: Vec<String>,
}

impl ModuleNames {
    /// Reads the import and export sections.
    fn parse(module: &[u8]) -> Result<Self> {
        let mut names = ModuleNames::default();
        for payload in wasmparser::Parser::new(0).parse_all(module) {
            match payload? {
                wasmparser::Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        names.imports.push(import?.module.to_string());
                    }
                }
                wasmparser::Payload::ExportSection(section) => {
                    for export in section {
                        names.exports.push(export?.name.to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(names)
    }
}
