// {{name}}: an fdo function in JavaScript, built into a WebAssembly component by
// componentize-js.
//
// It implements the world `fdo:function/function`: the host calls `rpc.call(method, params)`
// with the method's name and its params as JSON text (an array, by position, or an object, by
// name), and gets the result back as JSON text. A call-error is returned by throwing a plain
// `{ tag, val }` object (throwing an Error would trap instead).

/** Greets `name`. */
export function hello(name = 'world') {
  console.log(`greeting ${name}`);
  return `Hello, ${name}!`;
}

/** The RPC methods callers can call, by name. */
export const METHODS = { hello };

/** The exported `rpc` interface. */
export const rpc = {
  call(method, params) {
    const handler = Object.hasOwn(METHODS, method) ? METHODS[method] : undefined;
    if (handler === undefined) {
      throw { tag: 'unknown-method', val: method };
    }
    let args;
    try {
      args = params.trim() === '' ? [] : JSON.parse(params);
    } catch (err) {
      throw { tag: 'invalid-params', val: `params are not JSON: ${err.message}` };
    }
    if (!Array.isArray(args)) {
      args = [args];
    }
    let result;
    try {
      result = handler(...args);
    } catch (err) {
      throw { tag: 'failed', val: err instanceof Error ? err.message : String(err) };
    }
    return JSON.stringify(result ?? null);
  },
};
