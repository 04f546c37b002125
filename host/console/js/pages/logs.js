// A function's log entries, newest first: level filter, one call's entries by request id, and
// live follow (polling with the API's `timestamp` filter every 2 s while the tab is visible).

import { api, callPath } from '../api.js';
import { h, replace, field, notice, table } from '../dom.js';
import * as fmt from '../format.js';
import { links } from '../nav.js';
import { fnHeader } from './common.js';

const FOLLOW_MS = 2_000;
const LEVELS = ['debug', 'info', 'warn', 'error'];
/** The most entries kept on the page (and asked for when looking for one request's). */
const MAX = 1000;

function entryKey(e) {
  return `${e.timestamp}|${e.level}|${e.requestId || ''}|${e.message}`;
}

function columns(id) {
  return [
    ['Time', (e) => h('time', { datetime: e.timestamp, title: fmt.time(e.timestamp) }, fmt.clock(e.timestamp))],
    ['Level', (e) => h('span', { class: `level ${LEVELS.includes(e.level) ? e.level : ''}` }, e.level)],
    ['Request id', (e) => (e.requestId
      ? h('a', { href: links.logs(id, { requestId: e.requestId }), class: 'rid' }, e.requestId)
      : '–')],
    ['Version', (e) => e.version || '–'],
    ['Message', (e) => [
      h('span', { class: 'message' }, e.message),
      e.outcome || e.durationMs !== undefined
        ? h('span', { class: 'meta' }, [e.outcome, e.durationMs !== undefined ? `${e.durationMs} ms` : null].filter(Boolean).join(' · '))
        : null,
    ]],
  ];
}

export async function render(el, { params, query }) {
  const [id] = params;
  const requestId = query.get('requestId') || '';
  const level = h('select', { name: 'level' },
    h('option', { value: '' }, 'all levels'),
    LEVELS.map((l) => h('option', { value: l, selected: query.get('level') === l }, l)));
  const follow = h('input', { type: 'checkbox', name: 'follow', checked: query.get('follow') === '1' });
  const followLabel = h('label', { class: 'check' }, follow, ' Live follow');
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const status = h('p', { class: 'count', role: 'status' });
  const body = h('div');
  let entries = [];
  let timer = null;

  const draw = () => {
    const shown = requestId ? entries.filter((e) => e.requestId === requestId) : entries;
    const what = requestId ? `request ${requestId}` : 'this function';
    status.textContent = `${shown.length} ${shown.length === 1 ? 'entry' : 'entries'} of ${what}${follow.checked ? ', following' : ''}`;
    replace(body, shown.length
      ? table(`Log entries of ${requestId ? `request ${requestId}` : id}`, columns(id), shown, { class: 'logs' })
      : h('p', { class: 'empty' }, requestId ? 'No entries of this request (yet, or no longer kept).' : 'No log entries.'));
  };

  const queryString = (extra) => {
    const q = new URLSearchParams();
    if (level.value) q.set('level', level.value);
    q.set('limit', String(requestId ? MAX : 200));
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q.toString();
  };

  // A slower answer to an earlier query (another level, say) must not overwrite a newer one.
  let generation = 0;
  const loadAll = async () => {
    const mine = ++generation;
    try {
      const r = await api(callPath(id, `/logs?${queryString()}`));
      if (mine !== generation) return;
      entries = r.logs || [];
      draw();
    } catch (e) {
      if (e.status !== 401) replace(body, notice('error', `Could not load the logs: ${e.message}`));
    }
  };

  // Entries after the newest one shown; entries of that same millisecond are asked for again
  // and de-duplicated, so none written later within it is missed.
  const loadNewer = async () => {
    if (document.hidden) return;
    if (!entries.length) {
      await loadAll();
      return;
    }
    const newest = Date.parse(entries[0].timestamp);
    const mine = generation;
    try {
      const r = await api(callPath(id, `/logs?${queryString({ timestamp: String(newest - 1) })}`));
      if (mine !== generation) return;
      const seen = new Set(entries.map(entryKey));
      const fresh = (r.logs || []).filter((e) => !seen.has(entryKey(e)));
      if (fresh.length) {
        entries = [...fresh, ...entries].slice(0, MAX);
        draw();
      }
    } catch (e) {
      if (e.status !== 401) status.textContent = `Following paused: ${e.message}`;
    }
  };

  const setFollow = () => {
    clearInterval(timer);
    timer = follow.checked ? setInterval(loadNewer, FOLLOW_MS) : null;
    draw();
  };

  const remember = () => {
    const q = {};
    if (requestId) q.requestId = requestId;
    if (level.value) q.level = level.value;
    if (follow.checked) q.follow = '1';
    history.replaceState(null, '', links.logs(id, q));
  };
  level.addEventListener('change', () => { remember(); loadAll(); });
  follow.addEventListener('change', () => { remember(); setFollow(); });
  refresh.addEventListener('click', loadAll);

  replace(el,
    fnHeader(id, 'logs'),
    requestId
      ? h('p', { class: 'filter-note' }, 'Showing the entries of request ', h('code', null, requestId), '. ',
        h('a', { href: links.logs(id) }, 'Show every entry'))
      : null,
    h('div', { class: 'toolbar' }, field('Level', level), followLabel, refresh, status),
    body);
  await loadAll();
  setFollow();
  return () => clearInterval(timer);
}
