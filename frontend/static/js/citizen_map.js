/* Citizen map (公開型GIS): every public layer, a layer switcher, a legend and feature popups.
 *
 * GET /api/public/layers -> [{id, slug, title_ja, title_en, geometry_type}]
 * GET /api/public/layers/{slug}/features -> GeoJSON FeatureCollection
 *
 * Data is shown through textContent only. Browser tests can wait for:
 *   #gisapp-status[data-state="ready"|"partial"|"error"], .gisapp-layer-{slug} (SVG paths), #gisapp-legend
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  // Dark enough for 3:1 against the GSI basemap and the offline background (WCAG 1.4.11).
  var PALETTE = ['#c0392b', '#1f5fa8', '#1e7b34', '#7b3fa0', '#b35900', '#6b4a2b', '#b0276f', '#0e7c86'];
  // Properties shown as the popup heading, in order of preference (shelters: name, roads: route_name).
  var TITLE_KEYS = ['name', 'route_name', 'title'];

  gisapp.pages.citizen = function (config) {
    var map = config.map;
    var text = config.text;
    var status = document.getElementById('gisapp-status');

    var narrow = window.matchMedia('(max-width: 600px)').matches;
    // Expanded on wide screens: a collapsed Leaflet control can be opened by keyboard but not closed.
    var control = L.control.layers(null, null, {collapsed: narrow}).addTo(map);
    var toggle = control.getContainer().querySelector('.leaflet-control-layers-toggle');
    if (toggle) {
      toggle.title = text.layers;
      toggle.setAttribute('aria-label', text.layers);
    }
    var legend = createLegend(text).addTo(map);

    gisapp.fetchJson('/api/public/layers')
      .then(function (layers) {
        // Add every layer (empty) first so the switcher and legend keep the catalogue order.
        var loads = layers.map(function (layer, index) {
          return addLayer(map, control, legend, layer, PALETTE[index % PALETTE.length], config.lang, text);
        });
        return Promise.all(loads).then(function (results) {
          var failed = results.filter(function (ok) { return !ok; }).length;
          setStatus(status, failed ? 'partial' : 'ready',
            failed ? text.some_failed : gisapp.format(text.layers_ready, {n: layers.length}));
        });
      })
      .catch(function (error) {
        console.error(error);
        setStatus(status, 'error', text.layers_error);
      });
  };

  function setStatus(status, state, message) {
    status.setAttribute('data-state', state);
    status.textContent = message;
  }

  /** Add one catalogue entry; resolves true when its features were drawn, false when they failed. */
  function addLayer(map, control, legend, layer, colour, lang, text) {
    var title = layerTitle(layer, lang);
    var kind = geometryKind(layer.geometry_type);
    var className = 'gisapp-layer-' + gisapp.classSafe(layer.slug);
    var style = {
      className: className,
      color: colour,
      weight: kind === 'line' ? 3 : 2,
      fillColor: colour,
      fillOpacity: kind === 'point' ? 0.85 : 0.25
    };
    var overlay = L.geoJSON(null, {
      style: function () { return style; },
      // SVG circle markers rather than image markers: they carry className, need no icon files.
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, L.extend({radius: 7}, style));
      },
      onEachFeature: function (feature, featureLayer) {
        featureLayer.bindPopup(function () { return popupContent(feature.properties, title); });
      }
    }).addTo(map);
    // Leaflet inserts overlay names as HTML, so the (data) title is escaped here.
    control.addOverlay(overlay, gisapp.escapeHtml(title));
    var legendItem = legend.addItem(title, colour, kind);

    var url = '/api/public/layers/' + encodeURIComponent(layer.slug) + '/features';
    return gisapp.fetchJson(url)
      .then(function (collection) {
        overlay.addData(collection);
        return true;
      })
      .catch(function (error) {
        console.error(error);
        legendItem.appendChild(document.createTextNode(text.layer_failed));
        return false;
      });
  }

  function layerTitle(layer, lang) {
    var preferred = lang === 'en' ? [layer.title_en, layer.title_ja] : [layer.title_ja, layer.title_en];
    return preferred[0] || preferred[1] || layer.slug;
  }

  function geometryKind(geometryType) {
    var type = String(geometryType || '').toLowerCase();
    if (type.indexOf('point') !== -1) return 'point';
    if (type.indexOf('line') !== -1) return 'line';
    return 'polygon';
  }

  /** Popup as DOM nodes: a heading, then every property as a table row. */
  function popupContent(properties, layerTitle) {
    properties = properties || {};
    var root = gisapp.el('div', 'gisapp-popup');
    var heading = layerTitle;
    for (var i = 0; i < TITLE_KEYS.length; i++) {
      if (properties[TITLE_KEYS[i]]) {
        heading = properties[TITLE_KEYS[i]];
        break;
      }
    }
    root.appendChild(gisapp.el('h2', null, heading));
    var table = gisapp.el('table');
    Object.keys(properties).forEach(function (key) {
      var value = properties[key];
      if (value === null || value === undefined || value === '') return;
      var row = gisapp.el('tr');
      var th = gisapp.el('th', null, key);
      th.scope = 'row';
      row.appendChild(th);
      row.appendChild(gisapp.el('td', null, typeof value === 'object' ? JSON.stringify(value) : value));
      table.appendChild(row);
    });
    root.appendChild(table);
    return root;
  }

  /** A Leaflet control listing each layer with its colour and shape. */
  function createLegend(text) {
    var list;
    var legend = L.control({position: 'bottomright'});
    legend.onAdd = function () {
      var box = gisapp.el('section', 'gisapp-legend');
      box.id = 'gisapp-legend';
      box.setAttribute('aria-labelledby', 'gisapp-legend-title');
      var heading = gisapp.el('h2', null, text.legend);
      heading.id = 'gisapp-legend-title';
      box.appendChild(heading);
      list = gisapp.el('ul');
      box.appendChild(list);
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    legend.addItem = function (title, colour, kind) {
      var item = gisapp.el('li');
      var swatch = gisapp.el('span', 'gisapp-legend-swatch gisapp-' + kind);
      swatch.style.backgroundColor = colour;
      swatch.setAttribute('aria-hidden', 'true');
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(title));
      list.appendChild(item);
      return item;
    };
    return legend;
  }
})();
