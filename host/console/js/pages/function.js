// One function: its charts, metadata, limits, environment (secret names only), allowed hosts,
// exports, versions and history; roll back to a version and delete, each confirmed first.

import { api, fnPath, ApiError } from '../api.js';
import { h, replace, dl, table, notice, announce } from '../dom.js';
import * as fmt from '../format.js';
import { lineChart } from '../charts.js';
import { confirm } from '../dialog.js';
import { guard } from '../caps.js';
import { go, flashNext, links } from '../nav.js';
import { fnHeader } from './common.js';

const CHART_REFRESH_MS = 5_000;

/** A chart of one per-second series (`calls` or `errors`) of a `stats` answer. */
function perSecondChart(stats, key, cls) {
  const per = stats.perSecond;
  const peak = Math.max(0, ...per[key]);
  const noun = key === 'calls' ? 'Calls' : 'Errors';
  return lineChart({
    title: `${noun} per second`,
    label: `${noun} per second over the last 15 minutes`,
    unit: `${key}/s`,
    startMs: per.startMs,
    stepSeconds: per.stepSeconds,
    series: [{ name: key, cls, values: per[key] }],
    summary: `${fmt.count(stats[key])} ${key} in 15 minutes, peak ${fmt.count(peak)}/s`,
    counts: true,
  });
}

/** The three charts of a function's `stats` answer. */
export function charts(stats) {
  const lat = stats.latency;
  return h('div', { class: 'charts' },
    perSecondChart(stats, 'calls', 's-calls'),
    perSecondChart(stats, 'errors', 's-errors'),
    lineChart({
      title: 'Latency',
      label: `Latency p50 and p99 per ${lat.stepSeconds} seconds over the last 15 minutes`,
      unit: 'ms',
      startMs: lat.startMs,
      stepSeconds: lat.stepSeconds,
      series: [
        { name: 'p50', cls: 's-p50', values: lat.p50Ms },
        { name: 'p99', cls: 's-p99', values: lat.p99Ms },
      ],
      summary: stats.calls ? `p50 ${fmt.ms(stats.p50Ms)}, p99 ${fmt.ms(stats.p99Ms)} over 15 minutes` : 'no calls in 15 minutes',
    }));
}

function details(info) {
  return dl([
    ['Active version', info.version],
    ['Namespace', info.namespace],
    ['Privacy', info.privacy === undefined ? undefined
      : info.privacy === 'public' ? 'public: anyone may call it' : 'private: calls need a key or a token'],
    ['Served version', info.servedVersion],
    ['Kind', info.kind],
    ['Interface', info.kind === 'command' ? (info.interface === 'http' ? 'http (a CGI handler)' : 'rpc') : undefined],
    ['Status', info.status],
    ['Language', info.language],
    ['Entry point', info.entryPoint],
    ['Dependencies', Object.keys(info.dependencies || {}).length
      ? Object.entries(info.dependencies).map(([k, v]) => `${k} ${v}`).join(', ') : 'none'],
    ['Created', fmt.time(info.createdAt)],
    ['Updated', fmt.time(info.updatedAt)],
    ['Digest', h('code', { class: 'digest' }, info.digest)],
    ['Size', fmt.bytes(info.size)],
    ['Loaded from cache', fmt.yesNo(info.fromCache)],
    ['Load time', info.loadTimeMs === undefined ? undefined : fmt.ms(info.loadTimeMs)],
    ['Degraded', fmt.yesNo(info.degraded)],
    ['Why degraded', info.degradationReason],
  ]);
}

function limits(info) {
  const l = info.limits || {};
  const value = (v, unit, dflt) => (v === undefined ? `host default (${dflt})` : `${fmt.count(v)} ${unit}`);
  return dl([
    ['Memory', value(l.memoryMb, 'MiB', '128 MiB')],
    ['Timeout', value(l.timeoutMs, 'ms', '5,000 ms')],
    ['Max concurrency', value(l.maxConcurrency, 'calls', '64 calls')],
  ]);
}

function environment(info) {
  const env = Object.entries(info.env || {});
  const secrets = info.secrets || [];
  return [
    env.length
      ? table('Environment variables', [['Name', ([k]) => h('code', null, k)], ['Value', ([, v]) => h('code', null, v)]], env, { rowHeader: true })
      : h('p', { class: 'empty' }, 'No environment variables.'),
    h('h3', null, 'Secrets'),
    secrets.length
      ? h('ul', { class: 'names' }, secrets.map((s) => h('li', null, h('code', null, s))))
      : h('p', { class: 'empty' }, 'No secrets.'),
    h('p', { class: 'hint' }, 'Secret values are write-only: the host never returns them.'),
  ];
}

function hosts(info) {
  const list = info.allowedHosts || [];
  return list.length
    ? h('ul', { class: 'names' }, list.map((x) => h('li', null, h('code', null, x))))
    : h('p', { class: 'empty' }, 'None: outbound HTTP is refused.');
}

function exportsOf(info) {
  if (info.kind === 'http') return h('p', null, 'A wasi:http handler: it gets the HTTP request itself (any method, any path under the function).');
  if (info.kind === 'rpc') return h('p', null, 'RPC methods (fdo:function/rpc): called by name with JSON params; the component does not list them.');
  if (info.kind === 'command' && info.interface === 'http') return h('p', null, 'A WASI command as a CGI handler: each HTTP request under the function runs it once, with the request in its environment and on stdin.');
  if (info.kind === 'command') return h('p', null, 'A WASI command: each call runs it once with {"method", "params"} as JSON on stdin; what it writes to stdout is the result.');
  const list = info.exports || [];
  if (!list.length) return h('p', { class: 'empty' }, info.status === 'loaded' ? 'No callable exports.' : 'Unknown until the function loads.');
  return h('ul', { class: 'names' }, list.map((sig) => h('li', null, h('code', null, sig))));
}

function versionsSection(id, data, onRollback) {
  const active = data.active;
  const activeCreated = (data.versions.find((v) => v.version === active) || {}).createdAt;
  const columns = [
    ['Version', (v) => v.version],
    ['Created', (v) => fmt.time(v.createdAt)],
    ['Digest', (v) => h('code', { class: 'digest' }, (v.digest || '').slice(0, 19))],
    ['Size', (v) => fmt.bytes(v.size), 'num'],
    ['State', (v) => (v.active ? h('span', { class: 'badge loaded' }, 'active') : '')],
    ['Action', (v) => {
      if (v.version === active) return '';
      const earlier = activeCreated ? v.createdAt < activeCreated : fmt.compareVersions(v.version, active) < 0;
      const label = earlier ? `Roll back to ${v.version}` : `Roll forward to ${v.version}`;
      return guard(h('button', { type: 'button', class: 'secondary', onclick: () => onRollback(v.version, label) }, label), 'functions:rollback');
    }],
  ];
  const history = [...(data.history || [])].reverse();
  return [
    table(`Versions of ${id}`, columns, data.versions, { rowHeader: true }),
    h('h3', null, 'Deployment history'),
    history.length
      ? table(`Deployment history of ${id}`, [
        ['When', (e) => fmt.time(e.at)],
        ['Action', (e) => e.action],
        ['Version', (e) => e.version],
        ['Previous', (e) => e.previousVersion || '–'],
      ], history)
      : h('p', { class: 'empty' }, 'No history.'),
  ];
}

export async function render(el, { params }) {
  const [id] = params;
  let info;
  let versions;
  try {
    [info, versions] = await Promise.all([api(fnPath(id)), api(fnPath(id, '/versions'))]);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      replace(el, fnHeader(id, 'overview'), notice('error', `There is no function ${id}. `, h('a', { href: links.functions() }, 'See the functions')));
      return null;
    }
    throw e;
  }
  const chartBox = h('div', { class: 'chart-area', 'aria-live': 'off' }, h('p', { class: 'empty' }, 'Loading the last 15 minutes…'));
  const messages = h('div', { class: 'messages' });

  const loadStats = async () => {
    try {
      replace(chartBox, charts(await api(fnPath(id, '/stats'))));
    } catch (e) {
      if (e.status !== 401) replace(chartBox, notice('error', `Could not load the stats: ${e.message}`));
    }
  };

  const onRollback = async (version, label) => {
    const ok = await confirm({
      title: `${label}?`,
      body: [h('p', null, `${id} is at ${versions.active}. After this, calls are served by ${version}.`),
        h('p', null, 'Versions are immutable: you can roll back again at any time.')],
      confirmLabel: label,
    });
    if (!ok) return;
    try {
      const r = await api(fnPath(id, '/rollback'), { method: 'POST', json: { version } });
      flashNext('ok', `${id} is now at ${r.version} (was ${r.previous}).`);
      announce(`${id} is now at ${r.version}`);
      go(links.fn(id));
    } catch (e) {
      replace(messages, notice('error', `Could not roll back: ${e.message}`));
    }
  };

  const onDelete = async () => {
    const ok = await confirm({
      title: `Delete ${id}?`,
      body: [h('p', null, `This deletes ${id} with all its versions, history and logs. It cannot be undone.`),
        h('p', null, 'Type the function id to confirm.')],
      confirmLabel: 'Delete',
      danger: true,
      typeToConfirm: id,
      typeLabel: 'Function id',
    });
    if (!ok) return;
    try {
      await api(fnPath(id), { method: 'DELETE' });
      flashNext('ok', `Deleted ${id}.`);
      go(links.functions());
    } catch (e) {
      replace(messages, notice('error', `Could not delete: ${e.message}`));
    }
  };

  const status = h('span', { class: `badge ${info.degraded ? 'degraded' : info.status}` }, info.degraded ? 'degraded' : info.status);
  replace(el,
    fnHeader(id, 'overview', h('p', { class: 'sub' }, status, ` version ${info.version} · ${info.kind || 'unknown kind'} · ${info.language}`)),
    messages,
    h('section', { 'aria-labelledby': 'activity' }, h('h2', { id: 'activity' }, 'Last 15 minutes'), chartBox),
    h('div', { class: 'columns' },
      h('section', { 'aria-labelledby': 'details' }, h('h2', { id: 'details' }, 'Details'), details(info)),
      h('section', { 'aria-labelledby': 'limits' }, h('h2', { id: 'limits' }, 'Limits'), limits(info),
        h('h2', { id: 'hosts' }, 'Allowed hosts'), hosts(info))),
    h('section', { 'aria-labelledby': 'env' }, h('h2', { id: 'env' }, 'Environment'), environment(info)),
    h('section', { 'aria-labelledby': 'exports' }, h('h2', { id: 'exports' }, 'Exports'), exportsOf(info),
      h('p', null, h('a', { href: links.playground(id) }, `Call ${id} in the playground`))),
    h('section', { 'aria-labelledby': 'versions' }, h('h2', { id: 'versions' }, 'Versions'),
      versionsSection(id, versions, onRollback)),
    h('section', { 'aria-labelledby': 'danger', class: 'danger-zone' }, h('h2', { id: 'danger' }, 'Delete'),
      h('p', null, 'Deleting removes every version, the history and the logs.'),
      guard(h('button', { type: 'button', class: 'danger', onclick: onDelete }, `Delete ${id}…`), 'functions:delete')));
  await loadStats();
  const timer = setInterval(() => { if (!document.hidden) loadStats(); }, CHART_REFRESH_MS);
  return () => clearInterval(timer);
}
