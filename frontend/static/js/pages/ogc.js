/* The map of an OGC API HTML view (gisapp/ogc/html.py): the page's features (lon/lat) from the page
 * data, on the 地理院タイル basemap with our own basemap when the tiles fail or the instance is offline.
 * The table under the map lists the same features, so the map is background: nothing focusable. */

import {pageData} from '../lib/dom.js';
import {createMap} from '../lib/map.js';

const data = pageData();
const map = createMap(document.getElementById('ogc-map'), {offline: data.offline, text: data.text.common});
const layer = L.geoJSON(data.geojson, {
  interactive: false,
  style: () => ({color: '#0b3d91', weight: 3, fillOpacity: 0.15}),
  pointToLayer: (_feature, latlng) => L.circleMarker(latlng, {radius: 6, color: '#0b3d91', weight: 2,
    fillColor: '#ffffff', fillOpacity: 1, interactive: false}),
}).addTo(map);
const bounds = layer.getBounds();
if (bounds.isValid()) map.fitBounds(bounds, {maxZoom: 17, padding: [16, 16]});
window.gisapp = {map, features: layer};
