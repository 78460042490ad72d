/* Evacuation (避難) on the HQ map: open shelters drawn as houses with their congestion's letter
 * (symbols.shelter: 空/や/混/満), named 「避難所 ○○ 満員 120/120人」; the disaster's totals; and, as a
 * switchable layer, the households' evacuation status per community area.
 *   GET /api/public/shelters/status, /api/disasters/{id}/evacuation/areas
 *   GET /api/disasters/{id}/shelter-needs: the open supply requests (物資) and 要配慮者数, with a link to the
 *   shelter operations screen (/shelters/ops)
 *   events "shelter_occupancy", "evacuation_status", "shelter_need" → refetch
 * Numbers only: no person and no household ever reaches this page.
 * Tests: .gisapp-evac-shelter[data-shelter-id][data-level][data-occupancy], #gisapp-evac-totals,
 *   #gisapp-evac-needs li[data-need-id][data-status],
 *   path.gisapp-evac-area[data-area-code]. */

import {getJSON} from '../lib/api.js';
import {format, oneAtATime} from '../lib/dom.js';
import {escapeHtml} from '../lib/map.js';
import {stateMarker} from './markers.js';
import {make} from './util.js';

const HOUSEHOLD_STATUSES = ['home', 'relatives', 'shelter', 'car', 'unknown'];
export const AREA_STYLE = {color: '#0b3d91', weight: 1.5, fillColor: '#0b3d91'};

export function startShelters({map, text, symbols, incidents, container, lang = 'ja'}) {
  const shelterLayer = L.layerGroup().addTo(map);
  const areaLayer = L.layerGroup();
  L.control.layers(null, {[escapeHtml(text.shelters)]: shelterLayer, [escapeHtml(text.areas)]: areaLayer},
    {collapsed: false, position: 'topleft'}).addTo(map);

  const totals = make('p', 'gisapp-evac-totals');
  totals.id = 'gisapp-evac-totals';
  totals.setAttribute('role', 'status');
  const needsBox = make('section', 'gisapp-evac-needs');
  needsBox.id = 'gisapp-evac-needs';
  needsBox.setAttribute('aria-label', text.needs);
  const needsList = make('ul', 'gisapp-evac-needs-list');
  const needsLink = make('a', null, text.needs_link);
  needsLink.href = '/shelters/ops';
  needsBox.append(make('h3', null, text.needs), needsList, needsLink);
  container.prepend(totals, needsBox);

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

  // The open supply requests (要請中・手配済), most urgent first, and 要配慮者 per shelter.
  const loadNeeds = oneAtATime(async () => {
    const disaster = incidents.disasterId();
    if (disaster === null) return;
    const doc = await getJSON(`/api/disasters/${disaster}/shelter-needs`);
    const open = doc.needs.filter((n) => n.status === 'requested' || n.status === 'arranged');
    const care = new Map(doc.care.map((c) => [c.shelter_id, c.total]));
    const items = open.map((n) => {
      const li = make('li', null, format(text.need_line, {shelter: n.shelter_name, item: n.item, quantity: n.quantity,
        unit: n.unit, priority: lang === 'en' ? n.priority_en : n.priority_ja,
        status: lang === 'en' ? n.status_en : n.status_ja}));
      li.dataset.needId = String(n.id);
      li.dataset.status = n.status;
      return li;
    });
    for (const [shelterId, total] of care) {
      const name = doc.needs.find((n) => n.shelter_id === shelterId)?.shelter_name;
      if (name && total) items.push(make('li', null, format(text.care_line, {shelter: name, n: total})));
    }
    needsList.replaceChildren(...(items.length ? items : [make('li', null, text.needs_none)]));
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
    loadNeeds();
    if (map.hasLayer(areaLayer)) loadAreas();
  });
  loadShelters();
  loadNeeds();

  return {
    onEvent(type) {
      if (type === 'shelter_occupancy') loadShelters();
      if (type === 'shelter_need') {
        loadNeeds();
        return;
      }
      if (map.hasLayer(areaLayer)) loadAreas();  // a check-in moves a household to 避難所 too
    },
    reload() {
      loadShelters();
      loadNeeds();
      if (map.hasLayer(areaLayer)) loadAreas();
    },
  };
}
