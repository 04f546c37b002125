// js-hello: the fdo hello function in JavaScript, built with componentize-js.
//
// It implements the world `fdo:function/function` from the repository's `wit/` directory:
// `rpc.call(method, params)` takes JSON text and returns JSON text, and every call writes one
// info line through the host's `log` import and one line to stdout. A call-error is returned by
// throwing a plain `{ tag, val }` object (throwing an `Error` would trap instead).

import { log } from 'fdo:function/log@0.1.0';

/** Who `hello` greets when the params name nobody. */
const DEFAULT_NAME = 'stranger';

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);

function hello(params) {
  const name = Array.isArray(params)
    ? (params.length > 0 ? params[0] : DEFAULT_NAME)
    : (params.name ?? DEFAULT_NAME);
  if (typeof name !== 'string') {
    throw { tag: 'invalid-params', val: '`name` must be a string' };
  }
  return { body: `Hello ${name}!` };
}

function add(params) {
  const args = Array.isArray(params) ? params : [params.a, params.b];
  if (args.length !== 2 || !args.every(isNumber)) {
    throw { tag: 'invalid-params', val: '`add` takes two numbers: [a, b] or {"a": a, "b": b}' };
  }
  const total = args[0] + args[1];
  if (!isNumber(total)) {
    throw { tag: 'failed', val: 'the sum is too large for a JSON number' };
  }
  return total;
}

function fail() {
  throw { tag: 'failed', val: 'fail was called: this method always fails' };
}

const METHODS = { hello, add, fail };

function parse(params) {
  if (params.trim() === '') return [];
  let value;
  try {
    value = JSON.parse(params);
  } catch (err) {
    throw { tag: 'invalid-params', val: `params are not JSON: ${err.message}` };
  }
  if (value === null) return [];
  if (typeof value !== 'object') {
    throw { tag: 'invalid-params', val: 'params must be a JSON array or object' };
  }
  return value;
}

/** The exported `rpc` interface. */
export const rpc = {
  call(method, params) {
    log('info', `js-hello: call ${method}`);
    console.log(`js-hello: handling ${method}`);
    const handler = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
    if (handler === undefined) {
      throw { tag: 'unknown-method', val: method };
    }
    return JSON.stringify(handler(parse(params)));
  },
};
