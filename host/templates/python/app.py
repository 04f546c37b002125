"""{{name}}: an fdo function in Python, built into a WebAssembly component by componentize-py.

It implements the world `fdo:function/function`: the host calls `rpc.call(method, params)` with
the method's name and its params as JSON text (an array, by position, or an object, by name),
and gets the result back as JSON text. The methods are plain Python, in greet.py.
"""

import inspect
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.rpc import (
    CallError_Failed,
    CallError_InvalidParams,
    CallError_UnknownMethod,
)

import greet


class Rpc(exports.Rpc):
    """The exported `rpc` interface."""

    def call(self, method: str, params: str) -> str:
        handler = greet.METHODS.get(method)
        if handler is None:
            raise Err(CallError_UnknownMethod(method))
        try:
            args = json.loads(params) if params.strip() else []
        except ValueError as err:
            raise Err(CallError_InvalidParams(f"params are not JSON: {err}"))
        try:
            if isinstance(args, dict):
                bound = inspect.signature(handler).bind(**args)
            elif isinstance(args, list):
                bound = inspect.signature(handler).bind(*args)
            else:
                bound = inspect.signature(handler).bind(args)
        except TypeError as err:
            raise Err(CallError_InvalidParams(str(err)))
        try:
            result = handler(*bound.args, **bound.kwargs)
        except Exception as err:  # the method failed: the caller gets its message
            raise Err(CallError_Failed(f"{type(err).__name__}: {err}"))
        return json.dumps(result, ensure_ascii=False)
