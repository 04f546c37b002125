// Building the page. Everything shown that comes from the host (ids, metadata, results, log
// lines) goes through `h` and `svg`, which make text nodes of strings: nothing is ever parsed as
// HTML, so a log line `<img src=x onerror=...>` is shown as those characters.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'open', 'readOnly']);

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (PROPERTIES.has(k)) el[k] = v;
    else if (k === 'href' && !/^[#/]/.test(String(v))) throw new Error(`refusing link ${v}`);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** Appends children: nodes as they are, anything else as text; null/false skipped. */
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** `h('a', {href: '#/x', class: 'y'}, 'text', child)`. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  return append(el, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, as `h`. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  return append(el, children);
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let ids = 0;
/** A unique element id. */
export function uid(prefix = 'id') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A label and its control, tied together. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('field');
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hintEl = h('p', { class: 'hint', id: uid('hint') }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return h('div', { class: 'field' }, parts);
}

/** A definition list from `[term, value]` pairs (pairs with an undefined value are left out). */
export function dl(pairs, cls = 'facts') {
  return h('dl', { class: cls },
    pairs.filter(([, v]) => v !== undefined).map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}

/** A table: `columns` are `[heading, cell(row)]`; a scrolling region at narrow widths. */
export function table(caption, columns, rows, opts = {}) {
  const t = h('table', { class: opts.class },
    h('caption', { class: opts.showCaption ? '' : 'visually-hidden' }, caption),
    h('thead', null, h('tr', null, columns.map(([head, , cls]) => h('th', { scope: 'col', class: cls }, head)))),
    h('tbody', null, rows.map((row) => {
      const tr = h('tr', null, columns.map(([, cell, cls], i) => (i === 0 && opts.rowHeader
        ? h('th', { scope: 'row', class: cls }, cell(row))
        : h('td', { class: cls }, cell(row)))));
      if (opts.rowProps) setProps(tr, opts.rowProps(row));
      return tr;
    })));
  return h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' }, t);
}

/** Says `message` to screen readers (and nothing on screen). */
export function announce(message) {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  setTimeout(() => { el.textContent = message; }, 50);
}

/** A notice at the top of a page: `kind` is `error`, `ok` or `info`. */
export function notice(kind, ...content) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, content);
}

/** Copies `text` to the clipboard; falls back to selecting it in a hidden field. */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch { /* fall back below */ }
  }
  const area = h('textarea', { class: 'offscreen', readOnly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  area.remove();
  return ok;
}

/** A button that copies `text()` and says so. */
export function copyButton(label, text) {
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      const ok = await copyText(text());
      status.textContent = ok ? 'Copied' : 'Copy failed: select the text and copy it';
      setTimeout(() => { status.textContent = ''; }, 2500);
    },
  }, label);
  return h('span', { class: 'copy' }, button, status);
}
