//! The `fdo:function` bindings, generated once here so function crates depend on `fdo-sdk` alone.
//!
//! Authors do not use this module directly: `#[fdo_sdk::function]` and `#[fdo_sdk::functions]`
//! implement the exported `rpc` interface and invoke the generated `export!` macro for them.

#![allow(missing_docs, unsafe_code, clippy::all)]

wit_bindgen::generate!({
    world: "fdo:function/function",
    path: "../wit",
    runtime_path: "::fdo_sdk::wit_bindgen::rt",
    pub_export_macro: true,
    export_macro_name: "export",
    default_bindings_module: "::fdo_sdk::bindings",
});
