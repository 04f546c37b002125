// Sign in with an API key. The key is checked against the API before it is kept (in this
// tab's sessionStorage only).

import { api, session, ApiError } from '../api.js';
import { h, replace, field, notice } from '../dom.js';

export function render(el, { onSignedIn, message }) {
  const input = h('input', {
    type: 'password', name: 'key', autocomplete: 'off', spellcheck: 'false', required: true,
  });
  const error = h('div', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to fdo'),
    field('API key', input, 'A key of this host: FDO_API_KEY, the admin key printed at first start, or one made with `fdo keys create`. It stays in this tab and is sent only to this host.'),
    error,
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = 'Enter an API key.';
      input.focus();
      return;
    }
    button.disabled = true;
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    try {
      // Any authenticated read proves the key; the functions list is the first page anyway.
      await api('/v1/api/functions', { key });
      session.signIn(key);
      input.value = '';
      await onSignedIn();
    } catch (err) {
      input.setAttribute('aria-invalid', 'true');
      error.textContent = err instanceof ApiError && err.status === 401
        ? `This API key was not accepted: ${err.message}.`
        : `Could not sign in: ${err.message}`;
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(el, message ? notice(message[0], message[1]) : null, form);
  input.focus();
}
