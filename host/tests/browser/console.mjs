// The web console in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against a real `fdo serve` started by host/tests/all/console.rs (which runs this script and
// passes the host in the environment):
//
//   FDO_URL          the host, e.g. http://127.0.0.1:40123
//   FDO_API_KEY      a valid key
//   FDO_SCREENSHOTS  where to save screenshots of the main pages
//   FDO_CHROMIUM     the browser (default /usr/bin/chromium)
//
// The host has `hello` at 0.1.0 and 0.2.0 (active), `http-handler`, `droplet-controller`,
// `c-hello-http` (a WASI command as a CGI handler) and `xss-probe` (metadata full of HTML)
// deployed. Every case runs in one browser, one page, in
// order; the first failure stops the run with a screenshot. Exit status 0 means all passed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.FDO_URL;
const KEY = process.env.FDO_API_KEY;
const SHOTS = process.env.FDO_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), 'fdo-shots-'));
const CHROMIUM = process.env.FDO_CHROMIUM || '/usr/bin/chromium';
if (!BASE || !KEY) {
  console.error('FDO_URL and FDO_API_KEY must be set (host/tests/all/console.rs runs this script)');
  process.exit(2);
}
fs.mkdirSync(SHOTS, { recursive: true });

const XSS_LOG = '<img src=x onerror=alert(1)>';
const XSS_ENV = '<script>alert("env")</script>';
const XSS_KEY = '<img src=x onerror=alert(2)>';

// ---------------------------------------------------------------- helpers

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

/** Retries `f` until it returns without throwing (the page updates asynchronously). */
async function eventually(f, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      return await f();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${what}: ${last && last.message}`);
}

async function apiGet(p, key = KEY) {
  const r = await fetch(BASE + p, { headers: { 'X-API-Key': key } });
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  return { status: r.status, body };
}

async function invoke(id, method, params) {
  const r = await fetch(`${BASE}/v1/functions/${id}`, {
    method: 'POST',
    headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ method, params }),
  });
  assert(r.ok, `invoke ${id} answered ${r.status}`);
  await r.text();
}

async function shot(page, name, opts = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), ...opts });
}

// ---------------------------------------------------------------- the run

const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'fdo-chromium-'));
const started = Date.now();
const context = await chromium.launchPersistentContext(userData, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync', '--disable-quic',
  ],
});
const page = context.pages()[0] || await context.newPage();
page.setDefaultTimeout(15_000);

const dialogs = [];
const pageErrors = [];
const consoleErrors = [];
page.on('dialog', async (d) => {
  dialogs.push(`${d.type()}: ${d.message()}`);
  await d.dismiss();
});
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => {
  // The failed sign-in's 401 is the browser reporting an answer the console expects.
  if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
});
const requested = [];
page.on('request', (r) => requested.push(r.url()));

let passed = 0;
async function step(name, f) {
  const t = Date.now();
  try {
    await f();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    console.log(`FAIL ${name}\n${e.stack || e}`);
    try { await shot(page, `failed-${name.replace(/[^a-z0-9]+/gi, '-')}`, { fullPage: true }); } catch { /* best effort */ }
    await context.close();
    process.exit(1);
  }
}

const main = page.locator('main');

await step('a wrong key is refused and nothing is kept', async () => {
  await page.goto(`${BASE}/console/`);
  await page.getByLabel('API key').fill('fdo_not-a-real-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await eventually(async () => {
    const text = await page.getByRole('alert').first().textContent();
    assert(/not accepted/.test(text) && /Invalid API key/.test(text), `alert says ${text}`);
  }, 'the wrong key is reported');
  assert(await page.evaluate(() => sessionStorage.length) === 0, 'sessionStorage is empty');
  assert(await page.getByLabel('API key').getAttribute('aria-invalid') === 'true', 'the field is marked invalid');
  await shot(page, 'sign-in-refused');
});

await step('the right key signs in (keyboard only), kept in sessionStorage only', async () => {
  const keyField = page.getByLabel('API key');
  await keyField.fill(KEY);
  await keyField.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Functions' }).waitFor();
  assert(await page.evaluate(() => sessionStorage.getItem('fdo.apiKey')) === KEY, 'the key is in sessionStorage');
  assert(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');
  assert((await context.cookies()).length === 0, 'no cookies');
  assert(!page.url().includes(KEY), 'the key is not in the URL');
  assert(requested.every((u) => !u.includes(KEY)), 'the key was never in a requested URL');
});

await step('the deployed functions are listed, and the filter narrows them', async () => {
  const table = page.getByRole('table', { name: 'Functions' });
  for (const id of ['hello', 'http-handler', 'droplet-controller', 'c-hello-http', 'xss-probe']) {
    await table.getByRole('link', { name: id, exact: true }).waitFor();
  }
  const helloRow = table.getByRole('row').filter({ has: page.getByRole('link', { name: 'hello', exact: true }) });
  assert(/0\.2\.0/.test(await helloRow.textContent()), 'hello shows its active version 0.2.0');
  assert(/default/.test(await helloRow.textContent()) && /private/.test(await helloRow.textContent()),
    'hello shows its namespace (default) and privacy (private)');
  await page.getByLabel('Filter functions').fill('handler');
  await eventually(async () => {
    const rows = await table.getByRole('row').count();
    assert(rows === 2, `${rows} rows (heading + http-handler) after filtering`);
  }, 'the filter keeps only http-handler');
  await table.getByRole('link', { name: 'http-handler' }).waitFor();
  assert(/1 of 5 functions/.test(await page.getByText(/of 5 functions/).textContent()), 'the count says 1 of 5');
  await page.getByLabel('Filter functions').fill('');
  await eventually(async () => assert(await table.getByRole('row').count() === 6, 'all rows back'), 'the filter clears');
});

let requestId;
await step('hello is invoked from the playground: result, status, duration, request id', async () => {
  await page.goto(`${BASE}/console/#/functions/hello/playground`);
  await page.getByLabel('Method').fill('main');
  // Invalid params are refused before anything is sent.
  await page.getByLabel('Params').fill('{"name": ');
  const before = requested.length;
  await page.getByRole('button', { name: 'Invoke', exact: true }).click();
  await eventually(async () => {
    assert(/Params must be JSON/.test(await page.locator('#params-error').textContent()), 'params error shown');
  }, 'invalid JSON is reported');
  assert(requested.slice(before).every((u) => !u.includes('/v1/functions/hello')), 'no call with invalid params');

  await page.getByLabel('Params').fill('{"name": "Alice"}');
  await page.getByRole('button', { name: 'Invoke', exact: true }).click();
  const output = page.locator('pre.output');
  await eventually(async () => assert((await output.textContent()).includes('Hello Alice!'), 'output has Hello Alice!'), 'the result is shown');
  const facts = await page.locator('.call-facts').textContent();
  assert(/Status\s*200/.test(facts), `status 200 in ${facts}`);
  assert(/Duration\s*[\d.]+ (ms|s)/.test(facts), `a duration in ${facts}`);
  requestId = (await page.locator('.call-facts a.rid').textContent()).trim();
  assert(/^[0-9a-f]{32}$/.test(requestId), `request id ${requestId}`);
  await shot(page, 'playground');
});

await step('copy as curl and as fdo invoke give the same call', async () => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await page.getByRole('button', { name: 'Copy as curl' }).click();
  const curl = await eventually(async () => {
    const t = await page.evaluate(() => navigator.clipboard.readText());
    assert(t.startsWith('curl '), `clipboard: ${t}`);
    return t;
  }, 'curl copied');
  assert(curl.includes('"method":"main"') && curl.includes('"name":"Alice"') && curl.includes('$FDO_API_KEY'), curl);
  assert(!curl.includes(KEY), 'the copied command does not hold the key');
  await page.getByRole('button', { name: 'Copy as fdo invoke' }).click();
  await eventually(async () => {
    const t = await page.evaluate(() => navigator.clipboard.readText());
    assert(t === `fdo invoke hello main --params '{"name":"Alice"}'`, `clipboard: ${t}`);
  }, 'fdo invoke copied');
});

await step("the request id leads to that call's log entries", async () => {
  await page.locator('.call-facts a.rid').click();
  await page.waitForURL(/#\/functions\/hello\/logs\?requestId=/);
  const table = page.getByRole('table', { name: `Log entries of request ${requestId}` });
  await eventually(async () => {
    const text = await table.textContent();
    assert(text.includes('greeting Alice'), `the guest's log line: ${text}`);
    assert(text.includes('main succeeded'), `the call's summary: ${text}`);
  }, 'the entries of the call are shown');
  const rids = await table.locator('tbody a.rid').allTextContents();
  assert(rids.length >= 2 && rids.every((r) => r === requestId), `only this request's entries: ${rids}`);
  await shot(page, 'logs');
});

await step('logs: level filter and live follow', async () => {
  await page.getByRole('link', { name: 'Show every entry' }).click();
  await page.locator('table.logs').waitFor();
  await page.getByLabel('Level').selectOption('debug');
  await eventually(async () => {
    assert(/^0 entries/.test(await page.getByText(/entries of this function/).textContent()), 'no debug entries');
  }, 'the debug filter leaves nothing');
  await page.getByLabel('Level').selectOption('info');
  await eventually(async () => {
    const levels = await page.locator('table.logs tbody .level').allTextContents();
    assert(levels.length > 0 && levels.every((l) => l === 'info'), `only info entries: ${levels}`);
  }, 'the info filter keeps info entries');
  await page.getByLabel('Level').selectOption('');
  await page.getByLabel('Live follow').check();
  await invoke('hello', 'main', { name: 'Follower' });
  await eventually(async () => {
    assert((await page.locator('table.logs').textContent()).includes('greeting Follower'), 'new entry shown');
  }, 'a new call appears while following');
  await page.getByLabel('Live follow').uncheck();
});

await step('HTML from logs, results, metadata and key names is shown as text', async () => {
  await page.goto(`${BASE}/console/#/functions/hello/playground`);
  await page.getByLabel('Method').fill('main');
  await page.getByLabel('Params').fill(JSON.stringify({ name: XSS_LOG }));
  await page.getByRole('button', { name: 'Invoke', exact: true }).click();
  await eventually(async () => assert((await page.locator('pre.output').textContent()).includes(`Hello ${XSS_LOG}!`), 'result as text'), 'the result shows the markup as text');
  await page.goto(`${BASE}/console/#/functions/hello/logs`);
  await page.getByText(`greeting ${XSS_LOG}`).waitFor();
  assert(await main.locator('img').count() === 0, 'no <img> element in the logs');
  await page.goto(`${BASE}/console/#/functions/xss-probe`);
  await page.getByText(XSS_ENV).first().waitFor();
  await page.getByText('<b>bold</b>/main.rs').waitFor();
  assert(await main.locator('img').count() === 0, 'no <img> element in the page');
  assert(await main.locator('script').count() === 0, 'no <script> element in the page');
  assert(await main.locator('b').count() === 0, 'no <b> element in the page');
  assert(dialogs.length === 0, `no dialog opened: ${dialogs}`);
});

await step('API keys: create (shown once, copyable), list, revoke', async () => {
  await page.getByRole('link', { name: 'API keys' }).click();
  await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
  await page.getByLabel('Key name').fill(XSS_KEY);
  await page.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByLabel(`New key ${XSS_KEY}`);
  await shown.waitFor();
  const key = await shown.inputValue();
  assert(/^fdo_/.test(key), `a key: ${key}`);
  assert((await apiGet('/v1/api/functions', key)).status === 200, 'the new key works');
  await page.getByRole('button', { name: 'Copy key' }).click();
  await eventually(async () => assert(await page.evaluate(() => navigator.clipboard.readText()) === key, 'copied'), 'the key is copied');
  const row = page.getByRole('table', { name: 'API keys' }).getByRole('row').filter({ hasText: XSS_KEY });
  await row.getByText('active').waitFor();
  assert(await main.locator('img').count() === 0, 'the key name is text');
  await shot(page, 'keys');
  await row.getByRole('button', { name: `Revoke ${XSS_KEY}` }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Revoke' }).click();
  await row.getByText('revoked').waitFor();
  assert((await apiGet('/v1/api/functions', key)).status === 401, 'the revoked key is refused');
  // Reloading shows the list again without the key: the key was shown once.
  await page.reload();
  await page.getByRole('table', { name: 'API keys' }).waitFor();
  assert(!(await page.content()).includes(key), 'the key is not shown again');
});

await step('the wasi:http playground sends a request and shows the response', async () => {
  await page.goto(`${BASE}/console/#/functions/http-handler/playground`);
  await page.getByLabel('Method').selectOption('POST');
  await page.getByLabel('Path').fill('/echo?x=1');
  await page.getByLabel('Headers').fill('Content-Type: application/json\nX-Probe: yes');
  await page.getByLabel('Body').fill('{"hi": 1}');
  await page.getByRole('button', { name: 'Invoke', exact: true }).click();
  await eventually(async () => {
    const out = await page.locator('pre.output').textContent();
    assert(out.includes('"hi"'), `the echo: ${out}`);
  }, 'the response is shown');
  assert(/Status\s*200/.test(await page.locator('.call-facts').textContent()), 'status 200');
  await shot(page, 'playground-http');
});

await step('a WASI command deployed as a CGI handler is described and called over HTTP', async () => {
  await page.goto(`${BASE}/console/#/functions/c-hello-http`);
  await page.getByText('A WASI command as a CGI handler').waitFor();
  await page.getByText('http (a CGI handler)').waitFor();
  await page.goto(`${BASE}/console/#/functions/c-hello-http/playground`);
  await page.getByText('CGI handler (WASI command)').waitFor();
  await page.getByLabel('Path').fill('/hello?name=Ada');
  await page.getByRole('button', { name: 'Invoke', exact: true }).click();
  await eventually(async () => {
    const out = await page.locator('pre.output').textContent();
    assert(out.includes('Hello Ada!'), `the CGI answer: ${out}`);
  }, 'the CGI answer is shown');
  assert(/Status\s*200/.test(await page.locator('.call-facts').textContent()), 'status 200');
});

await step('charts show the calls of a burst', async () => {
  const burst = 40;
  await Promise.all(Array.from({ length: burst }, (_, i) => invoke('hello', 'main', { name: `n${i}` })));
  await page.goto(`${BASE}/console/#/functions/hello`);
  const summary = page.getByRole('figure').filter({ hasText: 'Calls per second' }).locator('.chart-summary');
  const calls = await eventually(async () => {
    const m = (await summary.textContent()).match(/^([\d,]+) calls in 15 minutes, peak (\d+)\/s/);
    assert(m, `summary: ${await summary.textContent()}`);
    const n = Number(m[1].replace(/,/g, ''));
    assert(n >= burst && Number(m[2]) > 0, `${n} calls, peak ${m[2]}`);
    return n;
  }, 'the calls chart counts the burst');
  const path = await page.locator('svg.chart path.s-calls').first().getAttribute('d');
  assert(path && path.split(/[ML]/).length > 100, 'the calls line has a point per second');
  const latency = await page.getByRole('figure').filter({ hasText: 'Latency' }).locator('.chart-summary').textContent();
  assert(/p50 [\d.]+ (ms|s), p99 [\d.]+ (ms|s)/.test(latency), `latency summary: ${latency}`);
  const stats = await apiGet('/v1/api/functions/hello/stats');
  assert(stats.status === 200 && stats.body.calls === calls, `the API agrees: ${stats.body.calls} vs ${calls}`);
  await shot(page, 'function', { fullPage: true });
  // The README's picture: the top of a function's page, charts first.
  await page.setViewportSize({ width: 1100, height: 720 });
  await shot(page, 'readme');
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(`${BASE}/console/#/functions`);
  const helloRow = page.getByRole('table', { name: 'Functions' }).getByRole('row').filter({ has: page.getByRole('link', { name: 'hello', exact: true }) });
  // The calls column by its heading (the first column is the row's header, not a cell).
  await helloRow.waitFor();
  const headings = await page.getByRole('table', { name: 'Functions' }).locator('thead th').allTextContents();
  const callsColumn = headings.indexOf('Calls (15 min)') - 1;
  assert(callsColumn >= 0, `a calls column in ${headings}`);
  await eventually(async () => {
    const cells = await helloRow.locator('td').allTextContents();
    assert(Number(cells[callsColumn].replace(/,/g, '')) >= burst, `the table's calls: ${cells}`);
  }, 'the functions table counts the calls');
  await shot(page, 'functions');
});

await step('roll back with the button: confirmed, then the earlier version is active', async () => {
  await page.goto(`${BASE}/console/#/functions/hello`);
  await page.getByRole('button', { name: 'Roll back to 0.1.0' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByText('hello is at 0.2.0').waitFor();
  // Cancel first: nothing changes.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  assert((await apiGet('/v1/api/functions/hello')).body.version === '0.2.0', 'cancel leaves 0.2.0 active');
  await page.getByRole('button', { name: 'Roll back to 0.1.0' }).click();
  await dialog.getByRole('button', { name: 'Roll back to 0.1.0' }).click();
  await page.getByText('hello is now at 0.1.0 (was 0.2.0).').waitFor();
  await page.getByRole('button', { name: 'Roll forward to 0.2.0' }).waitFor();
  const info = await apiGet('/v1/api/functions/hello');
  assert(info.body.version === '0.1.0', `the API says ${info.body.version}`);
  const history = page.getByRole('table', { name: 'Deployment history of hello' });
  assert(/rollback/.test(await history.textContent()), 'the history shows the rollback');
});

await step('delete asks for the id before deleting', async () => {
  await page.goto(`${BASE}/console/#/functions/xss-probe`);
  await page.getByRole('button', { name: 'Delete xss-probe…' }).click();
  const dialog = page.getByRole('dialog');
  const confirmButton = dialog.getByRole('button', { name: 'Delete' });
  assert(await confirmButton.isDisabled(), 'disabled until the id is typed');
  await dialog.getByLabel('Function id').fill('xss-prob');
  assert(await confirmButton.isDisabled(), 'still disabled with a wrong id');
  await dialog.getByLabel('Function id').fill('xss-probe');
  await confirmButton.click();
  await page.getByText('Deleted xss-probe.').waitFor();
  assert((await apiGet('/v1/api/functions/xss-probe')).status === 404, 'the API has no xss-probe');
});

await step('readable at a narrow width, reachable by keyboard', async () => {
  await page.setViewportSize({ width: 380, height: 800 });
  for (const hash of ['#/functions', '#/functions/hello', '#/functions/hello/playground', '#/keys']) {
    await page.goto(`${BASE}/console/${hash}`);
    await page.locator('h1').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(overflow <= 1, `${hash} overflows by ${overflow}px at 380px`);
  }
  await page.goto(`${BASE}/console/#/functions`);
  await page.getByRole('table', { name: 'Functions' }).waitFor();
  await shot(page, 'functions-narrow');
  // Tab from the top of a freshly loaded page reaches the navigation and the filter.
  await page.reload();
  await page.getByRole('table', { name: 'Functions' }).waitFor();
  const reached = [];
  for (let i = 0; i < 8; i += 1) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate(() => {
      const a = document.activeElement;
      return a ? (a.getAttribute('aria-label') || a.labels?.[0]?.textContent || a.textContent || '').trim() : '';
    }));
  }
  for (const want of ['API keys', 'Sign out', 'Filter functions']) {
    assert(reached.includes(want), `Tab reaches ${want}: ${reached}`);
  }
  await page.setViewportSize({ width: 1280, height: 860 });
});

await step('sign out forgets the key', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API key').waitFor();
  assert(await page.evaluate(() => sessionStorage.length) === 0, 'sessionStorage is empty');
});

await step('no dialog, page error or console error happened', async () => {
  assert(dialogs.length === 0, `dialogs: ${dialogs}`);
  assert(pageErrors.length === 0, `page errors: ${pageErrors}`);
  assert(consoleErrors.length === 0, `console errors (CSP violations show here): ${consoleErrors}`);
  const foreign = requested.filter((u) => !u.startsWith(BASE) && !u.startsWith('data:'));
  assert(foreign.length === 0, `requests beyond the host: ${foreign}`);
});

await context.close();
fs.rmSync(userData, { recursive: true, force: true });
console.log(`all ${passed} cases passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
