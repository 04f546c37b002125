// Unit tests of hello.js: `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { hello, rpc } from './hello.js';

test('greets by name', () => {
  assert.equal(hello('world'), 'Hello, world!');
});

test('the rpc interface answers JSON and refuses unknown methods', () => {
  assert.equal(rpc.call('hello', '["Ada"]'), '"Hello, Ada!"');
  assert.throws(() => rpc.call('nope', '[]'), { tag: 'unknown-method', val: 'nope' });
});
