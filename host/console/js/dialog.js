// Confirmations, as modal <dialog>s: focus moves into them, Escape cancels, and the page
// behind is inert until they close.

import { h, field } from './dom.js';

/**
 * Asks to confirm; resolves true when confirmed. With `typeToConfirm`, the confirm button is
 * enabled only once that exact text is typed into the field labelled `typeLabel`.
 */
export function confirm({ title, body, confirmLabel, danger = false, typeToConfirm, typeLabel }) {
  return new Promise((resolve) => {
    const heading = h('h2', { id: 'dialog-title' }, title);
    const ok = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', value: 'ok' }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    let input = null;
    if (typeToConfirm !== undefined) {
      input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', required: true });
      ok.disabled = true;
      input.addEventListener('input', () => { ok.disabled = input.value !== typeToConfirm; });
    }
    const form = h('form', { method: 'dialog' },
      heading,
      h('div', { class: 'dialog-body', id: 'dialog-body' }, body),
      input ? field(typeLabel, input) : null,
      h('div', { class: 'actions' }, cancel, ok));
    const dialog = h('dialog', { 'aria-labelledby': 'dialog-title', 'aria-describedby': 'dialog-body' }, form);
    let answer = false;
    form.addEventListener('submit', (e) => {
      if (input && input.value !== typeToConfirm) {
        e.preventDefault();
        return;
      }
      answer = true;
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}
