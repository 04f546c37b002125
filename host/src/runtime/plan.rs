//! How a JSON call (`{"method", "params"}`) reaches a guest: through `fdo:function/rpc` when the
//! component exports it (the params text passed as is), otherwise the typed export of that name.

use serde_json::Value;
use serde_json::value::RawValue;
use wasmtime::Store;
use wasmtime::component::Val;

use super::bindings::GuestCallError;
use super::state::CallState;
use super::{ComponentKind, InvokeError, LoadedComponent, command, typed};

/// Picks the way into `component` for `method` and converts the params when the export is
/// typed, before any instance is taken.
pub(super) fn plan<'p>(
    component: &LoadedComponent,
    method: &str,
    params: &'p RawValue,
) -> Result<Plan<'p>, InvokeError> {
    if component.rpc.is_some() {
        return Ok(Plan::Rpc(params.get()));
    }
    if component.kind() == ComponentKind::Command
        && let Some(command) = &component.command
    {
        return Ok(Plan::Command(command.clone()));
    }
    if let Some(func) = component.typed.get(method) {
        let params: Value = serde_json::from_str(params.get())
            .map_err(|e| InvokeError::InvalidParams(format!("params are not valid JSON: {e}")))?;
        let args = typed::params_to_vals(func, &params).map_err(InvokeError::InvalidParams)?;
        return Ok(Plan::Typed {
            index: func.index,
            args,
            has_result: func.result.is_some(),
        });
    }
    if component.http.is_some() && component.typed.is_empty() {
        return Err(InvokeError::NotCallable(
            "this function is an HTTP handler: send it a plain HTTP request instead of {\"method\", \"params\"}".into(),
        ));
    }
    Err(InvokeError::UnknownMethod {
        method: method.to_owned(),
        available: component.typed.iter().map(|f| f.name.clone()).collect(),
    })
}

pub(super) enum Plan<'p> {
    Rpc(&'p str),
    Command(command::Command),
    Typed {
        index: wasmtime::component::ComponentExportIndex,
        args: Vec<Val>,
        has_result: bool,
    },
}

pub(super) async fn run_plan(
    store: &mut Store<CallState>,
    component: &LoadedComponent,
    plan: Plan<'_>,
    method: &str,
) -> wasmtime::Result<Result<Box<RawValue>, InvokeError>> {
    match plan {
        Plan::Rpc(params) => {
            let Some(rpc) = &component.rpc else {
                return Ok(Err(InvokeError::NotCallable("no rpc export".into())));
            };
            let instance = rpc.instantiate_async(&mut *store).await?;
            let answer = instance
                .fdo_function_rpc()
                .call_call(&mut *store, method, params)
                .await?;
            Ok(match answer {
                Ok(text) => RawValue::from_string(text).map_err(|e| {
                    InvokeError::Failed(format!("the function returned invalid JSON: {e}"))
                }),
                Err(GuestCallError::UnknownMethod(m)) => Err(InvokeError::UnknownMethod {
                    method: if m.is_empty() { method.into() } else { m },
                    available: vec![],
                }),
                Err(GuestCallError::InvalidParams(m)) => Err(InvokeError::InvalidParams(m)),
                Err(GuestCallError::Failed(m)) => Err(InvokeError::Failed(m)),
            })
        }
        Plan::Command(command) => Ok(match command.run(&mut *store).await? {
            Ok(()) => command::rpc_result(store.data().stdout.take_bytes()),
            Err(failed) => Err(failed),
        }),
        Plan::Typed {
            index,
            args,
            has_result,
        } => {
            let instance = component.pre.instantiate_async(&mut *store).await?;
            let Some(func) = instance.get_func(&mut *store, index) else {
                return Ok(Err(InvokeError::NotCallable(format!(
                    "export `{method}` is not a function"
                ))));
            };
            let mut results = vec![Val::Bool(false); usize::from(has_result)];
            func.call_async(&mut *store, &args, &mut results).await?;
            let value = typed::result_to_json(results.first());
            Ok(serde_json::value::to_raw_value(&value).map_err(|e| {
                InvokeError::Failed(format!("the result cannot be written as JSON: {e}"))
            }))
        }
    }
}
