//! Host-side bindings of the `fdo:function/function` world (`wit/`): the `rpc` export the host
//! calls and the `log` import it answers ([`super::linker`]).
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "fdo:function/function",
    exports: { default: async },
});

pub use exports::fdo::function::rpc::CallError as GuestCallError;
