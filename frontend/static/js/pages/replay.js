/* After-action review (振り返り, /hq/replay): the HQ map of a disaster at a chosen time T.
 *
 * GET /api/disasters/{id}/at?t=… gives the incidents reported by T with the status their events gave
 * them by T, every radio unit's last position at or before T and the road closures in force at T
 * (drawn as on the HQ map, lib/closures.js). Read-only, no event stream. A slider
 * runs from the disaster's opening to its closing (or now); the export links give the full record.
 * Incidents are drawn as on the HQ map: letter + shape + colour from the server's state symbols
 * (frontend/symbols.py), named for screen readers, with a legend. Data goes in as text only. The
 * 印刷用地図 (PDF) link (lib/print.js) prints this map at T.
 *
 * Tests wait for .gisapp-incident[data-incident-id][data-status], .gisapp-unit[data-device-id],
 * .gisapp-replay-count[data-status][data-count], #gisapp-replay-summary; window.gisapp = {map}. */

import {getJSON} from '../lib/api.js';
import {closureLayer} from '../lib/closures.js';
import {el, format, pageData} from '../lib/dom.js';
import {createMap, legend, letterMarker} from '../lib/map.js';
import {printLink} from '../lib/print.js';

const data = pageData();
const text = data.text.replay;
const incidentSymbols = data.symbols.incident;
const unitSymbol = data.symbols.unit.online;
const STATUSES = data.statuses; // 未対応, 対応中, 対応済, 取消: the server's order
const locale = data.lang === 'en' ? 'en-GB' : 'ja-JP';

const status = document.getElementById('gisapp-status');
const form = document.getElementById('gisapp-replay-form');
const select = document.getElementById('gisapp-replay-disaster');
const when = document.getElementById('gisapp-replay-time');
const slider = document.getElementById('gisapp-replay-slider');
const summary = document.getElementById('gisapp-replay-summary');
const counts = document.querySelector('.gisapp-replay-counts');
const exports = document.querySelector('.gisapp-replay-exports');

const map = createMap(document.getElementById('gisapp-map'), {offline: data.offline, text: data.text.common});
window.gisapp = {map};
// A notice shown above the map (offline basemap, restricted layer) makes it shorter: tell Leaflet.
new ResizeObserver(() => map.invalidateSize()).observe(map.getContainer());
// The road closures in force at T, under the markers (lib/closures.js, as on the HQ map).
const closureSymbol = data.symbols.closure.closed;
const closures = closureLayer(map, {
  symbol: closureSymbol,
  label: (c) => format(text.closure_label, {route: c.route_name || '', reason: c.reason || ''}),
});
// Incidents first: they come before the units in the marker pane, so Tab reaches them first.
const incidentLayer = L.layerGroup().addTo(map);
const unitLayer = L.layerGroup().addTo(map);
legend(map, {
  title: text.legend,
  entries: [
    ...STATUSES.map((s) => incidentSymbols[s]),
    {...unitSymbol, label: text.unit_legend},
    {...closureSymbol, label: text.closure_legend},
  ],
  open: !window.matchMedia('(max-width: 600px)').matches,
});

let disasters = [];

const pad = (n) => String(n).padStart(2, '0');
/** A Date as the value of <input type=datetime-local step=1> (local time, to the second). */
function localValue(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function span(d) {
  const start = new Date(d.opened_at);
  const end = d.closed_at ? new Date(d.closed_at) : new Date();
  return [start, end > start ? end : new Date(start.getTime() + 60000)];
}

const current = () => disasters.find((d) => String(d.id) === select.value);

function syncSliderFromTime() {
  const d = current();
  if (!d || !when.value) return;
  const [start, end] = span(d);
  const f = (new Date(when.value).getTime() - start.getTime()) / (end.getTime() - start.getTime());
  slider.value = String(Math.round(Math.max(0, Math.min(1, f)) * 1000));
}

function syncTimeFromSlider() {
  const d = current();
  if (!d) return;
  const [start, end] = span(d);
  when.value = localValue(new Date(start.getTime() + (end.getTime() - start.getTime()) * Number(slider.value) / 1000));
}

function renderExports(d) {
  exports.replaceChildren();
  for (const part of ['incidents', 'events', 'assignments']) {
    for (const fmt of ['csv', 'geojson']) {
      exports.append(el('li', {}, el('a', {href: `/api/disasters/${d.id}/export/${part}.${fmt}`, download: true},
        `${text.export[part]} (${fmt.toUpperCase()})`)));
    }
  }
}

function mark(marker, attrs) {
  marker.on('add', () => {
    const node = marker.getElement();
    if (!node) return;
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  });
  return marker;
}

function draw(result) {
  closures.draw(result.closures || []);
  incidentLayer.clearLayers();
  unitLayer.clearLayers();
  const tally = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  const incidents = result.incidents?.features || [];
  for (const f of incidents) {
    const p = f.properties;
    tally[p.status] = (tally[p.status] || 0) + 1;
    const symbol = incidentSymbols[p.status] || incidentSymbols.unhandled;
    const label = format(text.incident_label, {status: symbol.label, title: p.title});
    const marker = letterMarker([f.geometry.coordinates[1], f.geometry.coordinates[0]],
      {...symbol, label, className: `gisapp-incident gisapp-incident-${STATUSES.includes(p.status) ? p.status : 'unknown'}`});
    marker.bindTooltip(el('span', {class: 'gisapp-incident-tooltip'}, label), {direction: 'top'});
    mark(marker, {'data-incident-id': String(p.id), 'data-status': p.status}).addTo(incidentLayer);
  }
  const units = result.units?.features || [];
  for (const f of units) {
    const p = f.properties;
    const label = format(text.unit_at, {name: p.name || p.device_id, time: new Date(p.device_ts).toLocaleString(locale)});
    const marker = letterMarker([f.geometry.coordinates[1], f.geometry.coordinates[0]],
      {...unitSymbol, label, className: 'gisapp-unit', size: 24});
    marker.bindTooltip(el('span', {}, label));
    mark(marker, {'data-device-id': String(p.device_id)}).addTo(unitLayer);
  }
  counts.replaceChildren(...STATUSES.map((s) => el('li',
    {class: 'gisapp-replay-count', dataset: {status: s, count: String(tally[s])}},
    `${incidentSymbols[s].label} ${tally[s]}`)));
  summary.textContent = format(text.now_showing,
    {time: new Date(result.t).toLocaleString(locale), n: incidents.length, u: units.length});
  status.textContent = summary.textContent;
  status.dataset.state = 'ready';
}

// 印刷用地図: the map at the time chosen here, of the disaster chosen here.
const print = printLink({map, link: document.getElementById('gisapp-print-map'),
  paper: document.getElementById('gisapp-print-paper'),
  disasterId: () => (current() ? current().id : null),
  at: () => (when.value ? new Date(when.value).toISOString() : null), lang: data.lang});
window.gisapp.print = print;

function failed(error) {
  console.error(error);
  status.textContent = format(text.error, {status: error.status || '?'});
  status.dataset.state = 'error';
}

let loading = null;
async function load() {
  const d = current();
  if (!d || !when.value) return;
  const url = `/api/disasters/${d.id}/at?t=${encodeURIComponent(new Date(when.value).toISOString())}`;
  loading = url;
  try {
    const result = await getJSON(url);
    if (loading === url) {
      draw(result); // an older answer arriving late does not overwrite a newer one
      print.update();
    }
  } catch (error) {
    if (loading === url) failed(error);
  }
}

select.addEventListener('change', () => {
  const d = current();
  if (!d) return;
  when.value = localValue(span(d)[1]);
  syncSliderFromTime();
  renderExports(d);
  load();
});
when.addEventListener('change', () => { syncSliderFromTime(); load(); });
slider.addEventListener('input', syncTimeFromSlider);
slider.addEventListener('change', load);
form.addEventListener('submit', (event) => {
  event.preventDefault();
  load();
});

async function start() {
  try {
    disasters = await getJSON('/api/disasters');
  } catch (error) {
    failed(error);
    return;
  }
  if (!disasters.length) {
    status.textContent = text.no_disaster;
    status.dataset.state = 'empty';
    return;
  }
  select.replaceChildren(...disasters.map((d) =>
    el('option', {value: String(d.id)}, d.name + (d.closed_at ? text.closed : ''))));
  const params = new URLSearchParams(window.location.search);
  const wanted = params.get('disaster');
  if (wanted && disasters.some((d) => String(d.id) === wanted)) select.value = wanted;
  const at = params.get('t');
  when.value = localValue(at && !Number.isNaN(Date.parse(at)) ? new Date(at) : span(current())[1]);
  syncSliderFromTime();
  renderExports(current());
  load();
}

start();
