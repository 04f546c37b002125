// {{name}}: an fdo function as a WASI command. fdo runs `_start` with the request,
// {"method", "params"}, as JSON on stdin and `FDO_METHOD` in the environment; what the
// command writes to stdout is the answer, what it writes to stderr goes to the function's logs,
// and a non-zero exit code fails the call.
import { Kind, Value, parse, quote } from "./json";

const MAX_REQUEST_BYTES = 1 << 20;

function readStdin(): string {
  const chunks = new Array<ArrayBuffer>();
  let total = 0;
  while (true) {
    const chunk = new ArrayBuffer(16384);
    const n = process.stdin.read(chunk);
    if (n <= 0) break;
    total += n;
    if (total > MAX_REQUEST_BYTES) throw new Error("the request is larger than 1 MiB");
    chunks.push(chunk.slice(0, n));
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    all.set(Uint8Array.wrap(chunks[i]), at);
    at += chunks[i].byteLength;
  }
  return String.UTF8.decode(all.buffer);
}

// Who `hello` greets: params {"name": "Ada"}, ["Ada"] or "Ada".
function nameOf(params: Value | null): string {
  if (params == null) return "stranger";
  let name: Value | null = params;
  if (params.kind == Kind.Object) name = params.get("name");
  else if (params.kind == Kind.Array) name = params.items.length > 0 ? params.items[0] : null;
  if (name === null || name.kind != Kind.String) return "stranger";
  return name.str;
}

function main(): i32 {
  const request = parse(readStdin());
  const method = request.get("method");
  if (method === null || method.kind != Kind.String || method.str != "hello") {
    process.stderr.write("{{name}}: unknown method (try hello)\n");
    return 2;
  }
  const name = nameOf(request.get("params"));
  process.stdout.write("{\"body\":" + quote("Hello " + name + "!") + "}");
  process.stderr.write("{{name}}: greeted " + name + "\n");
  return 0;
}

const code = main();
if (code != 0) process.exit(code);
