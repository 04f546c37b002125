"""python-hello: the fdo hello function in Python, built with componentize-py.

It implements the world `fdo:function/function` from the repository's `wit/` directory:
`rpc.call(method, params)` takes JSON text and returns JSON text, and every call writes one
info line through the host's `log` import and one line to stdout.
"""

import json
import math

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.rpc import (
    CallError_Failed,
    CallError_InvalidParams,
    CallError_UnknownMethod,
)
from wit_world.imports.log import Level, log

DEFAULT_NAME = "stranger"
"""Who `hello` greets when the params name nobody."""


def _is_number(value):
    # bool is an int subclass in Python: JSON true/false are not numbers. Ints are exact and
    # finite (and may be too large for math.isfinite); a float sum can overflow to inf.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _hello(params):
    if isinstance(params, list):
        name = params[0] if params else DEFAULT_NAME
    else:
        name = params.get("name", DEFAULT_NAME)
    if not isinstance(name, str):
        raise Err(CallError_InvalidParams("`name` must be a string"))
    return {"body": f"Hello {name}!"}


def _add(params):
    if isinstance(params, list):
        args = params
    else:
        args = [params.get("a"), params.get("b")]
    if len(args) != 2 or not all(_is_number(x) for x in args):
        raise Err(CallError_InvalidParams("`add` takes two numbers: [a, b] or {\"a\": a, \"b\": b}"))
    total = args[0] + args[1]
    if not _is_number(total):
        raise Err(CallError_Failed("the sum is too large for a JSON number"))
    return total


def _fail(_params):
    raise Err(CallError_Failed("fail was called: this method always fails"))


METHODS = {"hello": _hello, "add": _add, "fail": _fail}


def _reject_constant(name):
    # Python's json module accepts NaN, Infinity and -Infinity; JSON does not.
    raise ValueError(f"{name} is not a JSON value")


def _parse(params):
    if params.strip() == "":
        return []
    try:
        value = json.loads(params, parse_constant=_reject_constant)
    except ValueError as err:
        raise Err(CallError_InvalidParams(f"params are not JSON: {err}"))
    if value is None:
        return []
    if not isinstance(value, (list, dict)):
        raise Err(CallError_InvalidParams("params must be a JSON array or object"))
    return value


class Rpc(exports.Rpc):
    """The exported `rpc` interface."""

    def call(self, method: str, params: str) -> str:
        log(Level.INFO, f"python-hello: call {method}")
        print(f"python-hello: handling {method}", flush=True)
        handler = METHODS.get(method)
        if handler is None:
            raise Err(CallError_UnknownMethod(method))
        return json.dumps(handler(_parse(params)), separators=(",", ":"), ensure_ascii=False)
