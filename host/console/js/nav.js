// Moving between pages, and a message carried to the next page shown.

let flash = null;

/** Shows `message` (`kind`: `ok`, `info`, `error`) on the next page rendered. */
export function flashNext(kind, message) {
  flash = [kind, message];
}

/** The message for the page being rendered, once. */
export function takeFlash() {
  const f = flash;
  flash = null;
  return f;
}

/** Goes to `hash` (`#/functions`); renders it again when already there. */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Links inside the console. */
export const links = {
  functions: () => '#/functions',
  fn: (id) => `#/functions/${encodeURIComponent(id)}`,
  playground: (id) => `#/functions/${encodeURIComponent(id)}/playground`,
  logs: (id, query) => {
    const q = query ? new URLSearchParams(query).toString() : '';
    return `#/functions/${encodeURIComponent(id)}/logs${q ? `?${q}` : ''}`;
  },
  keys: () => '#/keys',
};
