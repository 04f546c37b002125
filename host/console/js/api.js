// The console talks to the host only through its API, with the key the user signed in with.
// The key lives in this tab's sessionStorage: never in a URL, a cookie or localStorage.

const KEY = 'fdo.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

/** An API answer that is not a success: `status`, and the JSON error body when there is one. */
export class ApiError extends Error {
  constructor(status, body) {
    const message = body && typeof body === 'object' && body.message
      ? body.message
      : `The host answered ${status}`;
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** Fetches with the key and the console's request settings; the `Response` as it is. */
export function request(path, { method = 'GET', headers = {}, body, key } = {}) {
  const k = key ?? session.key() ?? '';
  return fetch(path, {
    method,
    headers: { 'X-API-Key': k, ...headers },
    body,
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
    referrerPolicy: 'no-referrer',
  });
}

/** A body's text as JSON when it parses, else the text (`null` when empty). */
export function parseBody(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A response's body: JSON when it parses, else the text. */
export async function readBody(response) {
  return parseBody(await response.text());
}

/** Tells the console that the session's key stopped working (it signs out and says why). */
export function unauthorized(message) {
  window.dispatchEvent(new CustomEvent('fdo:unauthorized', { detail: message }));
}

/**
 * Calls the API and answers its JSON, or throws an `ApiError`. A 401 with the session's key
 * means the key stopped working (revoked, expired): the console signs out and says why.
 */
export async function api(path, { method = 'GET', json, key } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await request(path, { method, headers, body, key });
  } catch (e) {
    throw new ApiError(0, { message: `The host could not be reached (${e.message})` });
  }
  const data = await readBody(response);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && key === undefined) unauthorized(error.message);
    throw error;
  }
  return data;
}

/** `/v1/api/functions/ID...` with the id encoded. */
export function fnPath(id, rest = '') {
  return `/v1/api/functions/${encodeURIComponent(id)}${rest}`;
}

/** `/v1/functions/ID...` (calls and logs) with the id encoded. */
export function callPath(id, rest = '') {
  return `/v1/functions/${encodeURIComponent(id)}${rest}`;
}
