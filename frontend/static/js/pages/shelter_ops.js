/* Shelter operations (避難所運営, templates/shelter_ops.html): every shelter of the disaster for the HQ
 * (/shelters/ops), or one shelter for its own staff (/shelters/{id}/ops).
 *   GET  /api/disasters, /api/disasters/{d}/shelters, /api/disasters/{d}/shelter-needs, /api/shelters
 *   POST …/shelters/{s}/open, …/close (after …/close-check in a confirmation dialog), …/needs
 *   PATCH /api/shelter-needs/{id} (If-Match), PUT …/shelters/{s}/care
 * Kept current by the event stream (shelter_occupancy, shelter_need). Numbers and items only.
 * Tests: body[data-ops='ready'|'error'], #ops-shelters tr[data-shelter-id][data-occupancy][data-state], #ops-needs tr[data-need-id]
 *   [data-status], #ops-totals[data-people], #ops-close-dialog, #ops-message[data-kind]. */

import {ApiError, errorLines, getJSON, send} from '../lib/api.js';
import {clockTime, el, format, oneAtATime, pageData} from '../lib/dom.js';
import {openStream} from '../hq/stream.js';

const data = pageData();
const {lang, rules} = data;
const t = data.text.shelter_ops;
const common = data.text.common;
const only = data.shelter_id; // this shelter's own screen, else null (the HQ: all shelters)
const $ = (id) => document.getElementById(id);

const disasterSelect = $('ops-disaster');
const dialog = $('ops-close-dialog');
let disasterId = null;
let state = {shelters: [], needs: [], care: [], all: []};
let closing = null; // the shelter the dialog is about

// ------------------------------------------------------------------ messages
function message(kind, lines) {
  const box = $('ops-message');
  box.replaceChildren(...lines.map((line) => el('p', {lang: line.lang || null}, line.text)));
  box.dataset.kind = kind;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  box.hidden = false;
}

const problem = (error) => message('error', errorLines(error, common, lang));

// ------------------------------------------------------------------ loading
async function loadDisasters() {
  const list = await getJSON('/api/disasters');
  const open = list.filter((d) => d.closed_at === null);
  const wanted = Number(new URLSearchParams(window.location.search).get('disaster')) || null;
  disasterSelect.replaceChildren(...(open.length ? open.map((d) => el('option', {value: String(d.id)}, d.name))
    : [el('option', {value: ''}, t.no_disaster)]));
  disasterId = open.some((d) => d.id === wanted) ? wanted : (open[0]?.id ?? null);
  if (disasterId !== null) disasterSelect.value = String(disasterId);
}

const load = oneAtATime(async () => {
  if (disasterId === null) {
    $('ops-status').textContent = t.no_disaster;
    document.body.dataset.ops = 'ready';
    return;
  }
  try {
    const query = only ? `?shelter=${only}` : '';
    const [status, needs, all] = await Promise.all([
      getJSON(`/api/disasters/${disasterId}/shelters`),
      getJSON(`/api/disasters/${disasterId}/shelter-needs${query}`),
      only ? Promise.resolve([]) : getJSON('/api/shelters'),
    ]);
    const shelters = status.shelters.filter((s) => !only || s.id === only);
    state = {shelters, totals: status.totals, needs: needs.needs, care: needs.care, all};
    draw();
    $('ops-status').textContent = format(t.loaded, {time: clockTime(new Date().toISOString(), lang)});
    document.body.dataset.ops = 'ready';
  } catch (error) {
    $('ops-status').textContent = format(t.load_error, {status: error.status || '?'});
    document.body.dataset.ops = 'error';
    if (error.status === 401) window.location.href = `/login?next=${encodeURIComponent(window.location.pathname)}`;
  }
});

// ------------------------------------------------------------------ drawing
function draw() {
  const open = state.shelters.filter((s) => s.closed_at === null);
  const people = open.reduce((n, s) => n + s.occupancy, 0);
  const totals = $('ops-totals');
  totals.textContent = format(t.totals, {people, households: open.reduce((n, s) => n + s.households, 0),
    open: open.length, capacity: open.reduce((n, s) => n + (s.capacity || 0), 0)});
  totals.dataset.people = String(people);
  if (only && state.shelters[0]) document.getElementById('gisapp-title').textContent = format(t.title_one, {name: state.shelters[0].name});
  drawShelters();
  drawNeeds();
  const openOptions = open.map((s) => el('option', {value: String(s.id)}, s.name));
  for (const id of ['ops-need-shelter', 'ops-care-shelter']) {
    const select = $(id);
    const kept = select.value;
    select.replaceChildren(...openOptions.map((o) => o.cloneNode(true)));
    if (kept && open.some((s) => String(s.id) === kept)) select.value = kept;
  }
  drawCare();
  drawOpenForm();
}

function drawShelters() {
  const care = new Map(state.care.map((c) => [c.shelter_id, c]));
  const rows = state.shelters.map((s) => {
    const isOpen = s.closed_at === null;
    const symbol = rules.levels[s.level];
    const needs = state.needs.filter((n) => n.shelter_id === s.id && ['requested', 'arranged'].includes(n.status));
    const actions = el('td', {class: 'ops-actions'});
    if (!only) actions.append(el('a', {class: 'gisapp-button gisapp-button-secondary', href: `/shelters/${s.id}/ops${lang === 'en' ? '?lang=en' : ''}`,
      'aria-label': format(t.details_label, {name: s.name})}, t.details));
    if (isOpen) actions.append(el('button', {type: 'button', class: 'gisapp-button gisapp-button-danger',
      'aria-label': format(t.close_label, {name: s.name}), onclick: () => askClose(s)}, t.close));
    return el('tr', {dataset: {shelterId: String(s.id), occupancy: String(s.occupancy), state: isOpen ? 'open' : 'closed'}},
      el('th', {scope: 'row'}, s.name),
      el('td', null, isOpen ? t.state_open : t.state_closed),
      el('td', null, format(t.people, {n: s.occupancy, cap: s.capacity ?? '—'})),
      el('td', null, String(s.households)),
      el('td', null, isOpen && symbol ? format(t.level, symbol) : '—'),
      el('td', null, care.has(s.id) ? format(t.care_total, {n: care.get(s.id).total}) : '—'),
      el('td', null, format(t.needs_open, {n: needs.length})),
      actions);
  });
  $('ops-shelters').tBodies[0].replaceChildren(...rows);
}

function drawNeeds() {
  const body = $('ops-needs').tBodies[0];
  if (!state.needs.length) {
    body.replaceChildren(el('tr', null, el('td', {colspan: '6'}, t.no_needs)));
    return;
  }
  body.replaceChildren(...state.needs.map((n) => {
    const buttons = (rules.need_next[n.status] || []).map((next) => el('button', {type: 'button',
      class: 'gisapp-button gisapp-button-secondary', 'aria-label': format(t.need_to_label, {item: n.item, status: rules.need_statuses[next]}),
      onclick: () => changeNeed(n, next)}, format(t.need_to, {status: rules.need_statuses[next]})));
    return el('tr', {dataset: {needId: String(n.id), status: n.status, version: String(n.version)}},
      el('td', null, n.shelter_name),
      el('th', {scope: 'row'}, n.item),
      el('td', null, `${n.quantity} ${n.unit}`),
      el('td', null, rules.priorities[String(n.priority)]),
      el('td', null, rules.need_statuses[n.status]),
      el('td', {class: 'ops-actions'}, ...buttons));
  }));
}

function drawCare() {
  const shelterId = Number($('ops-care-shelter').value);
  const current = state.care.find((c) => c.shelter_id === shelterId);
  const box = $('ops-care-fields');
  box.dataset.version = String(current ? current.version : 0);
  box.replaceChildren(...rules.care_order.map((key) => el('div', {class: 'gisapp-field'},
    el('label', {for: `ops-care-${key}`}, rules.care_categories[key]),
    el('input', {id: `ops-care-${key}`, name: key, type: 'number', min: '0', max: '10000', inputmode: 'numeric',
      value: String(current ? current.counts[key] : 0)}))));
  $('ops-care-current').textContent = current
    ? format(t.care_current, {time: clockTime(current.reported_at, lang), by: current.reported_by}) : t.care_none;
}

function drawOpenForm() {
  const form = $('ops-open-form');
  form.hidden = Boolean(only);
  if (only) return;
  const openIds = new Set(state.shelters.filter((s) => s.closed_at === null).map((s) => s.id));
  const candidates = state.all.filter((s) => !openIds.has(s.id));
  $('ops-open-shelter').replaceChildren(...(candidates.length
    ? [el('option', {value: ''}, t.choose), ...candidates.map((s) => el('option', {value: String(s.id)}, s.name))]
    : [el('option', {value: ''}, t.none_to_open)]));
}

// ------------------------------------------------------------------ actions
$('ops-open-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const select = $('ops-open-shelter');
  const name = select.selectedOptions[0]?.textContent || '';
  try {
    await send('POST', `/api/disasters/${disasterId}/shelters/${select.value || 0}/open`,
      {responsible_staff: $('ops-open-staff').value});
    message('ok', [{text: format(t.opened, {name})}]);
    await load();
  } catch (error) {
    problem(error);
  }
});

$('ops-need-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const item = form.item.value;
  try {
    await send('POST', `/api/disasters/${disasterId}/shelters/${form.shelter.value || only || 0}/needs`, {
      item, quantity: Number(form.quantity.value), unit: form.unit.value, priority: Number(form.priority.value)});
    message('ok', [{text: format(t.need_added, {item})}]);
    form.item.value = '';
    await load();
  } catch (error) {
    problem(error);
  }
});

async function changeNeed(need, status) {
  try {
    await send('PATCH', `/api/shelter-needs/${need.id}`, {status}, {headers: {'If-Match': `"${need.version}"`}});
    message('ok', [{text: format(t.need_changed, {item: need.item, status: rules.need_statuses[status]})}]);
  } catch (error) {
    if (error.status === 409) message('error', [{text: t.stale}]);
    else problem(error);
  }
  await load();
}

$('ops-care-shelter').addEventListener('change', drawCare);
$('ops-care-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const counts = Object.fromEntries(rules.care_order.map((key) => [key, Number($(`ops-care-${key}`).value || 0)]));
  try {
    const saved = await send('PUT', `/api/disasters/${disasterId}/shelters/${$('ops-care-shelter').value || 0}/care`,
      {counts, version: Number($('ops-care-fields').dataset.version)});
    message('ok', [{text: format(t.care_saved, {n: saved.total})}]);
  } catch (error) {
    if (error.status === 409) message('error', [{text: t.stale}]);
    else problem(error);
  }
  await load();
});

// ------------------------------------------------------------------ closing: a confirmation dialog
async function askClose(shelter) {
  let check;
  try {
    check = await getJSON(`/api/disasters/${disasterId}/shelters/${shelter.id}/close-check`);
  } catch (error) {
    problem(error);
    return;
  }
  closing = {shelter, check};
  $('ops-close-title').textContent = format(t.close_title, {name: shelter.name});
  $('ops-close-people').textContent = check.occupancy
    ? format(t.close_people, {n: check.occupancy, households: check.households}) : t.close_empty;
  const near = check.incidents_near;
  $('ops-close-incidents').replaceChildren(...(near.length ? [
    el('p', null, format(t.close_incidents, {n: near.length, m: check.near_m})),
    el('ul', null, ...near.map((i) => el('li', null, format(t.close_incident,
      {id: i.id, title: i.title, status: lang === 'en' ? i.status_en : i.status_ja, distance: i.distance_m})))),
  ] : []));
  $('ops-close-choice').hidden = check.occupancy === 0;
  $('ops-close-target').replaceChildren(...(check.move_targets.length
    ? check.move_targets.map((s) => el('option', {value: String(s.shelter_id)}, `${s.name}（${s.occupancy}/${s.capacity ?? '—'}）`))
    : [el('option', {value: ''}, t.no_target)]));
  for (const id of ['ops-close-move', 'ops-close-checkout']) $(id).checked = false;
  $('ops-close-reason').value = '';
  $('ops-close-error').hidden = true;
  dialog.showModal();
}

$('ops-close-cancel').addEventListener('click', () => dialog.close());
$('ops-close-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const {shelter, check} = closing;
  const choice = document.querySelector('input[name="people"]:checked')?.value || null;
  const showError = (lines) => {
    const box = $('ops-close-error');
    box.replaceChildren(...lines.map((line) => el('p', {lang: line.lang || null}, line.text)));
    box.hidden = false;
  };
  if (check.occupancy > 0 && !choice) {
    showError([{text: t.choose_people}]);
    return;
  }
  const body = {};
  if (check.occupancy > 0) {
    body.people = choice;
    if (choice === 'move') body.move_to = Number($('ops-close-target').value) || null;
    else body.reason = $('ops-close-reason').value;
  }
  try {
    const done = await send('POST', `/api/disasters/${disasterId}/shelters/${shelter.id}/close`, body);
    dialog.close();
    const people = done.people;
    const text = people.choice === 'move' ? format(t.closed_moved, {name: shelter.name, n: people.persons, to: people.to_name})
      : people.choice === 'checkout' ? format(t.closed_out, {name: shelter.name, n: people.persons})
        : format(t.closed, {name: shelter.name});
    message('ok', [{text}]);
    await load();
  } catch (error) {
    showError(error instanceof ApiError ? errorLines(error, common, lang) : [{text: String(error)}]);
  }
});

// ------------------------------------------------------------------ start
disasterSelect.addEventListener('change', () => {
  disasterId = Number(disasterSelect.value) || null;
  load();
});
$('ops-need-priority').replaceChildren(...Object.entries(rules.priorities).map(([k, label]) =>
  el('option', {value: k, selected: k === '2'}, label)));

openStream({types: ['shelter_occupancy', 'shelter_need'], onEvent: () => load(), onMissed: () => load(),
  onState: () => {}, onSeq: () => {}});
loadDisasters().then(load).catch(problem);
