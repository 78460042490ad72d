/* The map of an OGC API HTML view (gisapp/ogc/html.py): the features and, online, the 地理院タイル
 * basemap, from the page's <script type="application/json" id="ogc-map-data"> (no inline script). */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('ogc-map-data').textContent);
  var map = L.map('map');
  if (data.basemap) {
    L.tileLayer(data.basemap.url, { attribution: data.basemap.attribution, maxZoom: 18 }).addTo(map);
  }
  var layer = L.geoJSON(data.geojson).addTo(map);
  var b = layer.getBounds();
  if (b.isValid()) {
    map.fitBounds(b, { maxZoom: 17 });
  } else {
    map.setView([35.4, 139.31], 13);
  }
})();
