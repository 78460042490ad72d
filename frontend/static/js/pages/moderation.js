/* HQ moderation of citizen reports (/hq/reports): the queue with each report's place in words, its
 * photo and a small map; make an incident, merge into one, or reject — a rejection asks first (a
 * confirm step in the card, Escape cancels) and can be undone at once ("元に戻す") or later from the
 * list of recent rejections. After every action focus goes to the result message, never to <body>. */

import {ApiError, errorLines, getJSON, send} from '../lib/api.js';
import {announce, el, format, noticeBox, pageData} from '../lib/dom.js';
import {createMap, letterMarker} from '../lib/map.js';

const data = pageData();
const lang = data.lang;
const text = data.text.moderation;
const common = data.text.common;

const status = document.getElementById('moderation-status');
const list = document.getElementById('moderation-queue');
const disaster = document.getElementById('moderation-disaster');
const resultNode = document.getElementById('moderation-result');
const errorNode = document.getElementById('moderation-error');
const rejectedBox = document.getElementById('moderation-rejected');
const rejectedList = document.getElementById('moderation-rejected-list');
const result = noticeBox(resultNode);
const failure = noticeBox(errorNode);
const when = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'ja-JP',
  {dateStyle: 'short', timeStyle: 'short', timeZone: 'Asia/Tokyo'});

const mapNode = document.getElementById('moderation-map');
const map = createMap(mapNode, {zoom: 13, offline: data.offline, text: common});
const markers = L.layerGroup().addTo(map);
window.gisapp = {map, reload: () => loadAll()};

const ON_ROAD_M = 5;  // closer than this: "on the road"
const category = (report) => (lang === 'en' ? report.category_en : report.category_ja);

function button(label, onClick, {kind = 'secondary', name = null} = {}) {
  return el('button', {type: 'button', class: `gisapp-button gisapp-button-${kind}`, 'aria-label': name,
    onclick: onClick}, label);
}

/** The report's place in words: 町丁目 area, nearest road, and the coordinates for the record. */
function placeText(report) {
  let road = null;
  if (report.road_name) {
    const m = Math.round(report.road_m);
    road = format(m < ON_ROAD_M ? text.road_on : report.area_name ? text.road : text.road_no_area,
      {road: report.road_name, m});
  }
  const parts = [report.area_name, road].filter(Boolean);
  return parts.length ? parts.join('・') : text.no_place;
}

function showError(error) {
  failure.show('error', [{text: text.action_failed}, ...errorLines(error, common, lang)]);
  errorNode.focus();
}

/** Say what happened, with an optional button (undo), and move focus to the message. */
function done(message, extra = null) {
  failure.clear();
  result.show('ok', [{text: message}]);
  if (extra) resultNode.append(el('p', {}, extra));
  resultNode.focus();
}

async function act(report, action, body, doneText) {
  let answer;
  try {
    answer = await send('POST', `/api/reports/${report.id}/${action}`, body);
  } catch (error) {
    showError(error);
    await loadAll();
    return;
  }
  const message = format(doneText, {id: report.id, incident: answer.report.incident_id});
  const undo = action === 'reject'
    ? button(format(text.undo, {id: report.id}), () => restore(report.id), {kind: 'secondary'})
    : null;
  if (undo) undo.id = 'moderation-undo';
  await loadAll();
  done(message, undo);
}

async function restore(id) {
  try {
    await send('POST', `/api/reports/${id}/restore`, {});
  } catch (error) {
    showError(error);
    return;
  }
  await loadAll();
  done(format(text.done_restore, {id}));
}

/** The two-step reject: the card's actions give way to a small confirm form. */
function confirmReject(report, actions, rejectButton) {
  const titleId = `moderation-confirm-${report.id}`;
  const reasonId = `moderation-reason-${report.id}`;
  const reason = el('input', {id: reasonId, name: 'reason', maxlength: 500, autocomplete: 'off'});
  const confirm = el('div', {class: 'moderation-confirm', role: 'group', 'aria-labelledby': titleId},
    el('p', {id: titleId, class: 'moderation-confirm-title'}, format(text.confirm_title, {id: report.id})),
    el('p', {class: 'gisapp-field-hint'}, text.confirm_text),
    el('div', {class: 'gisapp-field'}, el('label', {for: reasonId}, text.reason), reason));
  const cancel = () => {
    confirm.replaceWith(actions);
    rejectButton.focus();
  };
  const yes = button(text.confirm_reject, () => act(report, 'reject', {reason: reason.value.trim()},
    text.done_reject), {kind: 'danger'});
  yes.id = `moderation-confirm-reject-${report.id}`;
  confirm.append(el('div', {class: 'moderation-actions'}, yes, button(text.cancel, cancel)));
  confirm.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      cancel();
    }
  });
  actions.replaceWith(confirm);
  reason.focus();
}

function suggestionsSection(report) {
  const hints = report.suggestions || {incidents: [], reports: []};
  const section = el('div', {class: 'moderation-suggestions'});
  if (!hints.incidents.length && !hints.reports.length) {
    section.append(el('p', {class: 'gisapp-field-hint'}, text.no_suggestions));
  }
  if (hints.incidents.length) {
    const items = hints.incidents.map((incident) => el('li', {},
      el('span', {}, format(text.incident_line, {
        id: incident.id, title: incident.title, status: lang === 'en' ? incident.status_en : incident.status_ja,
        m: Math.round(incident.distance_m), min: Math.round(incident.minutes_apart)})),
      ' ',
      button(text.merge, () => act(report, 'merge', {incident_id: incident.id}, text.done_merge),
        {name: format(text.merge_label, {id: report.id, incident: incident.id})})));
    section.append(el('h4', {}, text.suggest_incidents), el('ul', {}, items));
  }
  if (hints.reports.length) {
    const items = hints.reports.map((other) => el('li', {}, format(text.report_line,
      {id: other.id, m: Math.round(other.distance_m), min: Math.round(other.minutes_apart)})));
    section.append(el('h4', {}, text.suggest_reports), el('ul', {}, items));
  }
  return section;
}

function showOnMap(report, n) {
  map.setView([report.lat, report.lon], 17, {animate: false});
  // On a phone the map is under the list: bring it into view (focus stays on the button).
  const box = mapNode.getBoundingClientRect();
  if (box.top > window.innerHeight || box.bottom < 0) mapNode.scrollIntoView({block: 'center'});
  announce(format(text.shown_on_map, {id: report.id, n}));
}

function card(report, n) {
  const headingId = `moderation-report-${report.id}`;
  const item = el('li', {class: 'moderation-card', dataset: {reportId: report.id}, 'aria-labelledby': headingId});
  item.append(el('h3', {id: headingId, tabindex: -1},
    el('span', {class: 'moderation-number'}, format(text.number, {n})), ' ',
    format(text.report, {id: report.id}), ' ', category(report)));
  item.append(el('p', {class: 'gisapp-field-hint'}, format(text.received, {time: when.format(new Date(report.created_at))})));
  const details = el('dl', {class: 'moderation-details'},
    el('dt', {}, text.place),
    el('dd', {class: 'moderation-place'}, placeText(report),
      el('span', {class: 'moderation-coords'}, ` (${format(text.coords,
        {lat: report.lat.toFixed(5), lon: report.lon.toFixed(5)})})`)),
    el('dt', {}, text.description),
    el('dd', {class: 'moderation-description'}, report.description || text.no_description),
    el('dt', {}, text.photo));
  if (report.photo_url) {
    details.append(el('dd', {},
      el('a', {href: report.photo_url, target: '_blank', rel: 'noopener', 'aria-label': format(text.photo_open, {id: report.id})},
        el('img', {class: 'moderation-photo', src: report.photo_url, alt: format(text.photo_alt, {id: report.id}),
          loading: 'lazy'}))));
  } else {
    details.append(el('dd', {}, text.no_photo));
  }
  item.append(details, suggestionsSection(report));
  const actions = el('div', {class: 'moderation-actions', role: 'group', 'aria-label': format(text.actions, {id: report.id})});
  const accept = button(text.accept, () => {
    const body = disaster.value ? {disaster_id: Number(disaster.value)} : {};
    act(report, 'accept', body, text.done_accept);
  }, {kind: 'primary'});
  const reject = button(text.reject, () => confirmReject(report, actions, reject),
    {kind: 'secondary', name: format(text.reject_label, {id: report.id})});
  reject.classList.add('moderation-reject');
  const onMap = button(text.show_on_map, () => showOnMap(report, n),
    {name: `${text.show_on_map}: ${format(text.report, {id: report.id})}`});
  actions.append(accept, reject, onMap);
  item.append(actions);
  return item;
}

function drawMarkers(items) {
  markers.clearLayers();
  const bounds = [];
  items.forEach((report, i) => {
    // The list holds the same reports with their buttons: the markers are not tab stops.
    letterMarker([report.lat, report.lon], {letter: String(i + 1), shape: 'square', colour: '#b3261e',
      label: format(text.marker, {n: i + 1, id: report.id, category: category(report)}), interactive: false,
      className: 'moderation-marker'}).addTo(markers);
    bounds.push([report.lat, report.lon]);
  });
  if (bounds.length) map.fitBounds(bounds, {padding: [24, 24], maxZoom: 16});
}

async function loadDisasters() {
  const items = await getJSON('/api/disasters');
  const open = items.filter((d) => !d.closed_at);
  disaster.replaceChildren(...(open.length
    ? open.map((d) => el('option', {value: d.id}, d.name))
    : [el('option', {value: ''}, text.no_disaster)]));
}

async function loadQueue() {
  const items = await getJSON('/api/reports?state=pending');
  list.replaceChildren(...items.map((report, i) => card(report, i + 1)));
  drawMarkers(items);
  status.textContent = items.length ? format(text.pending_count, {n: items.length}) : text.none;
  status.dataset.state = 'ready';
}

async function loadRejected() {
  const items = await getJSON('/api/reports?state=rejected&limit=20&with_suggestions=false');
  rejectedList.replaceChildren(...(items.length ? items.map((report) => el('li', {},
    el('span', {}, format(text.rejected_line, {id: report.id, category: category(report),
      time: report.moderated_at ? when.format(new Date(report.moderated_at)) : '—', who: report.moderated_by || '—'})),
    ' ',
    button(text.restore, () => restore(report.id), {name: format(text.restore_label, {id: report.id})})))
    : [el('li', {}, text.rejected_none)]));
}

async function loadAll() {
  try {
    await Promise.all([loadQueue(), loadRejected()]);
  } catch (error) {
    status.textContent = text.load_failed;
    status.dataset.state = 'error';
    const retry = button(text.retry, () => loadAll());
    failure.show('error', [{text: text.load_failed}, ...errorLines(error, common, lang)]);
    errorNode.append(el('p', {}, retry));
    if (!(error instanceof ApiError)) console.error(error);
  }
}

rejectedBox.addEventListener('toggle', () => { if (rejectedBox.open) loadRejected().catch(showError); });
loadDisasters().catch(() => {}).then(loadAll);
