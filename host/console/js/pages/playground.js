// Call a function from the browser: an RPC or typed call (Method + Params), or a raw HTTP
// request for a wasi:http handler. Shows the answer, its status, how long it took and its
// request id (a link to that call's log entries), and the same call as curl or `fdo invoke`.

import { api, fnPath, callPath, request, parseBody, unauthorized, ApiError } from '../api.js';
import { h, replace, field, dl, notice, copyButton } from '../dom.js';
import * as fmt from '../format.js';
import { guard } from '../caps.js';
import { links } from '../nav.js';
import { fnHeader } from './common.js';

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/** Splits `a: t, b: list<tuple<u8, u8>>` at its top-level commas. */
function splitTop(text) {
  const parts = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '<' || c === '(') depth += 1;
    else if (c === '>' || c === ')') depth -= 1;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (text.slice(start).trim()) parts.push(text.slice(start).trim());
  return parts;
}

/** An example JSON value of a WIT type name as the host prints it. */
function example(type) {
  const t = type.trim();
  if (t === 'bool') return false;
  if (/^[su](8|16|32|64)$/.test(t) || /^f(32|64)$/.test(t)) return 0;
  if (t === 'char') return 'a';
  if (t === 'string') return '';
  if (t.startsWith('list<') || t.startsWith('tuple<')) return [];
  if (t.startsWith('option<')) return null;
  if (t.startsWith('result<')) return { ok: example(splitTop(t.slice(7, -1))[0] || 'string') };
  if (t === 'record' || t.startsWith('map<')) return {};
  if (t === 'flags') return [];
  return null;
}

/** `name(a: u32, b: string) -> u32` → `{ name, params: {a: 0, b: ""} }`. */
export function parseSignature(sig) {
  const open = sig.indexOf('(');
  if (open < 0) return { name: sig, params: {} };
  let depth = 0;
  let close = -1;
  for (let i = open; i < sig.length; i += 1) {
    if (sig[i] === '(') depth += 1;
    if (sig[i] === ')') {
      depth -= 1;
      if (depth === 0) { close = i; break; }
    }
  }
  const params = {};
  for (const p of splitTop(sig.slice(open + 1, close))) {
    const colon = p.indexOf(':');
    if (colon > 0) params[p.slice(0, colon).trim()] = example(p.slice(colon + 1));
  }
  return { name: sig.slice(0, open), params };
}

function curlRpc(id, method, params) {
  const body = JSON.stringify({ method, params });
  return `curl -s -H "X-API-Key: $FDO_API_KEY" -H 'Content-Type: application/json' \\\n  -d ${fmt.shellQuote(body)} ${fmt.shellQuote(location.origin + callPath(id))}`;
}

function fdoRpc(id, method, params) {
  return `fdo invoke ${fmt.shellQuote(id)} ${fmt.shellQuote(method)} --params ${fmt.shellQuote(JSON.stringify(params))}`;
}

function parseHeaders(text) {
  const headers = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`header line "${line}" is not Name: value`);
    headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return headers;
}

function httpUrl(id, path) {
  const p = path.trim();
  return callPath(id, p === '' || p === '/' ? '' : (p.startsWith('/') ? p : `/${p}`));
}

function curlHttp(id, method, path, headers, body) {
  const parts = ['curl -s -i', `-X ${method}`, '-H "X-API-Key: $FDO_API_KEY"'];
  for (const [k, v] of headers) parts.push(`-H ${fmt.shellQuote(`${k}: ${v}`)}`);
  if (body) parts.push(`--data-binary ${fmt.shellQuote(body)}`);
  parts.push(fmt.shellQuote(location.origin + httpUrl(id, path)));
  return parts.join(' ');
}

function fdoHttp(id, method, path, headers, body) {
  const parts = ['fdo invoke --http', fmt.shellQuote(id), fmt.shellQuote(path.trim() || '/'), `-X ${method}`];
  for (const [k, v] of headers) parts.push(`-H ${fmt.shellQuote(`${k}: ${v}`)}`);
  if (body) parts.push(`-d ${fmt.shellQuote(body)}`);
  return parts.join(' ');
}

/** The answer's status, duration and request id (linked to its logs). */
function callFacts(id, response, elapsed) {
  const rid = response.headers.get('x-request-id');
  const version = response.headers.get('x-fdo-version');
  return dl([
    ['Status', h('span', { class: response.ok ? 'ok-text' : 'error-text' }, `${response.status} ${response.statusText}`.trim())],
    ['Duration', `${fmt.ms(elapsed)} (round trip from this browser)`],
    ['Request id', rid ? h('a', { href: links.logs(id, { requestId: rid }), class: 'rid' }, rid) : '–'],
    ['Version', version || undefined],
  ], 'facts call-facts');
}

/**
 * Makes one call (`call()` answers the fetch's `Response`) with `invoke` disabled meanwhile;
 * `show` gets the response, its body's text and the round trip in ms. A 401 signs out.
 */
async function send(invoke, out, call, show) {
  invoke.disabled = true;
  replace(out, h('p', { class: 'empty' }, 'Calling…'));
  const started = performance.now();
  try {
    const response = await call();
    const text = await response.text();
    const elapsed = performance.now() - started;
    if (response.status === 401) unauthorized(new ApiError(401, parseBody(text)).message);
    show(response, text, elapsed);
  } catch (err) {
    replace(out, notice('error', `The call did not complete: ${err.message}`));
  } finally {
    invoke.disabled = false;
  }
}

function rpcForm(id, info, out) {
  const exportsList = info.kind === 'typed' ? (info.exports || []).map(parseSignature) : [];
  const signatures = info.kind === 'typed' ? info.exports || [] : [];
  let method;
  if (exportsList.length) {
    method = h('select', { name: 'method' }, exportsList.map((e, i) => h('option', { value: e.name }, signatures[i])));
  } else {
    method = h('input', { type: 'text', name: 'method', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'main' });
  }
  const params = h('textarea', { name: 'params', rows: '6', spellcheck: 'false', class: 'code' });
  const paramsError = h('p', { class: 'field-error', id: 'params-error', role: 'alert' });
  params.setAttribute('aria-errormessage', 'params-error');
  let edited = false;
  const prefill = () => {
    const e = exportsList.find((x) => x.name === method.value);
    params.value = JSON.stringify(e ? e.params : {}, null, 2);
  };
  prefill();
  method.addEventListener('change', () => { if (!edited) prefill(); });
  const validate = () => {
    try {
      const value = JSON.parse(params.value.trim() === '' ? '[]' : params.value);
      params.removeAttribute('aria-invalid');
      paramsError.textContent = '';
      return { ok: true, value };
    } catch (e) {
      params.setAttribute('aria-invalid', 'true');
      paramsError.textContent = `Params must be JSON: ${e.message}`;
      return { ok: false };
    }
  };
  params.addEventListener('input', () => { edited = true; validate(); });

  const invoke = guard(h('button', { type: 'submit', class: 'primary' }, 'Invoke'), 'functions:invoke');
  const current = () => {
    const v = validate();
    return { method: method.value.trim(), params: v.ok ? v.value : null };
  };
  const copies = h('div', { class: 'actions' },
    copyButton('Copy as curl', () => { const c = current(); return curlRpc(id, c.method, c.params); }),
    copyButton('Copy as fdo invoke', () => { const c = current(); return fdoRpc(id, c.method, c.params); }));
  const form = h('form', { class: 'card playground', 'aria-label': `Call ${id}` },
    field('Method', method, exportsList.length ? 'The component’s exports, with their signatures.' : 'The RPC method name (fdo-sdk functions: the Rust function’s name).'),
    field('Params', params, 'JSON: an object keyed by parameter name, an array of positional params, or one bare value.'),
    paramsError,
    h('div', { class: 'actions' }, invoke),
    copies);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = validate();
    if (!v.ok) {
      params.focus();
      return;
    }
    if (!method.value.trim()) {
      replace(out, notice('error', 'Give the method to call.'));
      method.focus();
      return;
    }
    await send(invoke, out, () => request(callPath(id), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: method.value.trim(), params: v.value }),
    }), (response, text, elapsed) => {
      const body = parseBody(text);
      const shown = response.ok && body && typeof body === 'object' && 'result' in body ? body.result : body;
      replace(out,
        h('h2', { id: 'answer' }, response.ok ? 'Result' : 'Error'),
        callFacts(id, response, elapsed),
        h('pre', { class: `output ${response.ok ? '' : 'error-output'}`, tabindex: '0', 'aria-labelledby': 'answer' },
          typeof shown === 'string' ? shown : JSON.stringify(shown, null, 2)));
    });
  });
  return form;
}

function httpForm(id, out) {
  const method = h('select', { name: 'method' }, HTTP_METHODS.map((m) => h('option', { value: m }, m)));
  const path = h('input', { type: 'text', name: 'path', value: '/', autocomplete: 'off', spellcheck: 'false' });
  const headers = h('textarea', { name: 'headers', rows: '3', spellcheck: 'false', class: 'code', placeholder: 'Content-Type: application/json' });
  const body = h('textarea', { name: 'body', rows: '6', spellcheck: 'false', class: 'code' });
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const sync = () => {
    const none = method.value === 'GET' || method.value === 'HEAD';
    body.disabled = none;
  };
  method.addEventListener('change', sync);
  sync();
  const current = () => {
    const hs = parseHeaders(headers.value);
    return { method: method.value, path: path.value, headers: hs, body: body.disabled ? '' : body.value };
  };
  const safely = (f) => () => {
    try { return f(current()); } catch (e) { return `# ${e.message}`; }
  };
  const invoke = guard(h('button', { type: 'submit', class: 'primary' }, 'Invoke'), 'functions:invoke');
  const form = h('form', { class: 'card playground', 'aria-label': `Send an HTTP request to ${id}` },
    field('Method', method),
    field('Path', path, 'The path and query the handler sees, e.g. /echo?x=1.'),
    field('Headers', headers, 'One per line: Name: value.'),
    field('Body', body),
    formError,
    h('div', { class: 'actions' }, invoke),
    h('div', { class: 'actions' },
      copyButton('Copy as curl', safely((c) => curlHttp(id, c.method, c.path, c.headers, c.body))),
      copyButton('Copy as fdo invoke', safely((c) => fdoHttp(id, c.method, c.path, c.headers, c.body)))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let c;
    try {
      c = current();
      formError.textContent = '';
      headers.removeAttribute('aria-invalid');
    } catch (err) {
      formError.textContent = err.message;
      headers.setAttribute('aria-invalid', 'true');
      headers.focus();
      return;
    }
    await send(invoke, out, () => request(httpUrl(id, c.path), {
      method: c.method,
      headers: Object.fromEntries(c.headers),
      body: c.body === '' ? undefined : c.body,
    }), (response, text, elapsed) => {
      const responseHeaders = [...response.headers.entries()];
      replace(out,
        h('h2', { id: 'answer' }, 'Response'),
        callFacts(id, response, elapsed),
        h('details', null, h('summary', null, `Headers (${responseHeaders.length})`),
          dl(responseHeaders, 'facts headers')),
        h('pre', { class: 'output', tabindex: '0', 'aria-labelledby': 'answer' }, text === '' ? '(empty body)' : text));
    });
  });
  return form;
}

export async function render(el, { params }) {
  const [id] = params;
  let info;
  try {
    info = await api(fnPath(id));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      replace(el, fnHeader(id, 'playground'), notice('error', `There is no function ${id}.`));
      return null;
    }
    throw e;
  }
  const out = h('section', { class: 'answer', 'aria-live': 'polite' });
  // A WASI command deployed with `interface: http` is a CGI handler: called like a wasi:http one.
  const cgi = info.kind === 'command' && info.interface === 'http';
  const form = info.kind === 'http' || cgi ? httpForm(id, out) : rpcForm(id, info, out);
  const what = info.kind === 'http' ? 'wasi:http handler' : cgi ? 'CGI handler (WASI command)' : `${info.kind || 'unknown'} function`;
  replace(el,
    fnHeader(id, 'playground', h('p', { class: 'sub' }, `${what}, version ${info.version}`)),
    h('div', { class: 'columns' }, form, out));
  return null;
}
