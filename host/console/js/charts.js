// Small SVG line charts of the host's 15-minute call history (`GET .../stats`). Colours come
// from the stylesheet (classes), so the CSP's `style-src 'self'` holds.

import { h, svg } from './dom.js';

const W = 480;
const H = 180;
const PAD = { left: 44, right: 10, top: 14, bottom: 24 };

/** A round upper bound for the y axis; for counts, an even whole number (whole halves). */
function niceMax(max, counts) {
  if (counts && !(max > 2)) return 2;
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const m of counts ? [1, 2, 4, 6, 8, 10] : [1, 2, 2.5, 5, 10]) {
    if (max <= m * power && (!counts || Number.isInteger((m * power) / 2))) return m * power;
  }
  return 10 * power;
}

function tick(value) {
  if (value >= 100 || Number.isInteger(value)) return String(Math.round(value));
  return value.toFixed(value < 1 ? 2 : 1);
}

/**
 * A line chart over time.
 * `series`: `[{ name, cls, values }]`, values evenly spaced `stepSeconds` apart from
 * `startMs`, `null` for a gap. `label` names the chart for assistive technology and
 * `summary` says its gist in words (shown under it).
 */
export function lineChart({ title, label, unit, startMs, stepSeconds, series, summary, counts = false }) {
  const n = Math.max(...series.map((s) => s.values.length), 1);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null))), counts);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (i) => PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * iw);
  const y = (v) => PAD.top + ih - (v / max) * ih;

  const grid = [0, 0.5, 1].map((f) => {
    const v = max * f;
    return [
      svg('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      svg('text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, tick(v)),
    ];
  });
  const spanMinutes = Math.round((n * stepSeconds) / 60);
  const xLabels = [
    svg('text', { class: 'axis', x: PAD.left, y: H - 6, 'text-anchor': 'start' }, `−${spanMinutes} min`),
    svg('text', { class: 'axis', x: PAD.left + iw / 2, y: H - 6, 'text-anchor': 'middle' }, `−${spanMinutes / 2} min`),
    svg('text', { class: 'axis', x: W - PAD.right, y: H - 6, 'text-anchor': 'end' }, 'now'),
  ];
  const lines = series.map((s) => {
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    // A lone point (one window with calls) would draw nothing: mark it.
    const dots = s.values.length <= 120
      ? s.values.map((v, i) => (v === null || v === undefined ? null
        : svg('circle', { class: `dot ${s.cls}`, cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5 })))
      : [];
    return [svg('path', { class: `line ${s.cls}`, d: d || 'M0,0' }), dots];
  });
  const start = new Date(startMs);
  const chart = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart',
    role: 'img',
    'aria-label': `${label}. ${summary}`,
    'data-start': start.toISOString(),
  },
  svg('title', null, label),
  grid, xLabels,
  svg('text', { class: 'axis unit', x: PAD.left + 4, y: PAD.top + 10 }, unit),
  lines);
  const legend = series.length > 1
    ? h('ul', { class: 'legend', 'aria-hidden': 'true' }, series.map((s) => h('li', null, h('span', { class: `swatch ${s.cls}` }), s.name)))
    : null;
  return h('figure', { class: 'chart-box' },
    h('figcaption', null, h('h3', null, title), h('p', { class: 'chart-summary' }, summary)),
    chart, legend);
}
