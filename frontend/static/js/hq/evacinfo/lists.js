/* HQ map 避難情報: the lists — orders in force (with their history, fetched when opened) and open
 * suggestions (with their reasons and shelters), each with its actions. Every control has a stable id,
 * so a redraw keeps the focus where it was. Used by panel.js with its `ctx`. */

import {getJSON} from '../../lib/api.js';
import {format} from '../../lib/dom.js';
import {make} from '../util.js';

export function evacinfoLists(ctx) {
  var text = ctx.text;
  var lang = ctx.lang;
  var when = ctx.when;
  var areaNames = ctx.areaNames;
  var levelText = ctx.levelText;
  var hazardText = ctx.hazardText;
  var chip = ctx.chip;
  var words = ctx.words;
  var button = ctx.button;
  var actionButton = ctx.actionButton;
  var orderList = ctx.orderList;
  var suggestionList = ctx.suggestionList;

  /* ---------------------------------------------------------------- lists */
  function facts(dl, term, value) {
    dl.appendChild(make('dt', null, term));
    dl.appendChild(make('dd', null, value === '' || value === null || value === undefined ? '—' : value));
  }

  /* 履歴: every version of an order (GET …/orders/{id}), fetched when the person opens it. */
  var historyOpen = {};  // order id -> true while its history is open (kept across redraws)
  function historyBox(o) {
    var box = make('details', 'gisapp-ei-history');
    box.id = 'gisapp-ei-order-' + o.id + '-history';
    var summary = make('summary', null, format(text.history, {v: o.version}));
    summary.id = box.id + '-summary';  // keeps focus across redraws
    box.appendChild(summary);
    var list = make('ol');
    box.appendChild(list);
    function fill() {
      getJSON('/api/evacuation-info/orders/' + o.id).then(function (full) {
        list.textContent = '';
        (full.history || []).forEach(function (h) {
          var line = format(text.history_line, {
            at: when(h.at), v: h.version, action: text.actions[h.action] || h.action,
            level: format(text.level_n, {n: h.level}), areas: areaNames(h), actor: h.actor});
          var item = make('li', null, line);
          item.setAttribute('data-version', String(h.version));
          item.setAttribute('data-action', h.action);
          item.appendChild(make('span', 'gisapp-ei-history-reason', text.reason + '：' + h.reason));
          list.appendChild(item);
        });
        box.setAttribute('data-loaded', String(o.version));
      }).catch(function (error) {
        list.textContent = '';
        list.appendChild(make('li', null, format(text.load_error, {status: error.status || '—'})));
      });
    }
    box.addEventListener('toggle', function () {
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
    ctx.orders().forEach(function (o) {
      var li = make('li', 'gisapp-ei-order');
      li.setAttribute('data-order-id', String(o.id));
      li.setAttribute('data-level', String(o.level));
      li.setAttribute('data-version', String(o.version));
      var head = make('h4', 'gisapp-ei-head');
      head.id = 'gisapp-ei-order-' + o.id;
      head.tabIndex = -1;
      head.appendChild(chip(o));
      head.appendChild(make('span', 'gisapp-ei-hazard', hazardText(o)));
      li.setAttribute('aria-labelledby', head.id);
      li.appendChild(head);
      var dl = make('dl', 'gisapp-ei-facts');
      facts(dl, text.areas, areaNames(o));
      facts(dl, text.reason, o.reason);
      facts(dl, text.issued, format(text.by_at, {at: when(o.issued_at), by: o.issued_by}));
      if (o.version > 1) facts(dl, text.updated, format(text.by_at, {at: when(o.updated_at), by: o.updated_by}));
      facts(dl, text.version_label, format(text.version, {v: o.version}));
      li.appendChild(dl);
      if (o.version > 1) li.appendChild(historyBox(o));
      var actions = make('div', 'gisapp-ei-actions');
      var where = button(text.show_on_map);
      where.id = 'gisapp-ei-order-' + o.id + '-map';
      where.setAttribute('aria-label', text.show_on_map + ' ' + levelText(o) + ' ' + areaNames(o));
      where.addEventListener('click', function () { ctx.drawn().showOnMap(o); });
      actions.appendChild(where);
      if (ctx.canIssue()) {
        [['level', text.change_level], ['areas', text.change_areas]].forEach(function (pair) {
          actions.appendChild(actionButton(pair[1], 'gisapp-ei-' + pair[0], 'gisapp-ei-order-' + o.id + '-' + pair[0],
            o, function (b) { ctx.forms().openForm(pair[0], {order: o}, b); }));
        });
        actions.appendChild(actionButton(text.cancel, 'gisapp-ei-cancel', 'gisapp-ei-order-' + o.id + '-cancel',
          o, function (b) { ctx.forms().confirmCancel(o, b); }));
      }
      li.appendChild(actions);
      orderList.appendChild(li);
    });
  }

  function renderSuggestions() {
    suggestionList.textContent = '';
    if (!ctx.suggestions().length) suggestionList.appendChild(make('li', 'gisapp-ei-empty', text.no_suggestions));
    ctx.suggestions().forEach(function (s) {
      var li = make('li', 'gisapp-ei-suggestion');
      li.setAttribute('data-suggestion-id', String(s.id));
      li.setAttribute('data-level', String(s.level));
      var head = make('h4', 'gisapp-ei-head');
      head.id = 'gisapp-ei-suggestion-' + s.id;
      head.tabIndex = -1;
      head.appendChild(make('span', 'gisapp-ei-tag', text.suggested));
      head.appendChild(chip(s));
      head.appendChild(make('span', 'gisapp-ei-hazard', hazardText(s)));
      li.setAttribute('aria-labelledby', head.id);
      li.appendChild(head);
      var reason = make('p', 'gisapp-ei-reason', words(s, 'reason'));
      reason.lang = lang === 'en' && s.reason_en ? 'en' : 'ja';
      li.appendChild(reason);
      var dl = make('dl', 'gisapp-ei-facts');
      facts(dl, text.areas, areaNames(s));
      facts(dl, text.suggested_label, when(s.updated_at || s.created_at));
      li.appendChild(dl);
      // Shelters suited to the hazard in or near the areas: folded, the counts in the summary.
      var sh = make('details', 'gisapp-ei-shelters');
      var list = s.shelters || [];
      var open = list.filter(function (x) { return x.open; }).length;
      sh.appendChild(make('summary', null, format(text.shelters_summary, {n: list.length, open: open})));
      var ul = make('ul');
      list.forEach(function (x) {
        var item = make('li', null, x.name + ' ・ ' + (x.open ? text.shelter_open : text.shelter_closed));
        item.setAttribute('data-shelter-id', String(x.id));
        item.setAttribute('data-open', x.open ? 'true' : 'false');
        ul.appendChild(item);
      });
      if (!ul.children.length) ul.appendChild(make('li', null, text.no_shelters));
      sh.appendChild(ul);
      li.appendChild(sh);
      var actions = make('div', 'gisapp-ei-actions');
      var where = button(text.show_on_map);
      where.id = 'gisapp-ei-suggestion-' + s.id + '-map';
      where.setAttribute('aria-label', text.show_on_map + ' ' + levelText(s) + ' ' + areaNames(s));
      where.addEventListener('click', function () { ctx.drawn().showOnMap(s); });
      actions.appendChild(where);
      if (ctx.canIssue()) {
        actions.appendChild(actionButton(text.issue_from, 'gisapp-inc-primary gisapp-ei-issue-from',
          'gisapp-ei-suggestion-' + s.id + '-issue', s,
          function (b) { ctx.forms().openForm('issue', {suggestion: s}, b); }));
        actions.appendChild(actionButton(text.dismiss, 'gisapp-ei-dismiss', 'gisapp-ei-suggestion-' + s.id + '-dismiss',
          s, function (b) { ctx.forms().confirmDismiss(s, b); }));
      }
      li.appendChild(actions);
      suggestionList.appendChild(li);
    });
  }

  return {renderOrders: renderOrders, renderSuggestions: renderSuggestions};
}
