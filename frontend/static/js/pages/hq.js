/* The HQ map page (災害対策本部 地図, templates/hq.html): the map, then the modules under ../hq/ —
 * incidents, shelters, gauges, radio units, 避難情報, HQ log — all kept current by the one event
 * stream. Panels in the side (避難情報, HQ log) are modules with {events, start(config) → {onEvent,
 * reload}}; their reload() also fetches their first snapshot, once the stream is opening (stream
 * first, then snapshot: nothing sent in between is missed).
 * Test hooks: window.gisapp = {map, eventSource, incidents, …}. */

import {pageData} from '../lib/dom.js';
import {createMap} from '../lib/map.js';
import {startDamageTotals} from '../hq/damage_totals.js';
import {startClosures} from '../hq/closures.js';
import {evacinfoPanel} from '../hq/evacinfo/panel.js';
import {startGaugeAlerts} from '../hq/gauges/alerts.js';
import {startGaugeMarkers} from '../hq/gauges/markers.js';
import {startIncidents} from '../hq/incidents/index.js';
import {deviceAlertsPanel} from '../hq/device_alerts.js';
import {drawLegend} from '../hq/legend.js';
import {instructionsPanel} from '../hq/instructions.js';
import {logPanel} from '../hq/log.js';
import {startShelters} from '../hq/shelters.js';
import {statusLine} from '../hq/status.js';
import {openStream} from '../hq/stream.js';
import {unitBoardPanel} from '../hq/unitboard.js';
import {printLink} from '../lib/print.js';
import {startUnits} from '../hq/units.js';

// The side panels, in tab order after the incident panel; the log goes inside 避難情報, the open
// instructions inside the log (each after the one it goes into), the unit board under the radio unit list.
const PANELS = [evacinfoPanel, logPanel, instructionsPanel, unitBoardPanel, deviceAlertsPanel];
const INCIDENT_EVENTS = ['incident', 'assignment', 'citizen_report', 'road_closure'];
const DEVICE_STATE_EVENTS = ['device_offline', 'device_silent', 'device_online'];
const DUTY_EVENTS = ['unit_duty', 'assignment'];  // a unit's symbol follows its duty
const EVAC_EVENTS = ['shelter_occupancy', 'evacuation_status', 'shelter_need'];
// Every event type the server sends: each carries the stream's seq, so all of them count for gaps.
const EVENT_TYPES = ['radio_position', 'gauge_update', 'gauge_alert', ...DEVICE_STATE_EVENTS, 'layer_changed',
  ...INCIDENT_EVENTS, ...EVAC_EVENTS];

function start() {
  const data = pageData();
  const text = data.text;
  const {symbols, rules, lang} = data;
  const locale = text.hq.locale;
  const map = createMap(document.getElementById('gisapp-map'), {offline: data.offline, text: text.common});
  // The offline notice as a map control under the zoom buttons: controls in one corner stack, so it
  // never covers another control (the 避難情報 legend, the layer list) whatever their sizes.
  const notice = document.getElementById('gisapp-basemap-notice');
  const noticeControl = L.control({position: 'topleft'});
  noticeControl.onAdd = () => notice;
  noticeControl.addTo(map);
  const container = document.getElementById('gisapp-panels');
  window.gisapp = {map};

  const status = statusLine(text.hq);
  const damageConfig = {text: text.hq_damage, fields: data.damage_fields};
  const incidents = startIncidents({map, text: text.hq_incidents, symbols, rules, lang, locale, container,
    damage: damageConfig});
  const shelters = startShelters({map, text: text.hq_shelters, symbols, incidents, container: incidents.extras, lang});
  const alerts = startGaugeAlerts({text: text.hq_gauges, locale, container: incidents.extras});
  const units = startUnits({map, text: text.hq, symbols, rules, status, container: incidents.extras});
  const damage = startDamageTotals({...damageConfig, lang, incidents, container: incidents.extras});
  const gauges = startGaugeMarkers({map, text: text.hq_gauges, symbols, rules, units, alerts});
  const closures = startClosures({map, text: text.hq, symbols});
  const panelConfig = {map, text, lang, locale, rules, symbols, container};
  const panels = PANELS.map((p) => ({events: p.events, api: p.start(panelConfig)}));
  drawLegend({map, text, symbols, order: {...data.symbol_order, unit: rules.unit_legend}});
  // 印刷用地図: the live map now (no time: the server's now), the disaster chosen in the incident panel.
  const print = printLink({map, link: document.getElementById('gisapp-print-map'),
    paper: document.getElementById('gisapp-print-paper'), disasterId: incidents.disasterId, lang});
  incidents.onDisasterChange(print.update);
  Object.assign(window.gisapp, {incidents, alerts, units, print, closures});

  function reloadAll() {
    panels.forEach((p) => { p.api.reload(); });
    units.reload();
    gauges.reload();
    incidents.reload();
    shelters.reload();
    alerts.reload();
    damage.reload();
    closures.reload();
  }

  function onEvent(type, message) {
    if (type === 'radio_position') units.onPosition(message);
    else if (type === 'gauge_update') gauges.reload();
    else if (type === 'gauge_alert') {
      gauges.reload();
      alerts.reload();
    } else if (DEVICE_STATE_EVENTS.includes(type)) units.loadStates();
    if (DUTY_EVENTS.includes(type)) units.loadDuties();
    if (INCIDENT_EVENTS.includes(type)) {
      incidents.onEvent(type, message);
      if (type === 'road_closure') closures.onEvent(type, message);
    }
    else if (EVAC_EVENTS.includes(type)) shelters.onEvent(type, message);
    damage.onEvent(type, message);
    panels.forEach((p) => { if (p.events.includes(type)) p.api.onEvent(type, message); });
    status({}, false);
  }

  const types = [...new Set([...EVENT_TYPES, ...panels.flatMap((p) => p.events)])];
  openStream({
    types, onEvent, onMissed: reloadAll,
    onState: (connection) => status({connection}, true),
    onSeq: (lastSeq) => status({lastSeq}, false),
  });
  panels.forEach((p) => { p.api.reload(); });
  units.reload();
  gauges.reload();
  closures.reload();
  status({}, true);
}

start();
