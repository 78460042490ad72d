/* Radio units (無線機) on the HQ map and in a folded list: positions from /api/radio-units and the
 * stream's "radio_position", states from /api/devices/status ("device_*" events), duty states from
 * /api/units ("unit_duty" and "assignment" events). The symbol: unitstate.js (free / busy / off duty /
 * out of contact, faded); each marker carries its call sign as a label beside it.
 * The markers are not tab stops (47 of them stood between the keyboard and the first incident): the
 * list in the side panel names each unit with its state. Snapshot and events may arrive in any order,
 * so a position is applied only if its device_ts is not older than the one shown.
 * Tests: .gisapp-unit-marker[data-device-id][data-state (device state)][data-duty][data-symbol],
 * .gisapp-offline on a unit not reporting, .gisapp-unit-callsign, #gisapp-unit-list li[data-device-id]. */

import {getJSON} from '../lib/api.js';
import {format, oneAtATime} from '../lib/dom.js';
import {restyle, stateMarker} from './markers.js';
import {unitSymbolState} from './unitstate.js';
import {make} from './util.js';

export function startUnits({map, text, symbols, rules, status, container}) {
  const units = new Map();  // device_id -> {marker, name, time, item}
  const deviceStates = {};
  const duties = {};  // device_id -> duty state (/api/units)
  const stateListeners = [];

  const box = make('details', 'gisapp-unit-list');
  box.id = 'gisapp-units';
  const summary = make('summary', null, format(text.units, {n: 0}));
  box.append(summary);
  const list = make('ul');
  list.id = 'gisapp-unit-list';
  list.append(make('li', 'gisapp-unit-empty', text.unit_none));
  box.append(list);
  container.append(box);

  function stateOf(id) {
    const state = deviceStates[id] || 'online';
    return ['online', ...rules.not_reporting, 'never'].includes(state) ? state : 'online';
  }
  const symbolOf = (id) => symbols.unit[unitSymbolState(stateOf(id), duties[id], rules)];
  function label(unit, id) {
    return format(text.unit_name, {name: unit.name, state: symbolOf(id).label});
  }
  function paint(id) {
    const unit = units.get(id);
    const state = stateOf(id);
    const symbol = symbolOf(id);
    const name = label(unit, id);
    restyle(unit.marker, symbol, name);
    const node = unit.marker.getElement();
    if (node) {
      node.dataset.state = state;
      node.dataset.duty = duties[id] || 'standby';
      node.dataset.symbol = unitSymbolState(state, duties[id], rules);
      node.classList.toggle('gisapp-offline', rules.not_reporting.includes(state));
      let callsign = node.querySelector('.gisapp-unit-callsign');
      if (!callsign) {  // the call sign beside the marker; the marker's name already says it
        callsign = make('span', 'gisapp-unit-callsign');
        callsign.setAttribute('aria-hidden', 'true');
        node.append(callsign);
      }
      callsign.textContent = unit.name;
    }
    unit.tip.textContent = name;
    unit.item.replaceChildren(swatch(symbol), make('span', null, name));
    unit.item.dataset.state = state;
  }
  function swatch(symbol) {
    const s = make('span', `gisapp-letter-marker gisapp-shape-${symbol.shape}`);
    s.setAttribute('aria-hidden', 'true');
    s.style.setProperty('--marker-colour', symbol.colour);
    s.style.setProperty('--marker-ink', symbol.ink);
    s.append(make('span', 'gisapp-letter-marker-body', symbol.letter));
    return s;
  }

  /** Move or create a unit's marker; older positions than the one shown are ignored. */
  function place(deviceId, name, lat, lon, deviceTs) {
    if (deviceId === undefined || deviceId === null || !Number.isFinite(lat) || !Number.isFinite(lon)) return false;
    const id = String(deviceId);
    const time = Date.parse(deviceTs);
    let unit = units.get(id);
    let created = false;
    if (!unit) {
      const tip = make('span', 'gisapp-unit-tooltip');
      const marker = stateMarker([lat, lon], symbolOf(id), name || id,
        {className: 'gisapp-unit-marker', size: 22, data: {deviceId: id}});
      marker.bindTooltip(tip, {direction: 'top', offset: [0, -10]});
      marker.on('add', () => { if (units.has(id)) paint(id); });  // the call sign, once it has an element
      const item = make('li');
      item.dataset.deviceId = id;
      unit = {marker, tip, item, name: name || id, time: NaN};
      units.set(id, unit);
      marker.addTo(map);
      list.querySelector('.gisapp-unit-empty')?.remove();
      const after = [...list.children].find((li) => (units.get(li.dataset.deviceId)?.name || '').localeCompare(unit.name, 'ja') > 0);
      list.insertBefore(item, after || null);
      created = true;
    } else if (time < unit.time) {
      return false;
    } else {
      unit.marker.setLatLng([lat, lon]);
    }
    if (!Number.isNaN(time)) unit.time = time;
    unit.name = name || id;
    paint(id);
    return created;
  }

  function counted(created) {
    summary.textContent = format(text.units, {n: units.size});
    status({units: units.size, lastUpdate: new Date()}, created);
  }

  const load = oneAtATime(async () => {
    try {
      const collection = await getJSON('/api/radio-units');
      let created = false;
      for (const feature of collection.features || []) {
        const p = feature.properties || {};
        const coords = feature.geometry?.coordinates;
        if (coords) created = place(p.device_id, p.name, coords[1], coords[0], p.device_ts) || created;
      }
      status({problem: null}, false);
      counted(created);
    } catch (error) {
      const problem = error.status === 401 || error.status === 403
        ? text.login_required : format(text.units_error, {status: error.status || '—'});
      status({problem}, true);
    }
  });

  const loadStates = oneAtATime(async () => {
    const rows = await getJSON('/api/devices/status');
    for (const row of rows) deviceStates[String(row.device_id)] = row.state;
    for (const id of units.keys()) paint(id);
    stateListeners.forEach((callback) => { callback(deviceStates); });
  });
  const loadDuties = oneAtATime(async () => {
    const board = await getJSON('/api/units');
    for (const row of board.units || []) duties[String(row.device_id)] = row.duty_state;
    for (const id of units.keys()) paint(id);
  });

  return {
    onPosition(message) {
      const created = place(message.device_id, message.name, Number(message.lat), Number(message.lon), message.device_ts);
      counted(created);
    },
    reload() {
      load();
      loadStates();
      loadDuties();  // a board that cannot load leaves the units drawn as on standby
    },
    loadStates,
    loadDuties,
    deviceState: (id) => deviceStates[String(id)],
    onStates: (callback) => stateListeners.push(callback),
  };
}
