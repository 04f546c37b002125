// Every function: active version, kind, load state, and the last 15 minutes of calls.
// One request for the list and one for the stats of all (GET /v1/api/stats), refreshed every
// 10 s while the tab is visible.

import { api } from '../api.js';
import { h, replace, table, notice } from '../dom.js';
import * as fmt from '../format.js';
import { links } from '../nav.js';

const REFRESH_MS = 10_000;

function status(row) {
  if (!row.load) return 'not loaded';
  return row.load.degraded ? 'degraded' : 'loaded';
}

function rowsOf(list, stats) {
  const byId = new Map((stats.functions || []).map((s) => [s.id, s]));
  return list.map((f) => ({ ...f, stats: byId.get(f.id) || {}, load: (byId.get(f.id) || {}).load || null }));
}

function matches(row, filter) {
  if (!filter) return true;
  const hay = [row.id, row.namespace, row.privacy, row.version, row.language, row.load && row.load.kind, status(row)]
    .filter(Boolean).join(' ').toLowerCase();
  return filter.toLowerCase().split(/\s+/).filter(Boolean).every((word) => hay.includes(word));
}

const COLUMNS = [
  ['Function', (r) => h('a', { href: links.fn(r.id) }, r.id)],
  ['Namespace', (r) => r.namespace, undefined, 'namespace'],
  ['Privacy', (r) => r.privacy, undefined, 'privacy'],
  ['Version', (r) => r.version],
  ['Kind', (r) => (r.load ? r.load.kind : '–')],
  ['Language', (r) => r.language],
  ['Status', (r) => h('span', { class: `badge ${status(r).replace(' ', '-')}` }, status(r))],
  ['Degraded', (r) => (r.load ? fmt.yesNo(r.load.degraded) : '–')],
  ['From cache', (r) => (r.load ? fmt.yesNo(r.load.fromCache) : '–')],
  ['Load time', (r) => (r.load ? fmt.ms(r.load.loadTimeMs) : '–'), 'num'],
  ['Calls (15 min)', (r) => fmt.count(r.stats.calls ?? 0), 'num'],
  ['Errors (15 min)', (r) => fmt.count(r.stats.errors ?? 0), 'num'],
  ['p50', (r) => fmt.ms(r.stats.p50Ms), 'num'],
  ['p99', (r) => fmt.ms(r.stats.p99Ms), 'num'],
];

export async function render(el, { query }) {
  const filter = h('input', {
    type: 'search', id: 'function-filter', placeholder: 'id, kind, language, status', value: query.get('q') || '',
  });
  const count = h('p', { class: 'count', role: 'status' });
  const body = h('div');
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  let rows = [];

  const draw = () => {
    const shown = rows.filter((r) => matches(r, filter.value.trim()));
    count.textContent = `${shown.length} of ${rows.length} functions`;
    if (rows.length === 0) {
      replace(body, h('p', { class: 'empty' }, 'No functions yet. Deploy one with `fdo deploy` or POST /v1/api/functions.'));
      return;
    }
    // Namespace and privacy columns once the host has them (issue 22).
    const columns = COLUMNS.filter(([, , , field]) => !field || rows.some((r) => r[field] !== undefined));
    replace(body, table('Functions', columns, shown, { rowHeader: true, class: 'functions' }));
  };
  const load = async () => {
    try {
      const [list, stats] = await Promise.all([api('/v1/api/functions'), api('/v1/api/stats')]);
      rows = rowsOf(list, stats);
      draw();
    } catch (e) {
      if (e.status !== 401) replace(body, notice('error', `Could not load the functions: ${e.message}`));
    }
  };
  filter.addEventListener('input', () => {
    const q = filter.value.trim();
    history.replaceState(null, '', q ? `#/functions?q=${encodeURIComponent(q)}` : '#/functions');
    draw();
  });
  refresh.addEventListener('click', load);

  replace(el,
    h('div', { class: 'page-head' },
      h('h1', null, 'Functions'),
      h('p', { class: 'sub' }, 'Calls, errors and latency over the last 15 minutes; load state as held in memory now.')),
    h('div', { class: 'toolbar' },
      h('label', { for: filter.id }, 'Filter functions'), filter, refresh, count),
    body);
  await load();
  const timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  return () => clearInterval(timer);
}
