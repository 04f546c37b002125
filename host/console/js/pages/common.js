// What the pages of one function share: the heading and the tabs between them.

import { h } from '../dom.js';
import { links } from '../nav.js';

const TABS = [
  ['overview', 'Overview', links.fn],
  ['playground', 'Playground', links.playground],
  ['logs', 'Logs', (id) => links.logs(id)],
];

/** The function's heading with `extra` beside it, and the tabs with `current` marked. */
export function fnHeader(id, current, extra) {
  return [
    h('p', { class: 'crumbs' }, h('a', { href: links.functions() }, 'Functions'), ' / '),
    h('div', { class: 'page-head' }, h('h1', null, id), extra),
    h('nav', { class: 'tabs', 'aria-label': `${id} pages` },
      h('ul', null, TABS.map(([key, label, href]) =>
        h('li', null, h('a', { href: href(id), 'aria-current': key === current ? 'page' : null }, label))))),
  ];
}
