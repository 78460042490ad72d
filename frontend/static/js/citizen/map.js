/* The citizen page's map, loaded only when the resident asks for it (Leaflet is ~150 KB: the list comes
 * first on a phone). Open shelters (letter + shape + colour from the page's symbols), public incidents,
 * road closures (lines), hazard areas (the public hazard layers), the place; the first view fits every
 * open shelter. Markers that would cover each other are spread apart; popups fit a 320 px screen; the
 * legend is folded; the other public layers are listed below the map, secondary. */

import {getJSON, getJSONOnce} from '../lib/api.js';
import {el, format} from '../lib/dom.js';
import {createMap, escapeHtml, legend, letterMarker} from '../lib/map.js';
import {rasterOverlay} from '../lib/layers.js';

const MARKER = 30;
const POPUP_WIDTH = 260; // fits a 320 px screen with the map's margins

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

function loadStyle(href) {
  return new Promise((resolve) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    link.onload = resolve;
    link.onerror = resolve;
    document.head.append(link);
  });
}

/** Spread markers whose icons would overlap at this zoom around their common centre (a badge is never
 * hidden under another), by their icon margins; the geographic position is kept. Groups are joined
 * until no two spread icons overlap (a spread circle may reach a neighbouring group). */
function spread(map, markers) {
  const gap = MARKER + 6;
  const items = markers.map((m) => ({m, p: map.latLngToLayerPoint(m.getLatLng())}));
  const parent = items.map((_, i) => i);
  const root = (i) => {
    while (parent[i] !== i) i = parent[i];
    return i;
  };
  const join = (i, j) => {
    parent[root(i)] = root(j);
  };
  for (let i = 0; i < items.length; i += 1) {
    for (let j = i + 1; j < items.length; j += 1) if (items[i].p.distanceTo(items[j].p) < gap) join(i, j);
  }
  let offsets = [];
  for (let round = 0; round < 20; round += 1) {
    const groups = new Map();
    for (let i = 0; i < items.length; i += 1) groups.set(root(i), [...(groups.get(root(i)) || []), i]);
    offsets = items.map(() => ({dx: 0, dy: 0, n: 1}));
    for (const members of groups.values()) {
      if (members.length < 2) continue;
      // On a circle around the group's centre. Icons are squares: neighbours on a diagonal need a chord
      // of the icon's diagonal, not its side, to stay apart.
      const radius = (MARKER * Math.SQRT2 + 4) / (2 * Math.sin(Math.PI / members.length));
      const cx = members.reduce((sum, i) => sum + items[i].p.x, 0) / members.length;
      const cy = members.reduce((sum, i) => sum + items[i].p.y, 0) / members.length;
      for (const [k, i] of members.entries()) {
        const angle = (2 * Math.PI * k) / members.length - Math.PI / 2;
        offsets[i] = {
          dx: Math.round(cx + radius * Math.cos(angle) - items[i].p.x),
          dy: Math.round(cy + radius * Math.sin(angle) - items[i].p.y),
          n: members.length,
        };
      }
    }
    const at = items.map((item, i) => ({x: item.p.x + offsets[i].dx, y: item.p.y + offsets[i].dy}));
    let joined = false;
    for (let i = 0; i < at.length; i += 1) {
      for (let j = i + 1; j < at.length; j += 1) {
        if (root(i) !== root(j) && Math.abs(at[i].x - at[j].x) < gap && Math.abs(at[i].y - at[j].y) < gap) {
          join(i, j);
          joined = true;
        }
      }
    }
    if (!joined) break;
  }
  for (const [i, item] of items.entries()) {
    const node = item.m.getElement();
    if (!node) continue;
    node.style.marginLeft = `${-MARKER / 2 + offsets[i].dx}px`;
    node.style.marginTop = `${-MARKER / 2 + offsets[i].dy}px`;
    node.dataset.spread = String(offsets[i].n);
  }
}

const placeKey = (a) => (a.place ? `${a.place.lat},${a.place.lon}` : '');

export async function showMap(element, data, answer, hereUrl) {
  const c = data.text.citizen;
  const lang = data.lang;
  const s = lang === 'en' ? 'en' : 'ja';
  element.textContent = c.map_loading;
  await Promise.all([loadStyle(data.leaflet.css), loadScript(data.leaflet.js)]);
  element.textContent = '';
  const map = createMap(element, {offline: data.offline, text: {...data.text.common, own_basemap: c.own_basemap}});
  // The attribution above the scale, not over it (both bottom corners are otherwise shared).
  map.attributionControl.setPosition('bottomright');
  const hazards = L.layerGroup().addTo(map);
  const closures = L.layerGroup().addTo(map);
  const incidents = L.layerGroup().addTo(map);
  const shelters = L.layerGroup().addTo(map);
  const place = L.layerGroup().addTo(map);
  const byId = new Map();
  let shelterMarkers = [];
  let incidentMarkers = [];
  const spreadAll = () => spread(map, [...shelterMarkers, ...incidentMarkers]);

  function people(shelter) {
    return shelter.capacity
      ? format(c.shelter_people, {occupancy: shelter.occupancy, capacity: shelter.capacity})
      : format(c.shelter_people_nocap, {occupancy: shelter.occupancy});
  }

  function popup(shelter) {
    const symbol = data.symbols.shelter[shelter.level];
    const lines = [
      `<strong>${escapeHtml(shelter.name)}</strong>`,
      escapeHtml(symbol.label),
      escapeHtml(people(shelter)),
    ];
    if (shelter.walk_m !== null) lines.push(escapeHtml(format(c.shelter_walk, {metres: shelter.walk_m, minutes: shelter.walk_min})));
    if (shelter.stale) lines.push(`⚠ ${escapeHtml(c.shelter_stale)}`);
    return `<div class="citizen-popup">${lines.map((l) => `<p>${l}</p>`).join('')}</div>`;
  }

  function draw(current) {
    shelters.clearLayers();
    incidents.clearLayers();
    place.clearLayers();
    byId.clear();
    shelterMarkers = current.shelters.map((shelter) => {
      const symbol = data.symbols.shelter[shelter.level];
      const marker = letterMarker([shelter.lat, shelter.lon], {
        letter: symbol.letter, shape: symbol.shape, colour: symbol.colour, ink: symbol.ink,
        label: `${shelter.name}：${symbol.label}、${people(shelter)}`, size: MARKER, className: 'citizen-shelter-marker',
      });
      marker.bindPopup(popup(shelter), {maxWidth: POPUP_WIDTH, minWidth: 160, autoPanPadding: [10, 10]});
      marker.addTo(shelters);
      marker.getElement()?.setAttribute('data-shelter-id', String(shelter.id));
      byId.set(shelter.id, marker);
      return marker;
    });
    incidentMarkers = [];
    for (const incident of current.incidents) {
      const kind = incident.road_closure ? 'closure' : 'incident';
      const symbol = data.symbols[kind][incident.state];
      const label = `${incident[`category_${s}`]}：${c.incident_state[incident.state]}`;
      const marker = letterMarker([incident.lat, incident.lon], {
        letter: symbol.letter, shape: symbol.shape, colour: symbol.colour, ink: symbol.ink, label, size: 26,
        className: 'citizen-incident-marker',
      });
      marker.bindPopup(`<p>${escapeHtml(label)}</p>`, {maxWidth: POPUP_WIDTH});
      marker.addTo(incidents);
      incidentMarkers.push(marker);
    }
    if (current.place) {
      L.circleMarker([current.place.lat, current.place.lon], {
        radius: 9, color: '#0b3d91', weight: 3, fillColor: '#ffffff', fillOpacity: 1, className: 'citizen-place-marker',
      }).bindTooltip(current.place.source === 'position' ? c.map_you : c.map_place).addTo(place);
    }
    spreadAll();
  }

  function fit(current) {
    const points = current.shelters.map((x) => [x.lat, x.lon]);
    if (current.place) points.push([current.place.lat, current.place.lon]);
    // Padding for the badges spread around a crowded spot (up to ~8 together stay inside the frame).
    if (points.length) map.fitBounds(L.latLngBounds(points), {padding: [MARKER * 2, MARKER * 2], maxZoom: 16});
  }

  function drawClosures(withLines) {
    closures.clearLayers();
    for (const closure of withLines.closures) {
      if (!closure.geometry) continue;
      L.geoJSON(closure.geometry, {
        style: () => ({color: '#1a1a1a', weight: 6, dashArray: '2 8', opacity: 0.95, className: 'citizen-closure-line'}),
      }).bindPopup(escapeHtml(format(c.closure_item, {route: closure.route_name})), {maxWidth: POPUP_WIDTH})
        .addTo(closures);
    }
  }

  draw(answer);
  fit(answer);
  spreadAll();
  map.on('zoomend', spreadAll);
  // The closures' lines (left out of the page's data to keep it small) and the hazard areas.
  getJSON(hereUrl).then(drawClosures).catch((error) => console.error(error));
  const layerList = document.getElementById('citizen-layer-list');
  // A published raster (航空写真): a tile layer under the other layers, off until chosen.
  const addRaster = (layer) => {
    const tiles = rasterOverlay(map, layer);
    const box = el('input', {type: 'checkbox', id: `citizen-layer-${layer.slug}`});
    box.addEventListener('change', () => (box.checked ? tiles.addTo(map) : tiles.remove()));
    const title = layer[`title_${s}`] || layer.title_ja;
    layerList.append(el('li', {class: 'gisapp-choice'}, box, el('label', {for: box.id}, title)));
  };
  getJSONOnce('/api/public/layers').then((layers) => {
    for (const layer of layers) {
      if (layer.kind === 'raster') {
        addRaster(layer);
        continue;
      }
      const hazard = layer.kind === 'hazard_area';
      const group = L.geoJSON(null, {
        style: () => (hazard
          ? {color: '#8a5a00', weight: 1, fillColor: '#f2b705', fillOpacity: 0.25, className: 'citizen-hazard-area'}
          : {color: '#1f5fa8', weight: 2, fillOpacity: 0.1}),
        pointToLayer: (_feature, latlng) => L.circleMarker(latlng, {radius: 5}),
        interactive: false,
      });
      let loaded = false;
      const load = () => {
        if (loaded) return Promise.resolve();
        loaded = true;
        return getJSONOnce(`/api/public/layers/${encodeURIComponent(layer.slug)}/features`).then((fc) => group.addData(fc));
      };
      const title = layer[`title_${s}`] || layer.title_ja;
      const box = el('input', {type: 'checkbox', id: `citizen-layer-${layer.slug}`, checked: hazard});
      box.addEventListener('change', () => {
        if (box.checked) load().then(() => group.addTo(hazard ? hazards : map));
        else group.remove();
      });
      layerList.append(el('li', {class: 'gisapp-choice'}, box, el('label', {for: box.id}, title)));
      if (hazard) load().then(() => group.addTo(hazards)).catch((error) => console.error(error));
    }
  }).catch((error) => console.error(error));

  const entries = Object.entries(data.symbols.shelter).filter(([state]) => state !== 'closed')
    .map(([, v]) => v);
  entries.push(data.symbols.closure.closed);
  legend(map, {title: c.legend_title, entries, position: 'topright', open: false});

  return {
    map,
    update(next) {
      const moved = placeKey(next) !== placeKey(answer);
      answer = next;
      draw(next);
      if (moved) fit(next);
      drawClosures(next.closures.some((x) => x.geometry) ? next : {closures: []});
    },
    focusShelter(id) {
      const marker = byId.get(id);
      if (!marker) return;
      map.setView(marker.getLatLng(), Math.max(map.getZoom(), 15));
      marker.openPopup();
      const node = marker.getElement();
      if (node) node.focus();
    },
  };
}
