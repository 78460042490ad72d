/* The city's own basemap (a PMTiles/MBTiles file served at /basemap, docs/basemap.md) under a Leaflet
 * map: MapLibre draws its vector tiles with the instance's style, as a Leaflet layer through
 * maplibre-gl-leaflet. Both are vendored and loaded only when a basemap is configured (the style
 * answers 404 otherwise), so pages without one fetch nothing more than that one small request. */

import {ApiError, getJSONOnce} from './api.js';

const STYLE_URL = '/basemap/style.json';
const MAPLIBRE = '/static/vendor/maplibre-gl/maplibre-gl.mjs';
const MAPLIBRE_CSS = '/static/vendor/maplibre-gl/maplibre-gl.css';
const PLUGIN = '/static/vendor/maplibre-gl-leaflet/leaflet-maplibre-gl.js';

/** The basemap's MapLibre style, or null when the instance has none. */
export async function cityBasemapStyle() {
  try {
    return await getJSONOnce(STYLE_URL);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

let loading = null;

/** MapLibre (an ES module that finds its worker beside itself) and the Leaflet plugin (a classic
 * script reading the globals L and maplibregl), once per page. */
function loadMapLibre() {
  loading ||= import(MAPLIBRE).then((maplibregl) => {
    globalThis.maplibregl = maplibregl;
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = MAPLIBRE_CSS;
    document.head.append(css);
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = PLUGIN;
      script.onload = () => resolve(maplibregl);
      script.onerror = () => reject(new Error(`could not load ${PLUGIN}`));
      document.head.append(script);
    });
  });
  return loading;
}

/** Add the basemap drawn from `style` to the Leaflet `map`, under everything else (tile pane), with
 * `attribution` (plain text) in the map's attribution control. */
export async function addCityBasemap(map, style, attribution) {
  await loadMapLibre();
  const layer = L.maplibreGL({style, interactive: false, attributionControl: false});
  layer.addTo(map);
  if (attribution && map.attributionControl) {
    const span = document.createElement('span');
    span.textContent = attribution;
    map.attributionControl.addAttribution(span.innerHTML);
  }
  return layer;
}
