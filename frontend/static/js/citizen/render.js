/* The citizen page's answers drawn again from /api/public/here after a refresh or a new position: the
 * same structure, classes and words as frontend/templates/citizen.html (the server's first rendering),
 * states and colours from the page data's symbols, level colours from /symbols.css classes. */

import {el, format} from '../lib/dom.js';

function clock(iso, lang) {
  if (!iso) return '—';
  const date = new Date(iso);
  const today = new Date();
  const options = {hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Tokyo'};
  const fmt = (d, o) => d.toLocaleString('en-CA', {...o, timeZone: 'Asia/Tokyo'});
  if (fmt(date, {year: 'numeric', month: '2-digit', day: '2-digit'}) !==
      fmt(today, {year: 'numeric', month: '2-digit', day: '2-digit'})) {
    Object.assign(options, {month: 'numeric', day: 'numeric'});
  }
  return date.toLocaleString(lang === 'en' ? 'en-GB' : 'ja-JP', options);
}

const suffixOf = (lang) => (lang === 'en' ? 'en' : 'ja');

function orderView(order, data) {
  const s = suffixOf(data.lang);
  const easy = data.lang === 'easy' ? data.text.citizen.level[String(order.level)] : null;
  return {
    level: order.level,
    label: order[`level_label_${s}`],
    name: easy ? easy.name : order[`name_${s}`],
    action: easy ? easy.action : order[`action_${s}`],
    hazard: order[`hazard_${s}`],
    areas: order.area_names.join(s === 'ja' ? '、' : ', '),
    cancelledAt: order.cancelled_at,
  };
}

function badge(symbol, kind, state, withLabel) {
  return el('span', {class: `citizen-badge gisapp-symbol-${kind}-${state}`},
    el('span', {class: `gisapp-letter-marker gisapp-shape-${symbol.shape}`, 'aria-hidden': 'true'},
      el('span', {class: 'gisapp-letter-marker-body'}, symbol.letter)),
    withLabel ? el('span', {class: 'citizen-badge-label'}, symbol.label) : null);
}

function renderEvac(answer, data) {
  const c = data.text.citizen;
  const section = document.getElementById('citizen-evac');
  const orders = answer.evacuation.orders;
  section.dataset.state = answer.failed ? 'failed' : (orders.length ? 'order' : 'none');
  section.dataset.version = String(answer.evacuation.version);
  const title = document.getElementById('citizen-evac-title');
  title.replaceChildren(c.evac_title,
    orders.length ? el('span', {class: 'citizen-evac-scope'}, answer.place ? c.evac_here : c.evac_all) : '');
  const body = [];
  for (const order of orders) {
    const o = orderView(order, data);
    body.push(el('div', {class: `citizen-order citizen-level-${o.level}`, dataset: {orderId: order.id, level: o.level, status: 'active'}},
      el('p', {class: 'citizen-order-level'}, el('span', {class: 'citizen-order-number'}, o.label), ' ',
        el('strong', {class: 'citizen-order-name'}, o.name)),
      el('p', {class: 'citizen-order-action'}, o.action),
      el('p', {class: 'citizen-order-meta'},
        `${format(c.evac_hazard, {hazard: o.hazard})} ／ ${format(c.evac_areas, {areas: o.areas})}`)));
  }
  if (!orders.length && answer.failed) {
    body.push(el('p', {class: 'gisapp-notice citizen-failed', dataset: {kind: 'error'}}, c.load_failed));
  } else if (!orders.length) {
    body.push(el('p', {class: 'citizen-evac-none'}, el('span', {class: 'citizen-check', 'aria-hidden': 'true'}, '✓'),
      ' ', answer.place ? c.evac_none_here : c.evac_none));
    const elsewhere = answer.evacuation.elsewhere || [];
    if (elsewhere.length) {
      body.push(el('p', {class: 'citizen-evac-elsewhere'}, c.evac_elsewhere));
      body.push(el('ul', {class: 'citizen-elsewhere-list'}, elsewhere.map((order) => {
        const o = orderView(order, data);
        return el('li', {class: 'citizen-elsewhere', dataset: {orderId: order.id}},
          el('span', {class: `citizen-level-chip citizen-level-${o.level}`}, o.label), ` ${o.name}（${o.areas}）`);
      })));
    }
    if (answer.disasters.length) {
      body.push(el('p', {class: 'citizen-disasters'},
        format(c.disasters_open, {names: answer.disasters.map((d) => d.name).join('、')})));
    }
  }
  for (const order of answer.evacuation.cancelled || []) {
    const o = orderView(order, data);
    body.push(el('p', {class: 'citizen-lifted', dataset: {orderId: order.id, status: 'cancelled'}},
      format(c.evac_lifted, {level: o.label, name: o.name, areas: o.areas, time: clock(o.cancelledAt, data.lang)})));
  }
  const announcer = document.getElementById('citizen-evac-announce');
  body.push(announcer);
  section.replaceChildren(title, ...body);
}

/** Words for a screen reader when an order appears or changes: its level and name. */
export function orderNews(previous, next, data) {
  const before = new Map(previous.evacuation.orders.map((o) => [o.id, o.version]));
  const news = next.evacuation.orders.filter((o) => before.get(o.id) !== o.version);
  return news.map((order) => {
    const o = orderView(order, data);
    return `${o.label} ${o.name}：${o.areas}`;
  }).join('。');
}

function renderPlace(answer, data) {
  const c = data.text.citizen;
  const place = answer.place;
  document.getElementById('citizen-place').dataset.source = place ? place.source : 'none';
  let words = c.place_none;
  if (place && place.source === 'position') {
    words = place.area_name ? format(c.place_position_area, {area: place.area_name}) : c.place_position;
  } else if (place) {
    words = format(c.place_area, {area: place.area_name});
  }
  document.getElementById('citizen-place-name').textContent = words;
}

function renderHazard(answer, data) {
  const c = data.text.citizen;
  const s = suffixOf(data.lang);
  const section = document.getElementById('citizen-hazard');
  const title = document.getElementById('citizen-hazard-title');
  const areas = answer.hazard_areas;
  section.dataset.state = answer.place ? (areas.length ? 'areas' : 'none') : 'no-place';
  const body = [];
  if (!answer.place) {
    body.push(el('p', {}, c.hazard_no_place));
  } else if (areas.length) {
    body.push(el('ul', {class: 'citizen-hazard-list'}, areas.map((h) => el('li', {class: 'citizen-hazard-item', dataset: {type: h.type}},
      el('span', {class: 'citizen-warn', 'aria-hidden': 'true'}, '⚠'), ' ', el('strong', {}, h[`label_${s}`]),
      h.depth ? `　${format(c.hazard_depth, {depth: h.depth})}` : null))));
    body.push(el('p', {class: 'citizen-small'}, c.hazard_source));
  } else {
    body.push(el('p', {}, c.hazard_none));
  }
  section.replaceChildren(title, ...body);
}

function shelterItem(shelter, answer, data, onMap) {
  const c = data.text.citizen;
  const s = suffixOf(data.lang);
  const symbol = data.symbols.shelter[shelter.level];
  const item = el('li', {class: 'citizen-shelter', dataset: {shelterId: shelter.id, level: shelter.level,
    ...(shelter.distance_m !== null ? {distance: shelter.distance_m} : {})}});
  item.append(el('div', {class: 'citizen-shelter-head'}, el('h3', {class: 'citizen-shelter-name'}, shelter.name),
    badge(symbol, 'shelter', shelter.level, true)));
  item.append(el('p', {class: 'citizen-shelter-people'}, shelter.capacity
    ? format(c.shelter_people, {occupancy: shelter.occupancy, capacity: shelter.capacity})
    : format(c.shelter_people_nocap, {occupancy: shelter.occupancy})));
  if (shelter.walk_m !== null) {
    item.append(el('p', {class: 'citizen-shelter-walk'}, format(c.shelter_walk, {metres: shelter.walk_m, minutes: shelter.walk_min})));
  }
  for (const hazard of answer.evacuation.hazards) {
    if (!(hazard.hazard in shelter.suits_by_hazard)) continue;
    const fits = shelter.suits_by_hazard[hazard.hazard];
    item.append(el('p', {class: 'citizen-shelter-suits', dataset: {suits: String(fits)}},
      el('span', {'aria-hidden': 'true'}, fits ? '✓' : '✗'), ' ',
      format(fits ? c.shelter_suits : c.shelter_not_suits, {hazard: hazard[`hazard_${s}`]})));
  }
  item.append(el('p', {class: 'citizen-shelter-address'}, shelter.address || ''));
  item.append(el('p', {class: 'citizen-shelter-updated'}, format(c.shelter_updated, {time: clock(shelter.updated_at, data.lang)}),
    shelter.stale ? [' ', el('strong', {class: 'citizen-stale'}, el('span', {'aria-hidden': 'true'}, '⚠'), ` ${c.shelter_stale}`)] : null));
  const button = el('button', {type: 'button', class: 'gisapp-button gisapp-button-secondary citizen-on-map', dataset: {shelterId: shelter.id}},
    c.shelter_on_map, el('span', {class: 'gisapp-visually-hidden'}, `：${shelter.name}`));
  button.addEventListener('click', () => onMap(shelter.id));
  item.append(button);
  return item;
}

function renderShelters(answer, data, onMap) {
  const c = data.text.citizen;
  const title = document.getElementById('citizen-shelters-title');
  title.replaceChildren(`${answer.place ? c.shelters_title : c.shelters_title_all} `,
    el('span', {class: 'citizen-order-by'}, `（${answer.place ? c.shelters_order_distance : c.shelters_order_name}）`));
  const list = document.getElementById('citizen-shelter-list');
  list.dataset.state = answer.failed ? 'failed' : (answer.shelters.length ? 'list' : 'empty');
  if (answer.failed) {
    list.replaceChildren(el('li', {class: 'citizen-shelters-failed gisapp-notice', id: 'citizen-shelters-failed', dataset: {kind: 'error'}},
      c.shelters_failed));
  } else if (!answer.shelters.length) {
    list.replaceChildren(el('li', {class: 'citizen-shelters-none', id: 'citizen-shelters-none'}, c.shelters_none));
  } else {
    list.replaceChildren(...answer.shelters.map((shelter) => shelterItem(shelter, answer, data, onMap)));
  }
  let note = list.nextElementSibling;
  if (!note?.classList.contains('citizen-small')) {
    note = el('p', {class: 'citizen-small'});
    list.after(note);
  }
  note.textContent = answer.shelters.length && answer.place ? c.shelter_walk_note : '';
  note.hidden = !note.textContent;
}

function renderRoads(answer, data) {
  const c = data.text.citizen;
  const s = suffixOf(data.lang);
  const closures = document.getElementById('citizen-closure-list');
  closures.replaceChildren(...(answer.closures.length
    ? answer.closures.map((r) => el('li', {class: 'citizen-closure', dataset: {closureId: r.id}},
      badge(data.symbols.closure.closed, 'closure', 'closed', false), ' ',
      `${format(c.closure_item, {route: r.route_name})}（${format(c.closure_since, {time: clock(r.closed_at, data.lang)})}）`))
    : [el('li', {class: 'citizen-empty'}, c.closures_none)]));
  const incidents = document.getElementById('citizen-incident-list');
  incidents.replaceChildren(...(answer.incidents.length
    ? answer.incidents.map((i) => {
      const kind = i.road_closure ? 'closure' : 'incident';
      return el('li', {class: 'citizen-incident', dataset: {incidentId: i.id, state: i.state}},
        badge(data.symbols[kind][i.state], kind, i.state, false), ` ${i[`category_${s}`]}：`,
        el('strong', {}, c.incident_state[i.state]),
        `（${format(c.shelter_updated, {time: clock(i.updated_at, data.lang)})}）`);
    })
    : [el('li', {class: 'citizen-empty'}, c.incidents_none)]));
}

/** Draw `answer` into the page (firstTime: the server's HTML is already this answer; only wire it). */
export function renderAnswer(answer, data, {onMap, firstTime = false}) {
  if (!firstTime) {
    // A refresh replaces the list: the keyboard stays on the same shelter's button, never on <body>.
    const active = document.activeElement;
    const kept = active?.classList.contains('citizen-on-map') ? active.dataset.shelterId : null;
    renderEvac(answer, data);
    renderPlace(answer, data);
    renderHazard(answer, data);
    renderShelters(answer, data, onMap);
    renderRoads(answer, data);
    const asOf = document.getElementById('citizen-as-of');
    asOf.dataset.generatedAt = answer.generated_at;
    asOf.textContent = format(data.text.citizen.as_of, {time: clock(answer.generated_at, data.lang)});
    if (kept) {
      const again = document.querySelector(`.citizen-on-map[data-shelter-id="${kept}"]`);
      (again || document.getElementById('citizen-shelters-title')).focus();
    }
    return;
  }
  for (const button of document.querySelectorAll('.citizen-on-map')) {
    button.hidden = false;
    button.addEventListener('click', () => onMap(Number(button.dataset.shelterId)));
  }
}
