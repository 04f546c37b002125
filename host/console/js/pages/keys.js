// API keys: list, create (the key shown once, with a copy button), revoke (confirmed first).

import { api } from '../api.js';
import { h, replace, field, table, notice, copyButton, announce } from '../dom.js';
import * as fmt from '../format.js';
import { confirm } from '../dialog.js';
import { guard } from '../caps.js';

export async function render(el) {
  const list = h('div');
  const created = h('div', { class: 'created', 'aria-live': 'polite' });
  const messages = h('div');

  const revoke = async (key) => {
    const ok = await confirm({
      title: `Revoke ${key.name}?`,
      body: [h('p', null, `Clients using ${key.prefix}… stop being accepted within a few seconds. This cannot be undone.`),
        h('p', null, 'If this console signed in with this key, it is signed out.')],
      confirmLabel: 'Revoke',
      danger: true,
    });
    if (!ok) return;
    try {
      await api(`/v1/api/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
      replace(messages, notice('ok', `Revoked ${key.name} (${key.prefix}…).`));
      announce(`Revoked ${key.name}`);
      await load();
    } catch (e) {
      if (e.status !== 401) replace(messages, notice('error', `Could not revoke: ${e.message}`));
    }
  };

  const load = async () => {
    const r = await api('/v1/api/keys');
    const keys = r.keys || [];
    replace(list, keys.length ? table('API keys', [
      ['Name', (k) => k.name],
      ['Key', (k) => h('code', null, `${k.prefix}…`)],
      ['Id', (k) => h('code', null, k.id)],
      ['Created', (k) => fmt.time(k.createdAt)],
      ['Expires', (k) => (k.expiresAt ? fmt.time(k.expiresAt) : 'never')],
      ['Status', (k) => h('span', { class: `badge ${k.status}` }, k.status)],
      ['Action', (k) => (k.status === 'revoked' ? ''
        : guard(h('button', { type: 'button', class: 'secondary', onclick: () => revoke(k) }, `Revoke ${k.name}`), 'keys:manage'))],
    ], keys, { rowHeader: true }) : h('p', { class: 'empty' }, 'No keys made through the API (FDO_API_KEY is configured on the host, not listed).'));
  };

  const name = h('input', { type: 'text', name: 'name', maxlength: '128', autocomplete: 'off', required: true });
  const expires = h('input', { type: 'datetime-local', name: 'expires' });
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const create = guard(h('button', { type: 'submit', class: 'primary' }, 'Create key'), 'keys:manage');
  const form = h('form', { class: 'card', 'aria-labelledby': 'create-key' },
    h('h2', { id: 'create-key' }, 'Create a key'),
    field('Key name', name, 'What the key is for, e.g. "ci" or "laptop".'),
    field('Expires at (optional)', expires, 'In your time zone; leave empty for a key that does not expire.'),
    formError,
    h('div', { class: 'actions' }, create));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError.textContent = '';
    const json = { name: name.value.trim() };
    if (!json.name) {
      formError.textContent = 'Give the key a name.';
      name.focus();
      return;
    }
    if (expires.value) {
      const at = new Date(expires.value);
      if (Number.isNaN(at.getTime())) {
        formError.textContent = 'The expiry is not a valid date and time.';
        return;
      }
      json.expiresAt = at.toISOString();
    }
    create.disabled = true;
    try {
      const k = await api('/v1/api/keys', { method: 'POST', json });
      const shown = h('input', { type: 'text', readOnly: true, class: 'code secret', value: k.key, 'aria-label': `New key ${k.name}` });
      replace(created, h('div', { class: 'notice ok', role: 'status' },
        h('h2', null, `Key ${k.name} created`),
        h('p', null, 'Copy it now: this is the only time the host shows it.'),
        h('div', { class: 'key-once' }, shown, copyButton('Copy key', () => k.key))));
      shown.focus();
      shown.select();
      name.value = '';
      expires.value = '';
      await load();
    } catch (err) {
      if (err.status !== 401) formError.textContent = `Could not create the key: ${err.message}`;
    } finally {
      create.disabled = false;
    }
  });

  replace(el,
    h('div', { class: 'page-head' }, h('h1', null, 'API keys'),
      h('p', { class: 'sub' }, 'Keys are stored hashed: the host shows a key once, when it is made.')),
    messages, created, form,
    h('section', { 'aria-labelledby': 'key-list' }, h('h2', { id: 'key-list' }, 'Keys'), list));
  await load();
  return null;
}
