// Numbers, times and sizes as people read them.

export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(2)} s`;
}

export function count(value) {
  if (value === null || value === undefined) return '–';
  return Number(value).toLocaleString('en');
}

export function bytes(value) {
  if (value === null || value === undefined) return '–';
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

/** An ISO timestamp in the reader's time zone, with seconds. */
export function time(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** An ISO timestamp as a `<time>`-ready pair: text and the machine value. */
export function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function yesNo(value) {
  if (value === undefined || value === null) return '–';
  return value ? 'yes' : 'no';
}

/** A string quoted for a POSIX shell. */
export function shellQuote(s) {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(s)) return s;
  return `'${String(s).replace(/'/g, "'\\''")}'`;
}

/** Compares dotted versions numerically (semver without pre-release subtleties). */
export function compareVersions(a, b) {
  const parse = (v) => String(v).split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    if (x[i] === undefined) return -1;
    if (y[i] === undefined) return 1;
    if (x[i] === y[i]) continue;
    if (typeof x[i] === 'number' && typeof y[i] === 'number') return x[i] - y[i];
    return String(x[i]) < String(y[i]) ? -1 : 1;
  }
  return 0;
}
