/* HQ map 避難情報: the lists — orders in force (with their history, fetched when opened) and open
 * suggestions (with their reasons and shelters), each with its actions. Every control has a stable id,
 * so a redraw keeps the focus where it was. Used by panel.js with its `ctx`. */

import {getJSON} from '../../lib/api.js';
import {format} from '../../lib/dom.js';
import {make} from '../util.js';

export function evacinfoLists(ctx) {
  const text = ctx.text;
  const lang = ctx.lang;
  const when = ctx.when;
  const areaNames = ctx.areaNames;
  const levelText = ctx.levelText;
  const hazardText = ctx.hazardText;
  const chip = ctx.chip;
  const words = ctx.words;
  const button = ctx.button;
  const actionButton = ctx.actionButton;
  const orderList = ctx.orderList;
  const suggestionList = ctx.suggestionList;

  /* ---------------------------------------------------------------- lists */
  function facts(dl, term, value) {
    dl.appendChild(make('dt', null, term));
    dl.appendChild(make('dd', null, value === '' || value === null || value === undefined ? '—' : value));
  }

  /* 履歴: every version of an order (GET …/orders/{id}), fetched when the person opens it. */
  const historyOpen = {};  // order id -> true while its history is open (kept across redraws)
  function historyBox(o) {
    const box = make('details', 'gisapp-ei-history');
    box.id = `gisapp-ei-order-${o.id}-history`;
    const summary = make('summary', null, format(text.history, {v: o.version}));
    summary.id = `${box.id}-summary`;  // keeps focus across redraws
    box.appendChild(summary);
    const list = make('ol');
    box.appendChild(list);
    function fill() {
      getJSON(`/api/evacuation-info/orders/${o.id}`).then((full) => {
        list.textContent = '';
        (full.history || []).forEach((h) => {
          const line = format(text.history_line, {
            at: when(h.at), v: h.version, action: text.actions[h.action] || h.action,
            level: format(text.level_n, {n: h.level}), areas: areaNames(h), actor: h.actor});
          const item = make('li', null, line);
          item.setAttribute('data-version', String(h.version));
          item.setAttribute('data-action', h.action);
          item.appendChild(make('span', 'gisapp-ei-history-reason', `${text.reason}：${h.reason}`));
          list.appendChild(item);
        });
        box.setAttribute('data-loaded', String(o.version));
      }).catch((error) => {
        list.textContent = '';
        list.appendChild(make('li', null, format(text.load_error, {status: error.status || '—'})));
      });
    }
    box.addEventListener('toggle', () => {
      if (box.open) historyOpen[o.id] = true;
      else delete historyOpen[o.id];
      if (box.open) fill();
    });
    if (historyOpen[o.id]) box.open = true;  // fires toggle: filled again with the new version
    return box;
  }

  function renderOrders() {
    orderList.textContent = '';
    if (!ctx.orders().length) orderList.appendChild(make('li', 'gisapp-ei-empty', text.no_orders));
    ctx.orders().forEach((o) => {
      const li = make('li', 'gisapp-ei-order');
      li.setAttribute('data-order-id', String(o.id));
      li.setAttribute('data-level', String(o.level));
      li.setAttribute('data-version', String(o.version));
      const head = make('h4', 'gisapp-ei-head');
      head.id = `gisapp-ei-order-${o.id}`;
      head.tabIndex = -1;
      head.appendChild(chip(o));
      head.appendChild(make('span', 'gisapp-ei-hazard', hazardText(o)));
      li.setAttribute('aria-labelledby', head.id);
      li.appendChild(head);
      const dl = make('dl', 'gisapp-ei-facts');
      facts(dl, text.areas, areaNames(o));
      facts(dl, text.reason, o.reason);
      facts(dl, text.issued, format(text.by_at, {at: when(o.issued_at), by: o.issued_by}));
      if (o.version > 1) facts(dl, text.updated, format(text.by_at, {at: when(o.updated_at), by: o.updated_by}));
      facts(dl, text.version_label, format(text.version, {v: o.version}));
      li.appendChild(dl);
      if (o.version > 1) li.appendChild(historyBox(o));
      const actions = make('div', 'gisapp-ei-actions');
      const where = button(text.show_on_map);
      where.id = `gisapp-ei-order-${o.id}-map`;
      where.setAttribute('aria-label', `${text.show_on_map} ${levelText(o)} ${areaNames(o)}`);
      where.addEventListener('click', () => { ctx.drawn().showOnMap(o); });
      actions.appendChild(where);
      if (ctx.canIssue()) {
        [['level', text.change_level], ['areas', text.change_areas]].forEach((pair) => {
          actions.appendChild(actionButton(pair[1], `gisapp-ei-${pair[0]}`, `gisapp-ei-order-${o.id}-${pair[0]}`,
            o, (b) => { ctx.forms().openForm(pair[0], {order: o}, b); }));
        });
        actions.appendChild(actionButton(text.cancel, 'gisapp-ei-cancel', `gisapp-ei-order-${o.id}-cancel`,
          o, (b) => { ctx.forms().confirmCancel(o, b); }));
      }
      li.appendChild(actions);
      orderList.appendChild(li);
    });
  }

  function renderSuggestions() {
    suggestionList.textContent = '';
    if (!ctx.suggestions().length) suggestionList.appendChild(make('li', 'gisapp-ei-empty', text.no_suggestions));
    ctx.suggestions().forEach((s) => {
      const li = make('li', 'gisapp-ei-suggestion');
      li.setAttribute('data-suggestion-id', String(s.id));
      li.setAttribute('data-level', String(s.level));
      const head = make('h4', 'gisapp-ei-head');
      head.id = `gisapp-ei-suggestion-${s.id}`;
      head.tabIndex = -1;
      head.appendChild(make('span', 'gisapp-ei-tag', text.suggested));
      head.appendChild(chip(s));
      head.appendChild(make('span', 'gisapp-ei-hazard', hazardText(s)));
      li.setAttribute('aria-labelledby', head.id);
      li.appendChild(head);
      const reason = make('p', 'gisapp-ei-reason', words(s, 'reason'));
      reason.lang = lang === 'en' && s.reason_en ? 'en' : 'ja';
      li.appendChild(reason);
      const dl = make('dl', 'gisapp-ei-facts');
      facts(dl, text.areas, areaNames(s));
      facts(dl, text.suggested_label, when(s.updated_at || s.created_at));
      li.appendChild(dl);
      // Shelters suited to the hazard in or near the areas: folded, the counts in the summary.
      const sh = make('details', 'gisapp-ei-shelters');
      const list = s.shelters || [];
      const open = list.filter((x) => x.open).length;
      sh.appendChild(make('summary', null, format(text.shelters_summary, {n: list.length, open: open})));
      const ul = make('ul');
      list.forEach((x) => {
        const item = make('li', null, `${x.name} ・ ${x.open ? text.shelter_open : text.shelter_closed}`);
        item.setAttribute('data-shelter-id', String(x.id));
        item.setAttribute('data-open', x.open ? 'true' : 'false');
        ul.appendChild(item);
      });
      if (!ul.children.length) ul.appendChild(make('li', null, text.no_shelters));
      sh.appendChild(ul);
      li.appendChild(sh);
      const actions = make('div', 'gisapp-ei-actions');
      const where = button(text.show_on_map);
      where.id = `gisapp-ei-suggestion-${s.id}-map`;
      where.setAttribute('aria-label', `${text.show_on_map} ${levelText(s)} ${areaNames(s)}`);
      where.addEventListener('click', () => { ctx.drawn().showOnMap(s); });
      actions.appendChild(where);
      if (ctx.canIssue()) {
        actions.appendChild(actionButton(text.issue_from, 'gisapp-inc-primary gisapp-ei-issue-from',
          `gisapp-ei-suggestion-${s.id}-issue`, s,
          (b) => { ctx.forms().openForm('issue', {suggestion: s}, b); }));
        actions.appendChild(actionButton(text.dismiss, 'gisapp-ei-dismiss', `gisapp-ei-suggestion-${s.id}-dismiss`,
          s, (b) => { ctx.forms().confirmDismiss(s, b); }));
      }
      li.appendChild(actions);
      suggestionList.appendChild(li);
    });
  }

  return {renderOrders: renderOrders, renderSuggestions: renderSuggestions};
}
