//! WASI command modules: core modules built for WASI preview1 that export `_start` (what Zig,
//! AssemblyScript with the WASI shim, C with wasi-libc, TinyGo and Go's `wasip1` produce).
//!
//! fdo stores and addresses such a module by the digest of the bytes that were uploaded, and
//! turns it into a component only when it compiles it (at deploy, or when no compiled artifact
//! is cached): [`wrap`] adds wasmtime's preview1 **command** adapter with `wit-component`, so the
//! result exports `wasi:cli/run` and imports only WASI 0.2, which the runtime calls like any
//! other component ([`crate::runtime::ComponentKind::Command`]).
//!
//! One thing the adapter loses is the exit status: it maps every `proc_exit(n)` with `n != 0`
//! to `wasi:cli/exit.exit(err)`, status 1. So before adapting, the module's import of
//! `wasi_snapshot_preview1.proc_exit` is renamed to [`EXIT_INTERFACE`]`.exit` (same signature,
//! `(i32) -> ()`), described by a `component-type` section; the host implements it by ending
//! the call with [`CommandExit`](crate::runtime::command::CommandExit) carrying the real status.
//!
//! A core module that is not a command (a reactor, a module for a JavaScript host, a preview0
//! module) is refused by [`wrap`] with a message saying what it is and what would make it work.

use std::sync::LazyLock;

use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

use crate::runtime::command::{EXIT_FUNCTION, EXIT_INTERFACE};

/// The WIT of [`EXIT_INTERFACE`], embedded in the module as its component type.
const EXIT_WIT: &str = "package fdo:command@0.1.0;

/// How a command ends its call with an exit status (the renamed preview1 `proc_exit`).
interface exit {
    /// Ends the call: status 0 is success, anything else a failure.
    exit: func(status: u32);
}

world command {
    import exit;
}
";

/// The name of the export that makes a core module a WASI command.
const START: &str = "_start";

/// The name of the export that makes a core module a WASI reactor.
const INITIALIZE: &str = "_initialize";

/// What the import and export sections of a core module say about it.
#[derive(Debug, Default)]
struct Shape {
    /// `(module, name)` of every import.
    imports: Vec<(String, String)>,
    /// Exported functions.
    functions: Vec<String>,
    /// Whether it exports a memory named `memory`.
    memory: bool,
}

impl Shape {
    fn read(module: &[u8]) -> Result<Self, String> {
        let mut shape = Shape::default();
        for payload in Parser::new(0).parse_all(module) {
            match payload.map_err(|e| format!("not a valid WebAssembly module: {e}"))? {
                Payload::ImportSection(section) => {
                    for import in section.into_imports() {
                        let import =
                            import.map_err(|e| format!("not a valid WebAssembly module: {e}"))?;
                        shape
                            .imports
                            .push((import.module.to_owned(), import.name.to_owned()));
                    }
                }
                Payload::ExportSection(section) => {
                    for export in section {
                        let export =
                            export.map_err(|e| format!("not a valid WebAssembly module: {e}"))?;
                        match export.kind {
                            ExternalKind::Func => shape.functions.push(export.name.to_owned()),
                            ExternalKind::Memory if export.name == "memory" => shape.memory = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(shape)
    }

    fn exports(&self, name: &str) -> bool {
        self.functions.iter().any(|f| f == name)
    }

    /// Why this module is not a command fdo can run, or `None` when it is one.
    fn refusal(&self) -> Option<String> {
        const BUILD_A_COMMAND: &str = "build it as a WASI command (a program with a main \
             function for wasm32-wasi / wasm32-wasip1: zig -target wasm32-wasi, clang \
             --target=wasm32-wasi, asc with @assemblyscript/wasi-shim, GOOS=wasip1) or as a \
             component (wasm32-wasip2, or `wasm-tools component new`)";
        if !self.exports(START) {
            return Some(if self.exports(INITIALIZE) {
                format!(
                    "this is a WASI reactor (a core module exporting `{INITIALIZE}`, a library), \
                     and fdo runs core modules only as commands: export `{START}` (a main \
                     function), or make it a component exporting functions (`wasm-tools component \
                     new --adapt wasi_snapshot_preview1=wasi_snapshot_preview1.reactor.wasm` with \
                     its WIT embedded)"
                )
            } else {
                format!(
                    "this is a core WebAssembly module without a `{START}` export, so neither a \
                     WASI command nor a component: {BUILD_A_COMMAND}"
                )
            });
        }
        if let Some((module, name)) = self
            .imports
            .iter()
            .find(|(module, _)| module != WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME)
        {
            return Some(if module == "wasi_unstable" {
                format!(
                    "this command imports `{module}.{name}`: it was built for WASI preview0, which \
                     fdo does not run; rebuild it with a current toolchain for wasm32-wasi \
                     (preview1, `wasi_snapshot_preview1`)"
                )
            } else {
                format!(
                    "this command imports `{module}.{name}`, which is not WASI: fdo gives command \
                     modules WASI preview1 (`wasi_snapshot_preview1`) and nothing else (a module \
                     built for a JavaScript host or for emscripten does not run here); {BUILD_A_COMMAND}"
                )
            });
        }
        if !self.memory {
            return Some(
                "this command exports no memory named `memory`, which WASI preview1 needs to \
                 pass data to it; link it with its memory exported (the default of wasm-ld and \
                 of the toolchains above)"
                    .into(),
            );
        }
        None
    }
}

/// The linear memory a core module starts with, in bytes (its first memory's initial size), or
/// `None` when it is not a valid module or has no memory.
pub fn initial_memory_bytes(module: &[u8]) -> Option<u64> {
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::MemorySection(section) = payload.ok()? {
            let memory = section.into_iter().next()?.ok()?;
            let page = memory.page_size_log2.map_or(65536, |log2| 1u64 << log2);
            return Some(memory.initial.saturating_mul(page));
        }
    }
    None
}

/// Turns a WASI command module into a component exporting `wasi:cli/run`, or says why the
/// module is not something fdo can run.
pub fn wrap(module: &[u8]) -> Result<Vec<u8>, String> {
    let shape = Shape::read(module)?;
    if let Some(refusal) = shape.refusal() {
        return Err(refusal);
    }
    let mut renamed = rename_proc_exit(module)?;
    wit_component::embed_component_metadata(
        &mut renamed,
        &EXIT_WORLD.0,
        EXIT_WORLD.1,
        wit_component::StringEncoding::UTF8,
    )
    .map_err(|e| format!("could not describe the command's exit import: {e:#}"))?;
    wit_component::ComponentEncoder::default()
        .module(&renamed)
        .map_err(|e| format!("not a valid command module: {e:#}"))?
        .validate(true)
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )
        .map_err(|e| format!("could not load the WASI preview1 command adapter: {e:#}"))?
        .encode()
        .map_err(|e| {
            format!(
                "the WASI preview1 command adapter cannot run this module (does it import \
                 preview1 functions that do not exist?): {e:#}"
            )
        })
}

/// The parsed [`EXIT_WIT`] and its world, parsed once.
static EXIT_WORLD: LazyLock<(wit_parser::Resolve, wit_parser::WorldId)> = LazyLock::new(|| {
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve
        .push_str("fdo-command.wit", EXIT_WIT)
        .expect("the built-in WIT of fdo:command parses");
    let world = resolve
        .select_world(&[package], Some("command"))
        .expect("the built-in WIT of fdo:command has its world");
    (resolve, world)
});

/// The module with its `wasi_snapshot_preview1.proc_exit` import, if any, importing
/// [`EXIT_INTERFACE`]`.`[`EXIT_FUNCTION`] instead. Every other section is copied byte for byte.
fn rename_proc_exit(module: &[u8]) -> Result<Vec<u8>, String> {
    let invalid = |e: wasmparser::BinaryReaderError| format!("not a valid WebAssembly module: {e}");
    let mut out = wasm_encoder::Module::new();
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(invalid)?;
        match &payload {
            Payload::ImportSection(section) => {
                let mut imports = wasm_encoder::ImportSection::new();
                for import in section.clone().into_imports() {
                    let import = import.map_err(invalid)?;
                    let is_exit = import.module == WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME
                        && import.name == "proc_exit"
                        && matches!(import.ty, TypeRef::Func(_));
                    let (module, name) = if is_exit {
                        (EXIT_INTERFACE, EXIT_FUNCTION)
                    } else {
                        (import.module, import.name)
                    };
                    let ty = wasm_encoder::EntityType::try_from(import.ty).map_err(|e| {
                        format!("unsupported import type of `{module}.{name}`: {e}")
                    })?;
                    imports.import(module, name, ty);
                }
                out.section(&imports);
            }
            _ => {
                if let Some((id, range)) = payload.as_section() {
                    out.section(&wasm_encoder::RawSection {
                        id,
                        data: &module[range],
                    });
                }
            }
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(wat: &str) -> Vec<u8> {
        wat::parse_str(wat).expect("test WAT parses")
    }

    const COMMAND: &str = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 7))))"#;

    #[test]
    fn a_command_becomes_a_component_exporting_run() {
        let component = wrap(&module(COMMAND)).expect("wraps");
        assert!(crate::loader::looks_like_component(&component));
        let text = String::from_utf8_lossy(&component);
        assert!(text.contains("wasi:cli/run@0.2"), "exports wasi:cli/run");
        assert!(text.contains(EXIT_INTERFACE), "imports the exit interface");
    }

    #[test]
    fn proc_exit_is_renamed_and_nothing_else_changes() {
        let original = module(COMMAND);
        let renamed = rename_proc_exit(&original).expect("renames");
        let shape = Shape::read(&renamed).expect("still valid");
        assert_eq!(
            shape.imports,
            [
                ("wasi_snapshot_preview1".into(), "fd_write".into()),
                (EXIT_INTERFACE.into(), EXIT_FUNCTION.into())
            ]
        );
        wasmparser::Validator::new()
            .validate_all(&renamed)
            .expect("valid");
        // Only the import section differs, by the names' lengths.
        let grown = (EXIT_INTERFACE.len() + EXIT_FUNCTION.len()) as isize
            - ("wasi_snapshot_preview1".len() + "proc_exit".len()) as isize;
        assert_eq!(renamed.len() as isize, original.len() as isize + grown);
    }

    #[test]
    fn other_core_modules_are_refused_with_what_they_are() {
        let cases = [
            (
                r#"(module (memory (export "memory") 1) (func (export "_initialize")))"#,
                "WASI reactor",
            ),
            (
                r#"(module (func (export "add")))"#,
                "without a `_start` export",
            ),
            (
                r#"(module (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
                    (memory (export "memory") 1) (func (export "_start")))"#,
                "WASI preview0",
            ),
            (
                r#"(module (import "env" "emscripten_log" (func))
                    (memory (export "memory") 1) (func (export "_start")))"#,
                "imports `env.emscripten_log`, which is not WASI",
            ),
            (
                r#"(module (func (export "_start")))"#,
                "no memory named `memory`",
            ),
        ];
        for (wat, expected) in cases {
            let err = wrap(&module(wat)).expect_err(wat);
            assert!(err.contains(expected), "{wat}: {err}");
        }
    }

    #[test]
    fn the_initial_memory_is_read_from_the_memory_section() {
        assert_eq!(initial_memory_bytes(&module(COMMAND)), Some(65536));
        let big = module(r#"(module (memory (export "memory") 257) (func (export "_start")))"#);
        assert_eq!(initial_memory_bytes(&big), Some(257 * 65536));
        assert_eq!(initial_memory_bytes(&module("(module)")), None);
        assert_eq!(initial_memory_bytes(b"not wasm"), None);
    }

    #[test]
    fn an_unknown_preview1_function_is_refused_by_the_adapter() {
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "no_such_call" (func))
            (memory (export "memory") 1)
            (func (export "_start")))"#;
        let err = wrap(&module(wat)).expect_err("refused");
        assert!(
            err.contains("command adapter cannot run this module"),
            "{err}"
        );
    }
}
