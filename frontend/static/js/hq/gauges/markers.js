/* Rain and water-level gauges on the HQ map: a diamond with the number of the most severe level
 * reached (rules.gauge_level_state, from sensors.thresholds), dashed when the gauge is not reporting;
 * focusable, Enter / Space / click open its 24-hour chart. Reloaded when the stream says one changed.
 * Tests: .gisapp-gauge[data-device-id][data-level][data-state], .gisapp-offline. */

import {getJSON} from '../../lib/api.js';
import {format, oneAtATime} from '../../lib/dom.js';
import {restyle, stateMarker} from '../markers.js';
import {make} from '../util.js';
import {gaugeNumber} from './numbers.js';

export function startGaugeMarkers({map, text, symbols, rules, units, alerts}) {
  const gauges = new Map();  // device_id -> {marker, tip, p}

  function stateOf(p) {
    const device = units.deviceState(p.device_id) || p.state;
    if (rules.not_reporting.includes(device)) return device;
    let worst = 'normal';
    for (const level of Object.values(p.levels || {})) {
      const state = rules.gauge_level_state[level];
      if (state && rules.gauge_states.indexOf(state) > rules.gauge_states.indexOf(worst)) worst = state;
    }
    return worst;
  }

  function describe(p, state) {
    const levels = Object.values(p.levels || {}).filter(Boolean).join(' ・ ');
    const values = p.kind === 'water_gauge'
      ? format(text.gauge_level, {level: gaugeNumber(p.level, 2)})
      : format(text.gauge_rain, {r10: gaugeNumber(p.rain_10min, 1), r60: gaugeNumber(p.rain_60min, 1),
        cont: gaugeNumber(p.continuous, 1)});
    const name = format(text.marker_name, {name: p.name || p.device_id, state: symbols.gauge[state].label});
    return {levels, tip: [p.name, values, levels, text.gauge_states[p.state] || p.state].filter(Boolean).join(' / '),
      label: `${name} ${values}`};
  }

  function draw(p, coords) {
    const id = String(p.device_id);
    const state = stateOf(p);
    const words = describe(p, state);
    let gauge = gauges.get(id);
    if (!gauge) {
      const tip = make('span', 'gisapp-gauge-tooltip');
      const marker = stateMarker([coords[1], coords[0]], symbols.gauge[state], words.label, {
        focusable: true, className: 'gisapp-gauge', data: {deviceId: id},
        onActivate: (node) => alerts.openChart(id, gauges.get(id).p.name, node),
      });
      marker.bindTooltip(tip, {direction: 'top', offset: [0, -14]});
      marker.addTo(map);
      gauge = {marker, tip, p};
      gauges.set(id, gauge);
      alerts.attach(p);
    }
    gauge.p = p;
    restyle(gauge.marker, symbols.gauge[state], words.label);
    gauge.tip.textContent = words.tip;
    const node = gauge.marker.getElement();
    if (node) {
      node.dataset.level = words.levels;
      node.dataset.state = state;
      node.classList.toggle('gisapp-offline', rules.not_reporting.includes(state));
    }
  }

  const load = oneAtATime(async () => {
    const collection = await getJSON('/api/gauges');
    for (const feature of collection.features || []) {
      const coords = feature.geometry?.coordinates;
      if (coords) draw(feature.properties || {}, coords);
    }
  });
  units.onStates(() => {
    for (const gauge of gauges.values()) {
      const coords = gauge.marker.getLatLng();
      draw(gauge.p, [coords.lng, coords.lat]);
    }
  });

  return {reload: load};
}
