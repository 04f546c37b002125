//! A compiled component pre-instantiated against the host's linker, and how it is called.

use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use super::PrepareError;
use super::bindings;
use super::command;
use super::state::CallState;
use super::typed::TypedExports;
use crate::model::Digest;

/// How a component is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    /// Exports `fdo:function/rpc`.
    Rpc,
    /// Exports `wasi:http/incoming-handler`.
    Http,
    /// Exports plain functions.
    Typed,
    /// A WASI command: a preview1 module with `_start` (wrapped at compile time), or a
    /// component exporting `wasi:cli/run`.
    Command,
}

impl ComponentKind {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Rpc => "rpc",
            ComponentKind::Http => "http",
            ComponentKind::Typed => "typed",
            ComponentKind::Command => "command",
        }
    }
}

/// A compiled component, pre-instantiated against the host's linker: what a call needs.
pub struct LoadedComponent {
    /// sha256 of the component's bytes.
    pub digest: Digest,
    /// Size of the compiled code in bytes (the memory cache's weight).
    pub compiled_bytes: usize,
    component: Component,
    pub(super) pre: InstancePre<CallState>,
    pub(super) rpc: Option<bindings::FunctionPre<CallState>>,
    pub(super) http: Option<ProxyPre<CallState>>,
    pub(super) command: Option<command::Command>,
    pub(super) typed: TypedExports,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("digest", &self.digest)
            .field("kind", &self.kind())
            .field("compiled_bytes", &self.compiled_bytes)
            .finish_non_exhaustive()
    }
}

impl LoadedComponent {
    /// Pre-instantiates `component` against `linker`: fails when it imports something the host
    /// does not provide, or exports nothing callable.
    pub fn prepare(
        linker: &Linker<CallState>,
        digest: Digest,
        component: Component,
    ) -> Result<Self, PrepareError> {
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PrepareError::Link(format!("{e:#}")))?;
        let rpc = bindings::FunctionPre::new(pre.clone()).ok();
        let http = ProxyPre::new(pre.clone()).ok();
        let command = command::Command::discover(&pre);
        let typed = TypedExports::discover(linker.engine(), &component);
        if rpc.is_none() && http.is_none() && command.is_none() && typed.is_empty() {
            return Err(PrepareError::NothingCallable);
        }
        let range = component.image_range();
        let compiled_bytes = (range.end as usize).saturating_sub(range.start as usize);
        Ok(Self {
            digest,
            compiled_bytes,
            component,
            pre,
            rpc,
            http,
            command,
            typed,
        })
    }

    /// How this component is called.
    pub fn kind(&self) -> ComponentKind {
        if self.http.is_some() {
            ComponentKind::Http
        } else if self.rpc.is_some() {
            ComponentKind::Rpc
        } else if self.command.is_some() {
            ComponentKind::Command
        } else {
            ComponentKind::Typed
        }
    }

    /// The typed exports (empty for pure RPC or HTTP components; for a command, its
    /// `wasi:cli/run`, which is not called by name).
    pub fn typed_exports(&self) -> &TypedExports {
        &self.typed
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }
}
