//! Checks that the build script produced real components (or, for the guests that are WASI
//! command modules, core modules), not stale paths.

use std::collections::HashSet;
use std::io::Read;

/// `\0asm`, then version 0x0d and layer 1: the header of a component.
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// `\0asm`, then version 1: the header of a core module.
const CORE_MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// The guests that are WASI command modules (core modules exporting `_start`), deployed as is.
const COMMANDS: &[&str] = &[
    "assemblyscript-hello",
    "c-hello",
    "command-probe",
    "zig-hello",
];

#[test]
fn every_constant_points_at_a_component() {
    assert!(!test_guests::ALL.is_empty(), "no guests were built");
    for (name, path) in test_guests::ALL {
        let mut header = [0u8; 8];
        std::fs::File::open(path)
            .and_then(|mut file| file.read_exact(&mut header))
            .unwrap_or_else(|e| panic!("{name}: cannot read the first bytes of {path}: {e}"));
        if COMMANDS.contains(name) {
            assert_eq!(
                header, CORE_MODULE_HEADER,
                "{name}: {path} is not a core module"
            );
        } else {
            assert_eq!(
                header, COMPONENT_HEADER,
                "{name}: {path} is not a component"
            );
        }
    }
}

#[test]
fn names_are_unique_and_paths_absolute() {
    let mut names = HashSet::new();
    for (name, path) in test_guests::ALL {
        assert!(names.insert(*name), "{name} listed twice");
        assert!(
            std::path::Path::new(path).is_absolute(),
            "{name}: {path} is relative"
        );
        assert!(
            path.ends_with(&format!("/{name}.wasm")),
            "{name}: unexpected file {path}"
        );
    }
}

#[test]
fn test_only_guests_are_listed() {
    let expected = [
        ("http-hello", test_guests::HTTP_HELLO),
        ("rpc-basic", test_guests::RPC_BASIC),
        ("typed-exports", test_guests::TYPED_EXPORTS),
        ("command-probe", test_guests::COMMAND_PROBE),
    ];
    for guest in expected {
        assert!(
            test_guests::ALL.contains(&guest),
            "{} missing from ALL",
            guest.0
        );
    }
}
