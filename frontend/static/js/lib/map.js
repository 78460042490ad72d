/* Shared map widgets (Leaflet, vendored, loaded as a classic deferred script before the modules, so
 * the global L exists when these run):
 * - createMap: the map with the city's own basemap file when the instance has one (the city's choice:
 *   online and offline, lib/basemap.js); else the 地理院タイル basemap when online, and the basemap
 *   drawn from our own public layers (road ledger, boundary) when the tiles fail or the instance is
 *   offline — never a blank grey box;
 * - letterMarker: a marker whose state is a letter and a shape as well as a colour, with an accessible
 *   name, focusable only when it does something;
 * - legend: a legend control built from the same entries the markers use.
 * body[data-city-basemap] = loading | drawn | none | error, body[data-own-basemap] = loading | drawn |
 * none | error and body.gisapp-basemap-offline tell tests and styles which basemap is shown. */

import {getJSONOnce} from './api.js';
import {addCityBasemap, cityBasemapStyle} from './basemap.js';
import {el} from './dom.js';

export const GSI_TILES = 'https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png';
export const GSI_ATTRIBUTION = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>';
export const ISEHARA = [35.39, 139.30];

// A lone failed tile is not an outage (GSI answers 404 outside its coverage): give up on the tiles
// when none has loaded yet, several fail in a row, or the browser says it is offline.
const FAILURES_IN_A_ROW = 6;
const OWN_PANE = 'gisapp-basemap-own';
// Road grey keeps 3.4:1 on the offline background #e9ecef (WCAG 1.4.11), quieter than the themes.
const OWN_STYLE = {
  road: {color: '#7a7f85', weight: 1.5, opacity: 1, fill: false},
  boundary: {color: '#5f6368', weight: 2, opacity: 1, dashArray: '6 4', fill: false},
};

/** A Leaflet map in `element` with the basemap and its offline fallback. options: {center, zoom,
 * offline, text (the catalogue's common section), scale (default true), layersUrl}. */
export function createMap(element, options = {}) {
  const map = L.map(element, {
    center: options.center || ISEHARA,
    zoom: options.zoom || 13,
    zoomControl: options.zoomControl !== false,
  });
  if (options.scale !== false) L.control.scale({imperial: false}).addTo(map);
  const text = options.text || {};
  const layersUrl = options.layersUrl || '/api/public/layers';
  document.body.dataset.cityBasemap = 'loading';
  cityBasemapStyle()
    .then((style) => {
      if (!style) {
        document.body.dataset.cityBasemap = 'none';
        defaultBasemap(map, options, text, layersUrl);
        return;
      }
      return addCityBasemap(map, style, text.city_basemap).then((layer) => {
        map.gisappBasemap = layer;
        // The city's basemap works without internet: no offline notice, no grey background.
        document.body.classList.remove('gisapp-basemap-offline');
        const notice = document.getElementById('gisapp-basemap-notice');
        if (notice) notice.hidden = true;
        document.body.dataset.cityBasemap = 'drawn';
      });
    })
    .catch((error) => {
      console.error(error);
      document.body.dataset.cityBasemap = 'error';
      defaultBasemap(map, options, text, layersUrl);
    });
  return map;
}

/** Today's basemap when the city has none: 地理院タイル online, our own layers offline or when they fail. */
function defaultBasemap(map, options, text, layersUrl) {
  if (options.offline) {
    showOwnBasemap(map, null, text, layersUrl);
    return;
  }
  const tiles = L.tileLayer(GSI_TILES, {
    attribution: GSI_ATTRIBUTION, minZoom: 5, maxZoom: 18, maxNativeZoom: 18,
  }).addTo(map);
  let loaded = 0;
  let failedInARow = 0;
  tiles.on('tileload', () => { loaded += 1; failedInARow = 0; });
  tiles.on('tileerror', () => {
    failedInARow += 1;
    if (loaded === 0 || failedInARow >= FAILURES_IN_A_ROW || navigator.onLine === false) {
      showOwnBasemap(map, tiles, text, layersUrl);
    }
  });
  map.gisappBasemap = tiles;
}

// The city's 町丁目/自治会 area layer (gisapp/ops/evacuation.py AREA_LAYER): its outlines are the
// fallback basemap's boundaries. Not every polygon layer: imported layers now carry their own polygon
// type (one geometry type per layer), and a flood area is no boundary.
const AREA_LAYER = 'community-areas';

function ownRole(layer) {
  const geometry = String(layer.geometry_type || '').toLowerCase();
  if (layer.kind === 'road_segment') return 'road';
  if (layer.kind === 'generic' && layer.slug === AREA_LAYER && geometry.includes('polygon')) return 'boundary';
  return null;
}

/** Drop the tiles, show the offline notice and draw our own basemap (once per map). */
export function showOwnBasemap(map, tiles, text, layersUrl = '/api/public/layers') {
  if (tiles && map.hasLayer(tiles)) map.removeLayer(tiles);
  document.body.classList.add('gisapp-basemap-offline');
  const notice = document.getElementById('gisapp-basemap-notice');
  if (notice) notice.hidden = false;
  if (map.gisappOwnBasemap) return;
  map.gisappOwnBasemap = true;
  document.body.dataset.ownBasemap = 'loading';
  map.createPane(OWN_PANE).style.zIndex = 250;
  const renderer = L.svg({pane: OWN_PANE});
  getJSONOnce(layersUrl)
    .then((layers) => {
      const picked = layers.filter(ownRole);
      return Promise.all(picked.map((layer) => {
        const role = ownRole(layer);
        const style = {className: `gisapp-basemap-own gisapp-basemap-${role}`, ...OWN_STYLE[role]};
        const group = L.geoJSON(null, {
          pane: OWN_PANE, renderer, interactive: false, style: () => style, pointToLayer: () => null,
        }).addTo(map);
        const base = layersUrl.replace(/\/$/, '');
        return getJSONOnce(`${base}/${encodeURIComponent(layer.slug)}/features`).then((fc) => group.addData(fc));
      })).then(() => {
        if (picked.length && text.own_basemap && map.attributionControl) {
          map.attributionControl.addAttribution(escapeHtml(text.own_basemap));
        }
        document.body.dataset.ownBasemap = picked.length ? 'drawn' : 'none';
      });
    })
    .catch((error) => {
      console.error(error);
      document.body.dataset.ownBasemap = 'error';
    });
}

/** Escape text for the few Leaflet APIs that only take HTML strings (attribution, layer names). */
export function escapeHtml(text) {
  const span = document.createElement('span');
  span.textContent = String(text);
  return span.innerHTML;
}

/** A marker whose state reads without colour: `letter` (one character) inside a `shape`
 * (frontend/symbols.py: circle, square, rounded, house, diamond, …-dashed) of `colour`, letter in `ink`, named by `label` for screen readers.
 * interactive=false: not a tab stop, hidden from the accessibility tree (background information
 * that the page lists elsewhere). */
export function letterMarker(latlng, {letter, shape = 'circle', colour = '#1f5fa8', ink = '#ffffff', label, className = '',
  interactive = true, size = 28}) {
  const icon = L.divIcon({
    className: `gisapp-letter-marker gisapp-shape-${shape} ${className}`.trim(),
    // No style attribute in the HTML (the CSP forbids inline styles); the colour is set through the DOM.
    html: `<span class="gisapp-letter-marker-body" aria-hidden="true">${escapeHtml(letter || '')}</span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
  });
  const marker = L.marker(latlng, {icon, title: interactive ? label : '', alt: label, keyboard: interactive,
    interactive});
  marker.on('add', () => {
    const node = marker.getElement();
    if (!node) return;
    node.style.setProperty('--marker-colour', colour);
    node.style.setProperty('--marker-ink', ink);
    if (interactive) {
      node.setAttribute('role', 'button');
      node.setAttribute('aria-label', label);
    } else {
      node.setAttribute('aria-hidden', 'true');
      node.removeAttribute('tabindex');
    }
  });
  return marker;
}

/** A legend control: entries [{letter, shape, colour, label}] drawn with the same marker styles,
 * inside a <details> so it folds on a phone. */
export function legend(map, {title, entries, position = 'bottomright', open = true}) {
  const Control = L.Control.extend({
    onAdd() {
      const details = el('details', {class: 'gisapp-legend', open});
      details.append(el('summary', {}, title));
      const list = el('ul', {class: 'gisapp-legend-list'});
      for (const entry of entries) {
        const swatch = el('span', {class: `gisapp-letter-marker gisapp-shape-${entry.shape || 'circle'}`, 'aria-hidden': 'true'},
          el('span', {class: 'gisapp-letter-marker-body'}, entry.letter || ''));
        swatch.style.setProperty('--marker-colour', entry.colour);
        swatch.style.setProperty('--marker-ink', entry.ink || '#ffffff');
        list.append(el('li', {}, swatch, el('span', {}, entry.label)));
      }
      details.append(list);
      L.DomEvent.disableClickPropagation(details);
      L.DomEvent.disableScrollPropagation(details);
      return details;
    },
  });
  return new Control({position}).addTo(map);
}
