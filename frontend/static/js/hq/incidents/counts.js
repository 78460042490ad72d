/* Counts: 未対応 N / 対応中 N / 対応済 N / 取消 N, then a table by category, computed from the same
 * filtered list the markers come from (so the two always agree). Tests: #gisapp-count-{status}[data-n]. */

import {format} from '../../lib/dom.js';
import {make} from '../util.js';

export function buildCounts(c) {
  const {text, rules} = c;
  const box = make('section', 'gisapp-inc-counts');
  box.id = 'gisapp-incident-counts';
  box.setAttribute('aria-labelledby', 'gisapp-counts-title');
  const title = make('h3', null, text.counts);
  title.id = 'gisapp-counts-title';
  const line = make('p', 'gisapp-inc-count-line');
  line.setAttribute('aria-live', 'polite');
  const countEls = {};
  for (const s of rules.incident_statuses) {
    const item = make('span', `gisapp-inc-count gisapp-status-${s}`);
    item.id = `gisapp-count-${s}`;
    countEls[s] = item;
    line.append(item);
  }
  const table = make('table', 'gisapp-inc-count-table');
  box.append(title, line, table);

  function render(items) {
    const total = Object.fromEntries(rules.incident_statuses.map((s) => [s, 0]));
    const byCategory = {};
    for (const item of items) {
      total[item.status] = (total[item.status] || 0) + 1;
      byCategory[item.category] = byCategory[item.category] || {};
      const row = byCategory[item.category];
      row[item.status] = (row[item.status] || 0) + 1;
    }
    for (const s of rules.incident_statuses) {
      countEls[s].textContent = format(text.count_line, {status: c.statusWord(s), n: total[s]});
      countEls[s].dataset.n = String(total[s]);
    }
    const head = make('tr');
    for (const word of [text.category, ...rules.incident_statuses.map(c.statusWord), text.total]) {
      const th = make('th', null, word);
      th.scope = 'col';
      head.append(th);
    }
    table.replaceChildren(head);
    for (const cat of c.categories) {
      const row = byCategory[cat.code];
      if (!row) continue;
      const tr = make('tr');
      tr.dataset.category = cat.code;
      const th = make('th', null, c.label(cat, 'name'));
      th.scope = 'row';
      tr.append(th);
      let sum = 0;
      for (const s of rules.incident_statuses) {
        const td = make('td', null, row[s] || 0);
        td.dataset.status = s;
        tr.append(td);
        sum += row[s] || 0;
      }
      tr.append(make('td', null, sum));
      table.append(tr);
    }
  }

  return {element: box, render};
}
