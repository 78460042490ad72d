/* A page of "the city's own website": another origin than the gisapp instance it reads (?api=…).
 * It draws the instance's whole-map style (basemap + every public collection, vector tiles) with the
 * vendored MapLibre and reads a collection's items with fetch(); tests/test_maplibre_cross_origin.py
 * reads what it saw from window.gisappResult. */

import * as maplibregl from './maplibre-gl.mjs';

const query = new URLSearchParams(location.search);
const api = query.get('api');
const slug = query.get('slug');
const result = {errors: [], idle: false};
window.gisappResult = result;

/** The map's whole setup: the style of the instance. Raster layers (e.g. an orthophoto collection)
 * go in here, under the vector layers (insert their layers before the first non-background one). */
export async function buildStyle(base) {
  const response = await fetch(`${base}/ogc/styles/default`);
  if (!response.ok) throw new Error(`style: ${response.status}`);
  const style = await response.json();
  const only = query.get('only');
  if (only) {
    // The test's own sources only: other test files' public collections may lie over the picture.
    const keep = new Set(only.split(','));
    style.layers = style.layers.filter((layer) => layer.type === 'background' || keep.has(layer.source));
  }
  const raster = query.get('raster');
  if (raster) {
    // An orthophoto as the ground: right above the background, under every vector layer.
    style.sources.photo = {type: 'raster', tileSize: 256,
      tiles: [`${base}/ogc/collections/${encodeURIComponent(raster)}/map/tiles/WebMercatorQuad/{z}/{y}/{x}?f=png`]};
    const first = style.layers.findIndex((layer) => layer.type !== 'background');
    style.layers.splice(first < 0 ? style.layers.length : first, 0, {id: 'photo', type: 'raster', source: 'photo'});
  }
  return style;
}

async function readInternalRaster() {
  // A raster the department has not published: the citizen-facing instance must not have it.
  const hidden = query.get('hidden');
  if (!hidden) return;
  const response = await fetch(`${api}/ogc/collections/${encodeURIComponent(hidden)}/map/tiles/WebMercatorQuad/14/0/0?f=png`);
  result.hiddenRaster = response.status;
}

async function readItems() {
  // If-None-Match is no CORS-safelisted header: the browser sends a preflight first.
  const response = await fetch(`${api}/ogc/collections/${encodeURIComponent(slug)}/items?limit=100`, {
    headers: {Accept: 'application/geo+json', 'If-None-Match': '"not-this-one"'},
  });
  const body = await response.json();
  result.items = {
    status: response.status,
    count: body.features.length,
    numberMatched: body.numberMatched,
    names: body.features.map((f) => f.properties.name).sort(),
    contentCrs: response.headers.get('Content-Crs'),
  };
}

async function readStaffApi() {
  try {
    await fetch(`${api}/api/layers`);
    result.staff = 'read';
  } catch {
    result.staff = 'refused';
  }
}

async function main() {
  const [lon, lat, zoom] = [Number(query.get('lon')), Number(query.get('lat')), Number(query.get('zoom'))];
  const map = new maplibregl.Map({container: 'map', style: await buildStyle(api), center: [lon, lat], zoom,
    fadeDuration: 0, attributionControl: false});
  window.gisappMap = map;
  map.on('error', (event) => result.errors.push(String(event.error?.message || event.error || event)));
  map.on('idle', () => { result.idle = true; });
  await Promise.all([readItems(), readStaffApi(), readInternalRaster()]);
}

main().catch((error) => result.errors.push(`page: ${error}`));
