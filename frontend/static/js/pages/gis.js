/* Staff GIS viewer (統合型GIS, /gis): every layer the logged-in user may see, grouped in a layer list with
 * visibility badges (公開 / 庁内 / 限定).
 *
 * GET /api/layers -> [{slug, title_ja, title_en, geometry_type, visibility, department?: {code, name_ja,
 * name_en}}] (already filtered by role); GET /api/layers/{slug}/features -> GeoJSON.
 *
 * Grouped by owner department when the catalogue says which it is, otherwise by visibility. Restricted
 * layers start switched off: their features are fetched only when a person switches them on (every
 * such read is audited by the server), fetched again each time, and dropped when switched off, so
 * personal data does not linger in the page; the audit notice shows while one is on.
 *
 * Raster layers (航空写真, GET /api/rasters -> [{slug, title_ja, title_en, visibility, tiles, bounds,
 * maxzoom, source}]) are listed in a group of their own and drawn as tile layers under the vector
 * layers (lib/layers.js rasterOverlay); each may also be made the basemap ("背景にする"), which hides the
 * online/own basemap while it is on. Restricted rasters start switched off, like restricted layers.
 *
 * Tests wait for #gisapp-status[data-state=ready|partial|error][data-layers], fieldset.gisapp-layer-group,
 * path.gisapp-layer-{slug}, img in .gisapp-raster-{slug}, #gisapp-restricted-notice:not([hidden]);
 * window.gisapp = {map}. */

import {getJSON} from '../lib/api.js';
import {el, format, pageData} from '../lib/dom.js';
import {PALETTE, geometryKind, layerPanel, layerTitle, locateControl, rasterOverlay, thematicOverlay}
  from '../lib/layers.js';
import {closureLayer} from '../lib/closures.js';
import {createMap} from '../lib/map.js';

const LEVELS = ['public', 'internal', 'restricted'];

const data = pageData();
const {lang} = data;
const text = data.text.gis;
const status = document.getElementById('gisapp-status');
const notice = document.getElementById('gisapp-restricted-notice');
const restrictedOn = new Set();

const map = createMap(document.getElementById('gisapp-map'), {offline: data.offline, text: data.text.common});
window.gisapp = {map};
// A notice shown above the map (offline basemap, restricted layer) makes it shorter: tell Leaflet.
new ResizeObserver(() => map.invalidateSize()).observe(map.getContainer());
locateControl(map, {text: text.layers});
const panel = layerPanel(map, {text: text.layers});

function setStatus(state, message) {
  status.dataset.state = state;
  status.textContent = message;
}

/** [{title, layers}] by owner department if the catalogue carries it, else by visibility level. */
function groupLayers(layers) {
  const byTitle = (a, b) => layerTitle(a, lang).localeCompare(layerTitle(b, lang), lang);
  const byDepartment = layers.some((layer) => layer.department);
  const groups = new Map();
  for (const layer of layers) {
    let key;
    let title;
    if (byDepartment) {
      const dept = layer.department || {};
      key = `dept:${dept.code || ''}`;
      title = (lang === 'en' ? dept.name_en || dept.name_ja : dept.name_ja || dept.name_en) || dept.code || '—';
    } else {
      key = layer.visibility;
      title = text.visibility_group[layer.visibility] || layer.visibility;
    }
    if (!groups.has(key)) groups.set(key, {key, title, layers: []});
    groups.get(key).layers.push(layer);
  }
  const order = [...groups.values()];
  order.sort(byDepartment ? (a, b) => a.title.localeCompare(b.title, lang)
    : (a, b) => LEVELS.indexOf(a.key) - LEVELS.indexOf(b.key));
  for (const group of order) group.layers.sort(byTitle);
  return order;
}

/** One layer in the list and on the map: a promise (true = drawn) for layers shown at once, null for
 * restricted layers, which wait until switched on. */
function addLayer(list, layer) {
  const title = layerTitle(layer, lang);
  const restricted = layer.visibility === 'restricted';
  const overlay = thematicOverlay(layer, layer.colour, title);
  const entry = panel.addItem(list, {
    slug: layer.slug,
    label: title,
    colour: layer.colour,
    kind: geometryKind(layer.geometry_type),
    badge: {level: layer.visibility, text: text.layers.badge[layer.visibility] || layer.visibility},
    checked: !restricted,
  });
  const url = `/api/layers/${encodeURIComponent(layer.slug)}/features`;
  let failedNote = null;
  let loaded = false;

  async function load() {
    try {
      const collection = await getJSON(url);
      if (!entry.checkbox.checked) return true; // switched off while loading: keep nothing
      overlay.clearLayers();
      overlay.addData(collection);
      failedNote?.remove();
      failedNote = null;
      return true;
    } catch (error) {
      console.error(error);
      loaded = false; // switching it off and on again retries
      if (!failedNote) {
        failedNote = el('span', {class: 'gisapp-layer-failed'}, text.layers.layer_failed);
        entry.item.append(failedNote);
      }
      return false;
    }
  }

  entry.checkbox.addEventListener('change', () => {
    const on = entry.checkbox.checked;
    if (restricted) {
      if (on) restrictedOn.add(layer.slug);
      else restrictedOn.delete(layer.slug);
      notice.hidden = restrictedOn.size === 0;
    }
    if (on) {
      overlay.addTo(map);
      if (restricted || !loaded) {
        loaded = true;
        load();
      }
    } else {
      map.removeLayer(overlay);
      if (restricted) overlay.clearLayers();
    }
  });

  if (restricted) return null;
  overlay.addTo(map);
  loaded = true;
  return load();
}

/** Road closures in force (/api/road-closures, the road layers this user may see), over the layers
 * and listed as one entry of the layer list: drawn as on the HQ map (lib/closures.js). A role that may
 * not read them (403) gets no entry. */
async function addClosures() {
  let found;
  let failed = false;
  try {
    found = await getJSON('/api/road-closures');
  } catch (error) {
    if (error.status === 401 || error.status === 403) return true;
    console.error(error);
    failed = true;
  }
  const closures = closureLayer(map, {
    symbol: data.symbols.closure.closed,
    label: (c) => format(text.closure_label, {route: c.route_name || '', reason: c.reason || ''}),
  });
  const entry = panel.addItem(panel.addGroup(text.closures_group),
    {slug: 'road-closures', label: text.closures, colour: '#1a1a1a', kind: 'line', checked: true});
  entry.checkbox.addEventListener('change', () => {
    if (entry.checkbox.checked) closures.group.addTo(map);
    else map.removeLayer(closures.group);
  });
  if (failed) {
    entry.item.append(el('span', {class: 'gisapp-layer-failed'}, text.layers.layer_failed));
    return false;
  }
  closures.draw(found);
  return true;
}

/** Raster layers in a group of their own: a tile layer under the vector layers, and a second checkbox
 * that makes it the basemap (the online or own basemap is hidden while one raster is the basemap). */
function addRasters(rasters) {
  if (!rasters.length) return;
  const list = panel.addGroup(text.rasters_group);
  const asBase = new Set();
  const setBasemap = () => {
    const tiles = map.gisappBasemap;
    if (!tiles) return;
    if (asBase.size && map.hasLayer(tiles)) map.removeLayer(tiles);
    else if (!asBase.size && !map.hasLayer(tiles)) tiles.addTo(map);
  };
  for (const raster of rasters) {
    const title = layerTitle(raster, lang);
    const restricted = raster.visibility === 'restricted';
    const overlay = rasterOverlay(map, raster);
    const entry = panel.addItem(list, {
      slug: `raster-${raster.slug}`, label: title, colour: '#7a7a7a', kind: 'raster',
      badge: {level: raster.visibility, text: text.layers.badge[raster.visibility] || raster.visibility},
      checked: !restricted,
    });
    const baseId = `gisapp-raster-basemap-${raster.slug}`;
    const base = el('input', {type: 'checkbox', id: baseId, class: 'gisapp-raster-basemap'});
    entry.item.append(el('label', {for: baseId, class: 'gisapp-raster-basemap-label'}, base, text.as_basemap));
    const show = (on) => {
      if (on) overlay.addTo(map);
      else map.removeLayer(overlay);
    };
    entry.checkbox.addEventListener('change', () => {
      show(entry.checkbox.checked);
      if (!entry.checkbox.checked && base.checked) {
        base.checked = false;
        asBase.delete(raster.slug);
        setBasemap();
      }
    });
    base.addEventListener('change', () => {
      if (base.checked) {
        asBase.add(raster.slug);
        entry.checkbox.checked = true;
        show(true);
      } else {
        asBase.delete(raster.slug);
      }
      setBasemap();
    });
    if (!restricted) overlay.addTo(map);
  }
}

async function start() {
  let layers;
  let rasters = [];
  try {
    [layers, rasters] = await Promise.all([
      getJSON('/api/layers'),
      // A raster list that fails costs the rasters only, not the viewer.
      getJSON('/api/rasters').catch((error) => { console.error(error); return []; }),
    ]);
  } catch (error) {
    console.error(error);
    setStatus('error', error.status === 401 ? text.login_required : text.layers_error);
    return;
  }
  status.dataset.layers = String(layers.length);
  status.dataset.rasters = String(rasters.length);
  addRasters(rasters);
  if (!layers.length) {
    setStatus('ready', text.no_layers);
    return;
  }
  layers.forEach((layer, index) => { layer.colour = PALETTE[index % PALETTE.length]; });
  const loads = [addClosures()];
  for (const group of groupLayers(layers)) {
    const list = panel.addGroup(group.title);
    for (const layer of group.layers) {
      const load = addLayer(list, layer);
      if (load) loads.push(load);
    }
  }
  const failed = (await Promise.all(loads)).filter((ok) => !ok).length;
  setStatus(failed ? 'partial' : 'ready', failed ? text.some_failed : format(text.ready, {n: layers.length}));
}

start();
