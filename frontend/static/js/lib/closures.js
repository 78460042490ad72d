/* Road closures (通行止め) on a staff map: the closed road drawn over — a white casing under a black
 * dotted line, a pattern no road or layer has — and the closure symbol (frontend/symbols.py
 * closure.closed: 止 on a black square) at its middle, named for screen readers (role=img) with its
 * tooltip, not a tab stop (the closure list and the HQ log are the keyboard way to them). Shared by the
 * HQ map, the GIS viewer and the replay; closures come from /api/road-closures or the map at time T
 * (both [{id, route_name, reason, geometry}]). Test hooks: path.gisapp-closure-line,
 * .gisapp-closure[data-closure-id], the group's container dataset.closures (count drawn). */

import {letterMarker} from './map.js';

const CASING = {color: '#ffffff', weight: 9, opacity: 0.9, lineCap: 'round'};
const LINE = {color: '#1a1a1a', weight: 5, opacity: 1, dashArray: '1 8', lineCap: 'round'};

/** The middle of a (Multi)LineString's longest part, as [lat, lon]. */
function middle(geometry) {
  const parts = geometry.type === 'MultiLineString' ? geometry.coordinates : [geometry.coordinates];
  const longest = parts.reduce((a, b) => (b.length > a.length ? b : a), []);
  if (!longest.length) return null;
  const i = Math.floor((longest.length - 1) / 2);
  const [a, b] = [longest[i], longest[Math.min(i + 1, longest.length - 1)]];
  return [(a[1] + b[1]) / 2, (a[0] + b[0]) / 2];
}

/** A layer group on `map` that draws closures with `symbol` and names each with `label(closure)`. */
export function closureLayer(map, {symbol, label, pane}) {
  const group = L.layerGroup().addTo(map);
  function draw(closures) {
    group.clearLayers();
    let drawn = 0;
    for (const closure of closures || []) {
      if (!closure.geometry) continue;
      const at = middle(closure.geometry);
      if (!at) continue;
      L.geoJSON(closure.geometry, {style: () => ({...CASING, className: 'gisapp-closure-casing'}), interactive: false, pane})
        .addTo(group);
      L.geoJSON(closure.geometry, {style: () => ({...LINE, className: 'gisapp-closure-line'}), interactive: false, pane})
        .addTo(group);
      const words = label(closure);
      const marker = letterMarker(at, {...symbol, label: words, className: 'gisapp-closure', size: 24});
      marker.options.keyboard = false;
      marker.on('add', () => {
        const node = marker.getElement();
        if (!node) return;
        node.dataset.closureId = String(closure.id);
        node.setAttribute('role', 'img');
        node.removeAttribute('tabindex');
        node.removeAttribute('title');
      });
      marker.bindTooltip(words);
      marker.addTo(group);
      drawn += 1;
    }
    map.getContainer().dataset.closures = String(drawn);
  }
  return {group, draw};
}
