// What the signed-in key may do, decided in this one place. Pages ask `can(action)` before
// offering an action, and `guard` disables a control with the reason when the answer is no.
//
// Today every valid key is an admin key, so everything is allowed. When keys get roles
// (issue 22), `load` reads the key's role from the host and `RULES` maps actions to roles;
// no page changes.

/** The actions the console offers. */
export const ACTIONS = [
  'functions:read', 'functions:invoke', 'functions:rollback', 'functions:delete',
  'logs:read', 'stats:read', 'keys:read', 'keys:manage',
];

let role = 'admin';

/** Reads what the key may do (today: every key is an admin key). */
export async function load() {
  role = 'admin';
  return role;
}

/** Whether the key may do `action`: `{ ok: true }` or `{ ok: false, reason }`. */
export function can(action) {
  if (!ACTIONS.includes(action)) return { ok: false, reason: `unknown action ${action}` };
  if (role === 'admin') return { ok: true };
  return { ok: false, reason: `a ${role} key may not do this (${action})` };
}

/** Disables `control` (with the reason shown as its description) when `action` is refused. */
export function guard(control, action) {
  const { ok, reason } = can(action);
  if (!ok) {
    control.disabled = true;
    control.title = reason;
    control.setAttribute('aria-description', reason);
  }
  return control;
}
