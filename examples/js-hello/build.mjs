// Builds hello.js into a WebAssembly component for the world `function` in the repository's
// `wit/` directory. Usage: node build.mjs OUT_WASM_PATH (build.sh runs it, after setup.sh).

import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT_WASM_PATH');
  process.exit(2);
}

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

try {
  const { component } = await componentize({
    sourcePath: here('./hello.js'),
    witPath: here('../../wit'),
    worldName: 'function',
    // No fetch() and no incoming HTTP handler: the function needs only stdio, clocks and random.
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(out, component);
} catch (err) {
  console.error(`js-hello: componentize-js failed: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
}
