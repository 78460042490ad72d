/* The incident panel: facts, the status changes allowed from the status shown (rules.transitions
 * from the server), assignments with their next states, dispatch (nearest units, free teams) and the
 * history. Units the HQ cannot send (通信途絶, 休止) are listed apart with the reason; one out of
 * contact may still be sent with a button that says so (the server asks for that confirmation).
 * Opening moves focus to its heading; Escape and 閉じる close it and return focus to what
 * opened it. After an action the panel is redrawn and focus goes to its heading (never to <body>).
 * Tests: #gisapp-incident-detail[data-incident-id][data-version][data-status][data-refreshing]. */

import {getJSON} from '../../lib/api.js';
import {format} from '../../lib/dom.js';
import {button, make, when} from '../util.js';
import {changeStatus, dispatchTo, setAssignment} from './actions.js';
import {buildDamage} from './damage.js';
import {statusChip} from './markers.js';

const DATE_FORMAT = {year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

export function buildPanel(c) {
  const {text} = c;
  const detail = make('section', 'gisapp-inc-detail');
  detail.id = 'gisapp-incident-detail';
  detail.hidden = true;
  let returnFocus = null;
  let refreshing = false;
  let refreshAgain = false;
  let focusAfter = false;
  const at = (value) => when(value, c.locale, DATE_FORMAT);
  // 被害報: one element kept across redraws (damage.js).
  const damage = c.damageFields ? buildDamage(c, c.damageFields) : null;

  function open(id, from) {
    c.openId = id;
    damage?.forget();
    returnFocus = from || (c.markers[id]?.getElement()) || null;
    c.notices.clear();
    refresh(true);
  }

  function close() {
    c.openId = null;
    c.openIncident = null;
    detail.hidden = true;
    detail.replaceChildren();
    delete detail.dataset.incidentId;
    // What opened it, or its redrawn copy (the list and markers are redrawn as incidents change).
    let back = returnFocus;
    if (back && !document.body.contains(back) && back.dataset.incidentId) {
      const id = back.dataset.incidentId;
      back = back.tagName === 'BUTTON' ? document.querySelector(`#gisapp-incident-list button[data-incident-id="${id}"]`)
        : c.markers[id]?.getElement();
    }
    if (back && document.body.contains(back)) back.focus();
    else document.getElementById('gisapp-incident-list-title').focus();
  }
  detail.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') close();
  });

  /** Fetch and redraw the open incident; focus: move focus to its heading afterwards. */
  async function refresh(focus) {
    if (c.openId === null) return;
    focusAfter = focusAfter || !!focus;
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    detail.dataset.refreshing = 'true';  // for tests: the panel is about to be redrawn
    const id = c.openId;
    const base = `/api/incidents/${id}`;
    try {
      const [inc, events, recommendations, teams] = await Promise.all([
        getJSON(base),
        getJSON(`${base}/events`).catch(() => []),
        getJSON(`${base}/recommendations`).catch(() => null),
        getJSON('/api/teams').catch(() => null),
      ]);
      if (id === c.openId) {
        c.openIncident = inc;
        const kept = focusKey();
        render(inc, events, recommendations, teams);
        if (focusAfter) {
          focusAfter = false;
          detail.querySelector('h3').focus();
        } else if (kept) {  // a redraw (a stream event) must not throw the focus away
          (detail.querySelector(kept) || detail.querySelector('h3')).focus({preventScroll: true});
        }
      }
    } catch (error) {
      console.error(error);
      c.notices.show('error', [{text: format(text.failed, {status: error.status || '—'})}]);
    } finally {
      refreshing = false;
      if (refreshAgain) {
        refreshAgain = false;
        refresh(false);
      } else {
        delete detail.dataset.refreshing;
      }
    }
  }

  /** A selector finding the focused control of the panel again after a redraw (null: focus is elsewhere). */
  function focusKey() {
    const active = document.activeElement;
    if (!active || !detail.contains(active)) return null;
    if (active.id) return `#${CSS.escape(active.id)}`;
    const data = Object.entries(active.dataset).map(([k, v]) =>
      `[data-${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}="${CSS.escape(v)}"]`).join('');
    return data ? `${active.tagName.toLowerCase()}${data}` : 'h3';
  }

  function definition(dl, term, value) {
    const dd = make('dd', null, value === '' || value === null || value === undefined ? '—' : value);
    dl.append(make('dt', null, term), dd);
    return dd;
  }

  function render(inc, events, recommendations, teams) {
    detail.replaceChildren();
    detail.hidden = false;
    detail.dataset.incidentId = String(inc.id);
    detail.dataset.version = String(inc.version);
    detail.dataset.status = inc.status;

    const head = make('div', 'gisapp-inc-detail-head');
    const h = make('h3', null, inc.title);
    h.id = 'gisapp-incident-title';
    h.tabIndex = -1;
    detail.setAttribute('aria-labelledby', h.id);
    const closeButton = button(text.close, 'gisapp-inc-button gisapp-inc-close');
    closeButton.id = 'gisapp-incident-close';
    closeButton.addEventListener('click', close);
    head.append(h, closeButton);
    detail.append(head);

    const statusLine = make('p', 'gisapp-inc-status-line');
    statusLine.append(statusChip(c, inc.status), make('span', 'gisapp-inc-version', format(text.version, {v: inc.version})));
    detail.append(statusLine);

    const dl = make('dl', 'gisapp-inc-facts');
    definition(dl, text.category, c.label(inc, 'category') || c.categoryName(inc.category));
    definition(dl, text.priority, format(text.priority_value, {p: inc.priority}));
    definition(dl, text.description, inc.description).className = 'gisapp-inc-description';
    definition(dl, text.address, inc.address);
    const road = inc.road_segment_id === null || inc.road_segment_id === undefined ? ''
      : format(text.road_value, {name: inc.road_name || text.road_unnamed, m: Math.round(Number(inc.road_distance_m) || 0)});
    definition(dl, text.road, road);
    definition(dl, text.reported_at, at(inc.reported_at));
    definition(dl, text.source, text.sources[inc.source] || inc.source);
    detail.append(dl);

    // Status buttons: the changes the server allows from the status shown, each naming the version shown.
    const statusBox = make('div', 'gisapp-inc-actions');
    statusBox.setAttribute('role', 'group');
    statusBox.setAttribute('aria-labelledby', 'gisapp-incident-status-title');
    const statusTitle = make('h4', null, text.change_status);
    statusTitle.id = 'gisapp-incident-status-title';
    statusBox.append(statusTitle);
    for (const to of c.rules.transitions[inc.status] || []) {
      const b = button(format(text.to_status, {status: c.statusWord(to)}), 'gisapp-inc-button gisapp-inc-set-status');
      b.dataset.toStatus = to;
      b.addEventListener('click', () => changeStatus(c, inc, to, b));
      statusBox.append(b);
    }
    detail.append(statusBox);

    const assignBox = make('section', 'gisapp-inc-assignments');
    assignBox.append(make('h4', null, text.assignments));
    const assignList = make('ul');
    for (const a of inc.assignments || []) {
      const li = make('li');
      li.dataset.assignmentId = String(a.id);
      li.dataset.state = a.state;
      const who = a.team_id ? (a.team_name || a.team_id) + (a.unit_id ? `（${a.unit_name || a.unit_id}）` : '')
        : (a.unit_name || a.unit_id);
      li.append(make('span', null, `${who} ・ ${text.assignment_state[a.state] || a.state}`));
      for (const next of c.rules.assignment_next[a.state] || []) {
        const b = button(next === 'on_scene' ? text.set_on_scene : text.set_cleared, 'gisapp-inc-button gisapp-inc-assignment-state');
        b.dataset.toState = next;
        b.setAttribute('aria-label', `${who} ${b.textContent}`);
        b.addEventListener('click', () => setAssignment(c, a, next, b));
        li.append(b);
      }
      assignList.append(li);
    }
    if (!assignList.children.length) assignList.append(make('li', null, text.no_assignments));
    assignBox.append(assignList);
    detail.append(assignBox);

    // Dispatch: the nearest available units, then the free teams (HQ operators only; others get no list).
    if (c.rules.dispatchable.includes(inc.status)) {
      if (recommendations) {
        detail.append(dispatchList(inc, 'gisapp-incident-dispatch', 'gisapp-inc-dispatch', text.recommend, text.no_units,
          (recommendations.units || []).map((r) => {
            const km = (Number(r.method === 'road' ? r.distance_m : r.straight_m) / 1000).toFixed(1);
            const distance = format(r.method === 'road' ? text.distance_road : text.distance_straight, {km});
            const eta = format(text.eta, {min: Math.max(1, Math.round(Number(r.eta_s) / 60))});
            const name = r.name || r.device_id;
            return {attr: 'unitId', id: r.device_id, name, kind: 'unit', label: `${name} ・ ${distance} ・ ${eta}`,
              body: {unit_id: r.device_id}};
          })));
      }
      if (recommendations?.unavailable?.length) detail.append(unavailableList(inc, recommendations.unavailable));
      if (teams) {
        const free = teams.filter((t) => t.active && t.busy_with === null);
        detail.append(dispatchList(inc, 'gisapp-incident-teams', 'gisapp-inc-dispatch gisapp-inc-teams', text.teams, text.no_teams,
          free.map((t) => ({attr: 'teamId', id: t.id, name: t.name, kind: 'team',
            label: t.name + (t.radio_unit_id ? `（${t.radio_name || t.radio_unit_id}）` : ''), body: {team_id: t.id}}))));
      }
    }

    if (damage) {
      detail.append(damage.element);
      damage.show(inc.id);
    }

    const hist = make('section', 'gisapp-inc-history');
    hist.append(make('h4', null, text.history));
    const ol = make('ol');
    for (const e of events || []) {
      const change = e.to_status ? (e.from_status ? `${c.statusWord(e.from_status)} → ` : '') + c.statusWord(e.to_status) : '';
      const li = make('li', null, [at(e.at), text.event[e.kind] || e.kind, change, e.actor, e.note].filter(Boolean).join(' ・ '));
      li.dataset.kind = e.kind;
      ol.append(li);
    }
    hist.append(ol);
    detail.append(hist);
  }

  /** The near units left out of the recommendations, with why; an out-of-contact one may be sent by a
   * button that says it goes out of contact (the confirmation the server asks for). */
  function unavailableList(inc, rows) {
    const box = make('section', 'gisapp-inc-dispatch gisapp-inc-unavailable');
    box.id = 'gisapp-incident-unavailable';
    box.append(make('h4', null, text.unavailable));
    const list = make('ul');
    for (const r of rows) {
      const li = make('li');
      li.dataset.unitId = r.device_id;
      li.dataset.reason = r.reason;
      const name = r.name || r.device_id;
      const km = (Number(r.straight_m) / 1000).toFixed(1);
      const why = r.reason === 'off_duty' ? (c.lang === 'en' ? r.reason_en : r.reason_ja)
        : (c.lang === 'en' ? r.comm_en : r.comm_ja);
      li.append(make('span', null, format(text.unavailable_item, {unit: name, reason: why, km,
        seen: r.last_seen ? at(r.last_seen) : '—'})));
      if (r.reason !== 'off_duty') {
        const b = button(text.dispatch_anyway, 'gisapp-inc-button gisapp-inc-dispatch-anyway');
        b.setAttribute('aria-label', format(text.dispatch_anyway_label, {unit: name}));
        b.dataset.unitId = r.device_id;
        b.addEventListener('click', () => dispatchTo(c, inc, {unit_id: r.device_id, confirm_offline: true}, name, b));
        li.append(b);
      }
      list.append(li);
    }
    box.append(list);
    return box;
  }

  /** A list of things to dispatch, each with its own button. */
  function dispatchList(inc, id, className, heading, none, items) {
    const box = make('section', className);
    box.id = id;
    box.append(make('h4', null, heading));
    const list = make('ul');
    for (const item of items) {
      const li = make('li');
      li.dataset[item.attr] = item.id;
      const b = button(text.dispatch, `gisapp-inc-button gisapp-inc-dispatch-${item.kind}`);
      b.setAttribute('aria-label', format(text.dispatch_unit, {unit: item.name}));
      b.dataset[item.attr] = item.id;
      b.addEventListener('click', () => dispatchTo(c, inc, item.body, item.name, b));
      li.append(make('span', null, item.label), b);
      list.append(li);
    }
    if (!items.length) list.append(make('li', null, none));
    box.append(list);
    return box;
  }

  return {element: detail, open, close, refresh};
}
