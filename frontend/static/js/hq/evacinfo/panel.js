/* HQ map: 避難情報 (evacuation information) — the orders in force shaded by level on the map, the open
 * suggestions of the 発令基準 with their reasons and shelters, and for hq_operator/admin the forms to
 * issue (発令), change level, change areas and cancel (解除). A person issues; a suggestion only fills
 * the form. A panel of pages/hq.js (PANELS), which hands it its stream events.
 * The map drawing is map.js, the lists lists.js, the forms forms.js and dialogs.js, the HQ log ../log.js.
 *
 *   GET  /api/me                                     roles: may this user issue?
 *   GET  /api/evacuation-info/areas                  町丁目/自治会 polygons (code, name) to choose from
 *   GET  /api/evacuation-info/levels                 every level's and hazard's words and colours
 *   GET  /api/evacuation-info/orders?status=active   {orders: [Order]} (Order carries describe(level, hazard))
 *   GET  /api/evacuation-info/suggestions?state=open {suggestions: [...]}
 *   POST /api/evacuation-info/orders                 {level, hazard, area_codes, reason, suggestion_id?}
 *   PATCH /api/evacuation-info/orders/{id}           {expected_version, level? | area_codes?, reason} (409: stale)
 *   POST /api/evacuation-info/orders/{id}/cancel     {expected_version, reason}
 *   POST /api/evacuation-info/suggestions/{id}/dismiss {reason}
 *   events "evacuation", "evac_suggestion"           → refetch (a handful of orders: one small request)
 *
 * The level's words and colours come from the API with each order (gisapp/ops/evac_levels.py), never
 * from this file; colour is never alone: every shaded area carries a label with the level number and
 * words, each level has its own border pattern, and the legend says both.
 * Browser tests can wait for:
 *   #gisapp-evacinfo[data-state="ready"][data-orders][data-suggestions][data-can-issue]
 *   .gisapp-ei-order[data-order-id][data-level][data-version], .gisapp-ei-suggestion[data-suggestion-id]
 *   path.gisapp-ei-shade[data-order-id][data-level], .gisapp-ei-label[data-level],
 *   path.gisapp-ei-suggested[data-suggestion-id], #gisapp-ei-notice[data-kind]
 */
import {getJSON, getJSONOnce} from '../../lib/api.js';
import {format, oneAtATime} from '../../lib/dom.js';
import {isOperator, make, panelNotice, sendResult} from '../util.js';
import {evacinfoForms} from './forms.js';
import {evacinfoLists} from './lists.js';
import {evacinfoMap} from './map.js';
import {evacWords} from './words.js';

const FRESH_MS = 10 * 60 * 1000;  // how long a new suggestion stays highlighted

const send = sendResult;

function button(label, className) {
  const b = make('button', `gisapp-inc-button${className ? ` ${className}` : ''}`, label);
  b.type = 'button';
  return b;
}

function start(config) {
  const map = config.map;
  const text = config.text.hq_evacinfo;
  const lang = config.lang;
  let canIssue = false;
  let areas = [];           // [{code, name, feature}] from /areas, by name
  const areaByCode = {};
  let orders = [];
  let suggestions = [];
  let knownSuggestions = null;  // ids seen, to announce only new ones (null until the first load)
  const levelInfo = {};       // level -> describe() fields seen in answers (names, colours)
  const hazardInfo = {};      // hazard -> {ja, en}

  const {words, learn, levelText, hazardText, areaNames, when, chip} =
    evacWords({text, lang, locale: config.locale, levelInfo, hazardInfo, areaByCode});
  /** An action on one order or suggestion: its own id, a label naming what it acts on, and the
   * button handed to the action (focus returns to it). */
  function actionButton(label, className, id, subject, onClick) {
    const b = button(label, className);
    b.id = id;
    b.setAttribute('aria-label', `${label} ${levelText(subject)} ${areaNames(subject)}`);
    b.addEventListener('click', () => { onClick(b); });
    return b;
  }
  /* ---------------------------------------------------------------- the panel skeleton */
  const root = make('aside', 'gisapp-evacinfo');
  root.id = 'gisapp-evacinfo';
  root.setAttribute('aria-labelledby', 'gisapp-evacinfo-title');
  root.setAttribute('data-state', 'loading');
  const title = make('h2');
  title.id = 'gisapp-evacinfo-title';
  const toggle = button(text.panel, 'gisapp-ei-toggle');
  toggle.id = 'gisapp-evacinfo-toggle';
  toggle.setAttribute('aria-controls', 'gisapp-evacinfo-body');
  title.appendChild(toggle);
  root.appendChild(title);
  // Outside the foldable body: a folded panel (phones) still announces and shows a new suggestion.
  const announcer = make('p', 'gisapp-ei-announce');
  announcer.id = 'gisapp-ei-announce';
  announcer.setAttribute('aria-live', 'polite');
  root.appendChild(announcer);
  const body = make('div', 'gisapp-ei-body');
  body.id = 'gisapp-evacinfo-body';
  root.appendChild(body);

  const jmaLine = make('p', 'gisapp-ei-jma');  // filled by ../log.js from /api/jma/status
  jmaLine.id = 'gisapp-jma-status';
  jmaLine.setAttribute('role', 'status');
  jmaLine.hidden = true;
  body.appendChild(jmaLine);


  const notice = make('div', 'gisapp-ei-notice');
  notice.id = 'gisapp-ei-notice';
  notice.setAttribute('role', 'alert');
  notice.hidden = true;
  body.appendChild(notice);

  const readOnly = make('p', 'gisapp-ei-readonly', text.read_only);
  readOnly.hidden = true;
  body.appendChild(readOnly);

  const newButton = button(text.new, 'gisapp-inc-primary');
  newButton.id = 'gisapp-ei-new';
  newButton.hidden = true;
  body.appendChild(newButton);

  const formBox = make('section', 'gisapp-ei-form');  // issue / change: non-modal, the map stays usable
  formBox.id = 'gisapp-ei-form';
  formBox.hidden = true;
  body.appendChild(formBox);

  function section(id, heading) {
    const box = make('section', 'gisapp-ei-section');
    const h = make('h3', null, heading);
    h.id = `${id}-title`;
    h.tabIndex = -1;
    box.setAttribute('aria-labelledby', h.id);
    box.appendChild(h);
    const list = make('ul', 'gisapp-ei-list');
    list.id = id;
    box.appendChild(list);
    body.appendChild(box);
    return list;
  }
  const suggestionList = section('gisapp-ei-suggestions', text.suggestions);
  const orderList = section('gisapp-ei-orders', text.orders);

  const logSlot = make('div');  // ../log.js puts the HQ log here
  logSlot.id = 'gisapp-hqlog-slot';
  body.appendChild(logSlot);

  // After the incident panel in the tab order (the incident list comes first), before the map.
  config.container.appendChild(root);
  document.body.classList.add('gisapp-has-evacinfo');

  function setOpen(open) {
    body.hidden = !open;
    root.classList.toggle('gisapp-ei-collapsed', !open);
    document.body.classList.toggle('gisapp-evacinfo-folded', !open);
    toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  }
  toggle.addEventListener('click', () => { setOpen(body.hidden); });
  // Folded, the panel is a strip over the map's top-left corner: the map's controls move below it,
  // however tall an announcement makes it (gisapp-evacinfo-folded in css/hq_evacinfo.css).
  if (window.ResizeObserver) {
    new ResizeObserver(() => {
      document.body.style.setProperty('--gisapp-ei-height', `${root.offsetHeight}px`);
    }).observe(root);
  }
  // Phones: start folded to one line (the map and the incident panel share the screen).
  setOpen(!(window.matchMedia?.('(max-width: 600px)').matches));

  const notices = panelNotice(notice, lang, text.failed);
  const showNotice = notices.show;
  const clearNotice = notices.clear;
  const errorLines = notices.errorLines;

  const drawn = evacinfoMap({
    map: map, text: text, root: root, areaByCode: areaByCode, levelInfo: levelInfo,
    levelText: levelText, hazardText: hazardText, areaNames: areaNames
  });

  const lists = evacinfoLists({
    text: text, lang: lang, when: when, areaNames: areaNames, levelText: levelText, hazardText: hazardText,
    chip: chip, words: words, button: button, actionButton: actionButton, orderList: orderList,
    suggestionList: suggestionList, canIssue: () => canIssue,
    orders: () => orders, suggestions: () => suggestions,
    forms: () => forms, drawn: () => drawn
  });
  const renderOrders = lists.renderOrders;
  const renderSuggestions = lists.renderSuggestions;

  /* ---------------------------------------------------------------- loading */
  let loads = 0;
  const fresh = {};  // suggestion id -> when it arrived (highlighted on the map and in the list)
  function setState() {
    root.setAttribute('data-state', 'ready');
    root.setAttribute('data-orders', String(orders.length));
    root.setAttribute('data-suggestions', String(suggestions.length));
    root.setAttribute('data-can-issue', canIssue ? 'true' : 'false');
    root.setAttribute('data-loads', String(loads));
    runAfterLoad();
  }

  const loadAreas = getJSON('/api/evacuation-info/areas').then((collection) => {
    areas = (collection.features || []).map((f) => {
      const p = f.properties || {};
      return {code: String(p.code), name: p.name || String(p.code), feature: f};
    }).sort((a, b) => a.name.localeCompare(b.name, 'ja', {numeric: true}));
    areas.forEach((a) => { areaByCode[a.code] = a; });
  }).catch((error) => {
    console.warn('evacuation areas', error);
  });

  // Every level's and hazard's words for the issue form, whether or not an order has used them yet.
  const loadLevels = getJSON('/api/evacuation-info/levels').then((doc) => {
    (doc.levels || []).forEach(learn);
    (doc.hazards || []).forEach(learn);
  }).catch((error) => {
    console.warn('evacuation levels', error);
  });

  const loadMe = getJSONOnce('/api/me').then((me) => {
    canIssue = isOperator(me);
  }).catch(() => { canIssue = false; });

  const load = oneAtATime(() => Promise.all([
      getJSON('/api/evacuation-info/orders?status=active'),
      getJSON('/api/evacuation-info/suggestions?state=open'),
      loadAreas, loadMe, loadLevels
    ]).then((parts) => {
      orders = (parts[0].orders || []).filter((o) => o.status !== 'cancelled')
        .sort((a, b) => b.level - a.level || String(b.updated_at).localeCompare(String(a.updated_at)));
      suggestions = (parts[1].suggestions || []).filter((s) => s.state === 'open');
      orders.forEach(learn);
      suggestions.forEach(learn);
      const freshOnes = [];
      if (knownSuggestions !== null) {
        suggestions.forEach((s) => {
          if (!knownSuggestions[s.id]) {
            fresh[s.id] = Date.now();
            freshOnes.push(s);
          }
        });
      }
      Object.keys(fresh).forEach((id) => {  // highlighted for a while, not only until the next load
        if (Date.now() - fresh[id] > FRESH_MS) delete fresh[id];
      });
      knownSuggestions = {};
      suggestions.forEach((s) => { knownSuggestions[s.id] = true; });
      loads += 1;
      toggle.textContent = format(text.panel_count, {n: orders.length});
      readOnly.hidden = canIssue;
      newButton.hidden = !canIssue;
      // The lists are redrawn: whoever had focus in them keeps it (every control has a stable id).
      const focused = document.activeElement;
      const inOrders = !!focused && orderList.contains(focused);
      const focusedId = focused?.id && (inOrders || suggestionList.contains(focused)) ? focused.id : null;
      renderOrders();
      renderSuggestions();
      if (focusedId) {
        const again = document.getElementById(focusedId);
        if (again) again.focus({preventScroll: true});
        else focusAfter(null, inOrders ? 'gisapp-ei-orders-title' : 'gisapp-ei-suggestions-title');
      }
      drawn.draw(orders, suggestions, fresh);
      setState();
      if (freshOnes.length) {
        announcer.textContent = freshOnes.map((s) => format(text.new_suggestion, {what: `${levelText(s)}（${hazardText(s)}）`,
                                                     areas: areaNames(s)})).join(' ');
      }
      Object.keys(fresh).forEach((id) => {
        const li = suggestionList.querySelector(`[data-suggestion-id="${id}"]`);
        if (li) li.classList.add('gisapp-ei-fresh');
      });
      forms.refresh();
    }).catch((error) => {
      root.setAttribute('data-state', 'error');
      showNotice('error', [{text: format(text.load_error, {status: error.status || '—'})}]);
      throw error;
    }));

  /** After an action: back where the person was, or to a heading that still exists. */
  function focusAfter(el, fallbackId) {
    // The lists are redrawn on every load: an element of an older drawing is found again by its id.
    if (el && !document.body.contains(el) && el.id) el = document.getElementById(el.id);
    if (el && document.body.contains(el) && !el.hidden) el.focus();
    else {
      const h = document.getElementById(fallbackId || 'gisapp-ei-orders-title');
      if (h) h.focus();
    }
  }
  /** Run `callback(last)` after the next load has been drawn (focus goes to what an action produced).
   * A load already under way may not show the change yet: a callback that finds nothing to act on
   * returns false and waits for the next load, up to three, the last with `last` true. */
  let afterLoadCallbacks = [];
  function afterLoad(callback) {
    afterLoadCallbacks.push({from: loads, callback: callback});
  }
  function runAfterLoad() {
    afterLoadCallbacks = afterLoadCallbacks.filter((w) => {
      if (loads <= w.from) return true;
      const last = loads - w.from >= 3;
      return !w.callback(last) && !last;
    });
  }

  const forms = evacinfoForms({
    rules: config.rules,
    text: text, lang: lang, map: map, formBox: formBox,
    areas: () => areas, orders: () => orders,
    levelInfo: levelInfo, hazardInfo: hazardInfo, areaByCode: areaByCode,
    levelText: levelText, hazardText: hazardText, areaNames: areaNames, words: words, chip: chip, learn: learn,
    send: send, button: button, showNotice: showNotice, clearNotice: clearNotice, errorLines: errorLines,
    load: load, afterLoad: afterLoad, focusAfter: focusAfter
  });
  newButton.addEventListener('click', () => { forms.openForm('issue', {}, newButton); });

  // No load here: pages/hq.js calls reload() once its stream is open (stream first, then snapshot).

  return {
    onEvent: (type, message) => {
      if (type === 'evacuation' && message && message.action && knownSuggestions !== null) {
        announcer.textContent = format(text.order_event,
          {what: levelText({level: message.level}), action: text.actions[message.action] || message.action});
      }
      load();
    },
    reload: load,
    /** For ../log.js: where the JMA status line and the HQ log go. */
    jmaLine: jmaLine,
    logSlot: logSlot
  };
}

export const evacinfoPanel = {name: 'evacinfo', events: ['evacuation', 'evac_suggestion'], start: start};
