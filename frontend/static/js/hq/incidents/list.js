/* The incident list: the keyboard way to every incident (a button each, status as a letter chip and
 * a word), early in the tab order; the skip link 「事案一覧へ移動」 lands on its heading.
 * Tests: #gisapp-incident-list button[data-incident-id]. */

import {button, make} from '../util.js';
import {statusChip} from './markers.js';

export function buildList(c) {
  const {text} = c;
  const box = make('section', 'gisapp-inc-list');
  const title = make('h3', null, text.list);
  title.id = 'gisapp-incident-list-title';
  title.tabIndex = -1;  // the skip link's target
  box.setAttribute('aria-labelledby', title.id);
  const list = make('ul');
  list.id = 'gisapp-incident-list';
  box.append(title, list);

  function render(items) {
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.incidentId : null;
    list.replaceChildren();
    if (!items.length) {
      list.append(make('li', 'gisapp-inc-empty', text.empty));
      return;
    }
    for (const item of items) {
      const li = make('li');
      const b = button('', 'gisapp-inc-list-item');
      b.dataset.incidentId = String(item.id);
      b.append(statusChip(c, item.status), make('span', 'gisapp-inc-item-title', item.title),
        make('span', 'gisapp-inc-item-meta', `${c.categoryName(item.category)} ・ ${text.priority} ${item.priority}`));
      b.addEventListener('click', () => c.openPanel(item.id, b));
      li.append(b);
      list.append(li);
    }
    // A redraw (a stream event) must not throw the keyboard user's focus away.
    if (focused) list.querySelector(`button[data-incident-id="${focused}"]`)?.focus({preventScroll: true});
  }

  return {element: box, render};
}
