/* Evacuation (避難) on the HQ map: open shelters drawn as houses with their congestion's letter
 * (symbols.shelter: 空/や/混/満), named 「避難所 ○○ 満員 120/120人」; the disaster's totals; and, as a
 * switchable layer, the households' evacuation status per community area.
 *   GET /api/public/shelters/status, /api/disasters/{id}/evacuation/areas
 *   events "shelter_occupancy", "evacuation_status" → refetch
 * Numbers only: no person and no household ever reaches this page.
 * Tests: .gisapp-evac-shelter[data-shelter-id][data-level][data-occupancy], #gisapp-evac-totals,
 *   path.gisapp-evac-area[data-area-code]. */

import {getJSON} from '../lib/api.js';
import {format, oneAtATime} from '../lib/dom.js';
import {escapeHtml} from '../lib/map.js';
import {stateMarker} from './markers.js';
import {make} from './util.js';

const HOUSEHOLD_STATUSES = ['home', 'relatives', 'shelter', 'car', 'unknown'];
export const AREA_STYLE = {color: '#0b3d91', weight: 1.5, fillColor: '#0b3d91'};

export function startShelters({map, text, symbols, incidents, container}) {
  const shelterLayer = L.layerGroup().addTo(map);
  const areaLayer = L.layerGroup();
  L.control.layers(null, {[escapeHtml(text.shelters)]: shelterLayer, [escapeHtml(text.areas)]: areaLayer},
    {collapsed: false, position: 'topleft'}).addTo(map);

  const totals = make('p', 'gisapp-evac-totals');
  totals.id = 'gisapp-evac-totals';
  totals.setAttribute('role', 'status');
  container.prepend(totals);

  const loadShelters = oneAtATime(async () => {
    const disaster = incidents.disasterId();
    try {
      const doc = await getJSON('/api/public/shelters/status');
      shelterLayer.clearLayers();
      let people = 0;
      let open = 0;
      for (const p of doc.shelters || []) {
        if (disaster !== null && p.disaster_id !== disaster) continue;
        open += 1;
        people += Number(p.occupancy) || 0;
        const symbol = symbols.shelter[p.level] || symbols.shelter.unknown;
        const occupancy = format(text.occupancy, {n: p.occupancy, cap: p.capacity === null ? '—' : p.capacity});
        const label = format(text.shelter_name, {name: p.name, level: symbol.label, occupancy}) + (p.stale ? ` ・ ${text.stale}` : '');
        const marker = stateMarker([p.lat, p.lon], symbol, label, {
          className: `gisapp-evac-shelter${p.stale ? ' gisapp-stale' : ''}`,
          data: {shelterId: p.shelter_id, level: p.level, occupancy: p.occupancy},
        });
        marker.bindTooltip(make('span', null, label));
        marker.addTo(shelterLayer);
      }
      totals.textContent = format(text.totals, {people, shelters: open});
      totals.dataset.people = String(people);
      totals.dataset.shelters = String(open);
    } catch (error) {
      totals.textContent = format(text.error, {status: error.status || '—'});
    }
  });

  const loadAreas = oneAtATime(async () => {
    const disaster = incidents.disasterId();
    if (disaster === null) return;
    const doc = await getJSON(`/api/disasters/${disaster}/evacuation/areas`);
    areaLayer.clearLayers();
    for (const f of doc.features || []) {
      if (!f.geometry) continue;  // households with no area: counted in the totals only
      const p = f.properties;
      const label = `${p.area_name}：${HOUSEHOLD_STATUSES.map((s) => `${text.statuses[s]} ${p[s]}`).join(' ／ ')}`;
      const share = p.households ? p.unknown / p.households : 0;  // darker: more households not heard from
      const layer = L.geoJSON(f, {style: {...AREA_STYLE, fillOpacity: 0.08 + 0.4 * share}});
      layer.bindTooltip(make('span', null, label), {sticky: true});
      layer.addTo(areaLayer);
      layer.eachLayer((shape) => {
        const node = shape.getElement?.();
        if (!node) return;
        node.dataset.areaCode = String(p.area_code);
        HOUSEHOLD_STATUSES.forEach((s) => { node.dataset[s] = String(p[s]); });
        node.classList.add('gisapp-evac-area');
      });
    }
  });

  map.on('overlayadd', (event) => { if (event.layer === areaLayer) loadAreas(); });
  incidents.onDisasterChange(() => {
    loadShelters();
    if (map.hasLayer(areaLayer)) loadAreas();
  });
  loadShelters();

  return {
    onEvent(type) {
      if (type === 'shelter_occupancy') loadShelters();
      if (map.hasLayer(areaLayer)) loadAreas();  // a check-in moves a household to 避難所 too
    },
    reload() {
      loadShelters();
      if (map.hasLayer(areaLayer)) loadAreas();
    },
  };
}
