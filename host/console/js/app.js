// The console's shell: sign-in state, navigation, and the routes (one module per page).
//
// Routes live in the URL's fragment (`#/functions/hello/logs?requestId=...`), so the host
// serves one page and never sees where the user is. Adding a page (namespaces, tokens, crons)
// is one entry in ROUTES and, for the main navigation, one in NAV.

import { session, api, ApiError } from './api.js';
import { h, replace, notice } from './dom.js';
import { flashNext, takeFlash } from './nav.js';
import * as caps from './caps.js';
import * as signin from './pages/signin.js';
import * as functions from './pages/functions.js';
import * as fn from './pages/function.js';
import * as playground from './pages/playground.js';
import * as logs from './pages/logs.js';
import * as keys from './pages/keys.js';

/** `[pattern, page module, section]`; patterns match the path part of the fragment. */
const ROUTES = [
  [/^\/functions$/, functions, 'functions'],
  [/^\/functions\/([^/]+)$/, fn, 'functions'],
  [/^\/functions\/([^/]+)\/playground$/, playground, 'functions'],
  [/^\/functions\/([^/]+)\/logs$/, logs, 'functions'],
  [/^\/keys$/, keys, 'keys'],
];

/** The main navigation: `[section, label, href, action the key needs]`. */
const NAV = [
  ['functions', 'Functions', '#/functions', 'functions:read'],
  ['keys', 'API keys', '#/keys', 'keys:read'],
];

const main = () => document.getElementById('main');
let cleanup = null;

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/functions';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

function renderNav(section) {
  const nav = document.getElementById('nav');
  const signedIn = Boolean(session.key());
  nav.hidden = !signedIn;
  document.getElementById('session').hidden = !signedIn;
  replace(nav, h('ul', null, NAV.filter(([, , , action]) => caps.can(action).ok).map(([s, label, href]) =>
    h('li', null, h('a', { href, 'aria-current': s === section ? 'page' : null }, label)))));
}

async function route() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const el = main();
  if (!session.key()) {
    renderNav(null);
    document.title = 'Sign in · fdo console';
    signin.render(el, { onSignedIn: onSignedIn, message: takeFlash() });
    return;
  }
  const { path, query } = parseHash();
  const match = ROUTES.map(([re, page, section]) => [path.match(re), page, section]).find(([m]) => m);
  if (!match) {
    renderNav(null);
    replace(el, h('h1', null, 'Not found'), h('p', null, 'No page here. ', h('a', { href: '#/functions' }, 'See the functions')));
    return;
  }
  const [m, page, section] = match;
  renderNav(section);
  const params = m.slice(1).map(decodeURIComponent);
  const shown = takeFlash();
  replace(el);
  el.setAttribute('aria-busy', 'true');
  try {
    cleanup = (await page.render(el, { params, query })) || null;
    if (shown) el.prepend(notice(shown[0], shown[1]));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) {
      replace(el, h('h1', null, 'Something went wrong'), notice('error', e.message || String(e)));
    }
  } finally {
    el.removeAttribute('aria-busy');
  }
  const heading = el.querySelector('h1');
  document.title = `${heading ? heading.textContent : 'fdo'} · fdo console`;
}

async function onSignedIn() {
  await caps.load();
  if (!location.hash.startsWith('#/')) location.hash = '#/functions';
  else route();
  main().focus();
}

function signOut(kind, message) {
  session.signOut();
  flashNext(kind, message);
  route();
}

window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#/')) {
    route().then(() => main().focus({ preventScroll: true }));
  }
});
window.addEventListener('fdo:unauthorized', (e) => {
  signOut('error', `Signed out: the host no longer accepts this key (${e.detail}).`);
});
document.getElementById('sign-out').addEventListener('click', () => {
  signOut('info', 'Signed out. The key was removed from this tab.');
});

// A key left in this tab from before a reload is checked again before anything is shown.
(async () => {
  if (session.key()) {
    try {
      await api('/v1/api/functions');
      await caps.load();
    } catch (e) {
      // A 401 has signed out already (and shown the sign-in page with the reason).
      if (e instanceof ApiError && e.status === 401) return;
      flashNext('error', e.message);
    }
  }
  route();
})();
