/* Shared map widget for pages that show catalogue layers (the staff GIS viewer; any map with a layer
 * list): the thematic overlay of one layer, its popups, an accessible layer list (real checkboxes with
 * labels, grouped in fieldsets, folded by a button with aria-expanded) and the "my location" button.
 * Leaflet is the vendored classic script (global L). Data reaches the page through text only.
 *
 * Words come from the caller (a catalogue section with title, layer_failed, locate… keys; see
 * frontend/text/ja/gis.toml [layers]), so the module holds no wording of its own. */

import {classSafe, el, format} from './dom.js';

// Dark enough for 3:1 against the GSI basemap and the offline background (WCAG 1.4.11).
export const PALETTE = ['#c0392b', '#1f5fa8', '#1e7b34', '#7b3fa0', '#b35900', '#6b4a2b', '#b0276f', '#0e7c86'];
// Properties shown as the popup heading, in order of preference (shelters: name, roads: route_name).
const TITLE_KEYS = ['name', 'route_name', 'title'];
// Phones get the layer list folded away so the map stays visible.
const NARROW = '(max-width: 600px)';

export function isNarrow() {
  return window.matchMedia(NARROW).matches;
}

/** A catalogue layer's title in the page's language (the other language, then the slug, if missing). */
export function layerTitle(layer, lang) {
  const preferred = lang === 'en' ? [layer.title_en, layer.title_ja] : [layer.title_ja, layer.title_en];
  return preferred[0] || preferred[1] || layer.slug;
}

/** 'point' | 'line' | 'polygon' from a PostGIS geometry type name. */
export function geometryKind(geometryType) {
  const type = String(geometryType || '').toLowerCase();
  if (type.includes('point')) return 'point';
  if (type.includes('line')) return 'line';
  return 'polygon';
}

/** Popup content as DOM nodes: a heading, then every property as a table row. */
export function popupContent(properties, layerTitleText) {
  const props = properties || {};
  const key = TITLE_KEYS.find((k) => props[k]);
  const table = el('table', {});
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === '') continue;
    table.append(el('tr', {}, el('th', {scope: 'row'}, name),
      el('td', {}, typeof value === 'object' ? JSON.stringify(value) : value)));
  }
  return el('div', {class: 'gisapp-popup'}, el('h2', {}, key ? props[key] : layerTitleText), table);
}

/** An empty GeoJSON overlay for one catalogue layer: SVG paths and circle markers carrying the class
 * gisapp-layer-{slug}, a popup per feature. Not added to the map. */
export function thematicOverlay(layer, colour, title) {
  const kind = geometryKind(layer.geometry_type);
  const style = {
    className: `gisapp-layer-${classSafe(layer.slug)}`,
    color: colour,
    weight: kind === 'line' ? 3 : 2,
    fillColor: colour,
    fillOpacity: kind === 'point' ? 0.85 : 0.25,
  };
  return L.geoJSON(null, {
    style: () => style,
    // SVG circle markers rather than image markers: they carry className and need no icon files.
    pointToLayer: (_feature, latlng) => L.circleMarker(latlng, {radius: 7, ...style}),
    onEachFeature: (feature, featureLayer) => {
      featureLayer.bindPopup(() => popupContent(feature.properties, title));
    },
  });
}

/** A small swatch of a layer's colour and geometry (decoration: the name beside it is the text). */
export function swatch(colour, kind) {
  const node = el('span', {class: `gisapp-legend-swatch gisapp-${kind}`, 'aria-hidden': 'true'});
  node.style.backgroundColor = colour;
  return node;
}

function keepMapEventsOut(node) {
  L.DomEvent.disableClickPropagation(node);
  L.DomEvent.disableScrollPropagation(node);
  // Two quick taps on two different controls would otherwise zoom the map (double-tap).
  L.DomEvent.on(node, 'click', L.DomEvent.stopPropagation);
}

/** The layer list, a Leaflet control: a button that folds it (aria-expanded), then groups of labelled
 * checkboxes. Folded by default on narrow screens; Escape folds it and returns focus to the button.
 *   const panel = layerPanel(map, {text});
 *   const list = panel.addGroup('下水道課');            // addGroup(null): no heading
 *   const entry = panel.addItem(list, {slug, label, colour, kind, badge: {level, text}, checked});
 *   entry.checkbox.addEventListener('change', …) */
export function layerPanel(map, {text, position = 'topright'}) {
  const toggle = el('button', {type: 'button', id: 'gisapp-layer-toggle', class: 'gisapp-panel-toggle',
    'aria-controls': 'gisapp-layer-list'},
  el('span', {class: 'gisapp-panel-icon', 'aria-hidden': 'true'}, '☰'), el('span', {}, text.title));
  const body = el('div', {id: 'gisapp-layer-list', class: 'gisapp-layer-list'});
  const box = el('section', {id: 'gisapp-layer-panel', class: 'gisapp-layer-panel', 'aria-label': text.title},
    toggle, body);
  const setOpen = (open) => {
    body.hidden = !open;
    toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  };
  setOpen(!isNarrow());
  toggle.addEventListener('click', () => setOpen(body.hidden));
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !body.hidden) {
      setOpen(false);
      toggle.focus();
    }
  });
  keepMapEventsOut(box);
  const control = L.control({position});
  control.onAdd = () => box;
  control.setOpen = setOpen;
  control.addGroup = (title) => {
    const list = el('ul', {});
    const group = el('fieldset', {class: title ? 'gisapp-layer-group' : 'gisapp-layer-group gisapp-layer-group-plain'},
      title ? el('legend', {}, title) : null, list);
    body.append(group);
    return list;
  };
  control.addItem = (list, entry) => {
    const id = `gisapp-layer-toggle-${classSafe(entry.slug)}`;
    const checkbox = el('input', {type: 'checkbox', id, value: entry.slug});
    checkbox.checked = Boolean(entry.checked);
    const label = el('label', {for: id}, checkbox, swatch(entry.colour, entry.kind),
      el('span', {class: 'gisapp-layer-name'}, entry.label),
      entry.badge ? el('span', {class: `gisapp-badge gisapp-badge-${entry.badge.level}`}, entry.badge.text) : null);
    const item = el('li', {class: 'gisapp-layer-item'}, label);
    list.append(item);
    return {item, checkbox};
  };
  control.addTo(map);
  return control;
}

/** "現在地 / My location": the browser's Geolocation API only (no external service). Shows a dot with its
 * accuracy circle and centres the map; messages go to a live line under the button. Fires
 * 'gisapp-located' {latlng, accuracy} on the map for whoever on the page wants the position. */
export function locateControl(map, {text, position = 'topleft'}) {
  const shown = L.layerGroup().addTo(map);
  const button = el('button', {type: 'button', id: 'gisapp-locate', class: 'gisapp-locate-button'},
    el('span', {class: 'gisapp-locate-icon', 'aria-hidden': 'true'}, '◎'), el('span', {}, text.locate));
  const message = el('p', {id: 'gisapp-locate-message', class: 'gisapp-locate-message', role: 'status',
    'aria-live': 'polite'});
  const box = el('div', {class: 'gisapp-locate-box leaflet-bar'}, button, message);
  keepMapEventsOut(box);
  const say = (state, words) => {
    message.dataset.state = state;
    message.textContent = words;
  };
  button.addEventListener('click', () => {
    if (!navigator.geolocation) {
      say('error', text.locate_unsupported);
      return;
    }
    button.setAttribute('aria-busy', 'true');
    say('locating', text.locating);
    navigator.geolocation.getCurrentPosition((found) => {
      button.removeAttribute('aria-busy');
      const latlng = [found.coords.latitude, found.coords.longitude];
      const accuracy = Math.max(0, Math.round(found.coords.accuracy || 0));
      shown.clearLayers();
      L.circle(latlng, {radius: accuracy, className: 'gisapp-my-location-accuracy', interactive: false,
        color: '#1a56c4', weight: 1, fillColor: '#1a56c4', fillOpacity: 0.12}).addTo(shown);
      L.circleMarker(latlng, {radius: 9, className: 'gisapp-my-location', color: '#ffffff', weight: 3,
        fillColor: '#1a56c4', fillOpacity: 1}).bindTooltip(text.my_location).addTo(shown);
      map.setView(latlng, Math.max(map.getZoom(), 16));
      say('located', format(text.located, {m: accuracy}));
      map.fire('gisapp-located', {latlng: L.latLng(latlng), accuracy});
    }, (error) => {
      button.removeAttribute('aria-busy');
      say('error', {1: text.locate_denied, 3: text.locate_timeout}[error.code] || text.locate_unavailable);
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
  });
  const control = L.control({position});
  control.onAdd = () => box;
  control.addTo(map);
  return control;
}

/** The pane raster layers (航空写真) are drawn in: above the basemap tiles (200) and the offline own
 * basemap (250), under the vector overlays (400), so roads and shelters stay readable on a photo. */
export const RASTER_PANE = 'gisapp-raster';

/** A raster layer from the catalogue ({slug, tiles: '/tiles/raster/{slug}/{z}/{x}/{y}.png', bounds:
 * [w, s, e, n], maxzoom, source}) as a Leaflet tile layer in RASTER_PANE. Not added to the map. The
 * server answers a transparent tile outside the picture; `bounds` keeps Leaflet from asking at all. */
export function rasterOverlay(map, raster) {
  if (!map.getPane(RASTER_PANE)) map.createPane(RASTER_PANE).style.zIndex = 300;
  const [west, south, east, north] = raster.bounds;
  return L.tileLayer(raster.tiles, {
    pane: RASTER_PANE,
    bounds: L.latLngBounds([south, west], [north, east]),
    maxNativeZoom: raster.maxzoom,
    maxZoom: 22,
    className: `gisapp-raster gisapp-raster-${classSafe(raster.slug)}`,
    attribution: raster.source ? String(raster.source).replace(/[<>&"]/g, '') : '',
  });
}
