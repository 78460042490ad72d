/* Citizen map (公開型GIS): every public layer, a layer list, a legend, feature popups and a
 * "現在地 / My location" button. Built for a phone in a hurry: large tap targets, the layer list folded
 * on narrow screens, the legend always visible.
 *
 * GET /api/public/layers -> [{id, slug, title_ja, title_en, kind, geometry_type, ...}]
 * GET /api/public/layers/{slug}/features -> GeoJSON FeatureCollection
 * GET /api/public/incidents -> GeoJSON of the incidents HQ made public (category and status only)
 *
 * Browser tests can wait for:
 *   #gisapp-status[data-state="ready"|"partial"|"error"], .gisapp-layer-{slug} (SVG paths), #gisapp-legend,
 *   #gisapp-layer-toggle[aria-expanded], #gisapp-locate, path.gisapp-my-location
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;

  gisapp.pages.citizen = function (config) {
    var map = config.map;
    var text = config.text;
    var status = document.getElementById('gisapp-status');

    gisapp.locateControl(map, text);
    var panel = gisapp.layerPanel(map, text);
    var legend = gisapp.legend(text).addTo(map);

    publicIncidents(map, legend, config.lang, text);

    gisapp.fetchJsonOnce('/api/public/layers')
      .then(function (layers) {
        var list = panel.addGroup(null);
        // Every layer (empty) first, so the list and the legend keep the catalogue order.
        var loads = layers.map(function (layer, index) {
          var colour = gisapp.PALETTE[index % gisapp.PALETTE.length];
          return addLayer(map, panel, list, legend, layer, colour, config.lang, text);
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

  /* Incidents HQ made public (e.g. 通行止め): category and status only, as /api/public/incidents has
   * nothing more. The public instance has no event stream, so the list is fetched on load and again every
   * REFRESH_MS while the page is visible (a citizen page, not the HQ map: a slow refresh is enough).
   * Markers: .gisapp-public-incident[data-incident-id][data-status]; body[data-incidents] = count. */
  var REFRESH_MS = 60000;

  function publicIncidents(map, legend, lang, text) {
    var words = text.incidents;
    var group = L.layerGroup().addTo(map);
    var legendItem = null;
    function name(props, base) {
      return (lang === 'en' ? props[base + '_en'] : props[base + '_ja']) || props[base + '_ja'] || props[base];
    }
    function load() {
      return gisapp.fetchJson('/api/public/incidents')
        .then(function (collection) {
          group.clearLayers();
          var features = collection.features || [];
          features.forEach(function (feature) {
            var p = feature.properties || {};
            var coords = feature.geometry && feature.geometry.coordinates;
            if (!coords) return;
            var label = name(p, 'category') + ' ・ ' + name(p, 'status');
            var badge = gisapp.el('span', 'gisapp-incident-badge', words.short[p.status] || '?');
            badge.setAttribute('aria-hidden', 'true');
            var marker = L.marker([coords[1], coords[0]], {
              icon: L.divIcon({className: 'gisapp-incident gisapp-public-incident gisapp-incident-' +
                                 gisapp.classSafe(p.status), html: badge, iconSize: [28, 28], iconAnchor: [14, 14]}),
              keyboard: true
            });
            marker.bindTooltip(gisapp.el('span', null, label), {direction: 'top', offset: [0, -14]});
            marker.addTo(group);
            var el = marker.getElement();
            el.setAttribute('data-incident-id', String(p.id));
            el.setAttribute('data-status', String(p.status));
            el.setAttribute('aria-label', label);
          });
          if (!legendItem && features.length) {
            legendItem = legend.addItem(words.public_title, '#b3261e', 'point');
          }
          document.body.setAttribute('data-incidents', String(features.length));
        })
        .catch(function (error) {
          console.error(error);
          document.body.setAttribute('data-incidents', 'error');
        });
    }
    load();
    setInterval(function () {
      if (document.visibilityState === 'visible') load();
    }, REFRESH_MS);
  }

  function setStatus(status, state, message) {
    status.setAttribute('data-state', state);
    status.textContent = message;
  }

  /** Add one catalogue entry; resolves true when its features were drawn, false when they failed. */
  function addLayer(map, panel, list, legend, layer, colour, lang, text) {
    var title = gisapp.layerTitle(layer, lang);
    var kind = gisapp.geometryKind(layer.geometry_type);
    var overlay = gisapp.thematicOverlay(layer, colour, title).addTo(map);
    var entry = panel.addItem(list, {slug: layer.slug, label: title, colour: colour, kind: kind, checked: true});
    entry.checkbox.addEventListener('change', function () {
      if (entry.checkbox.checked) overlay.addTo(map);
      else map.removeLayer(overlay);
    });
    var legendItem = legend.addItem(title, colour, kind);

    // Shared with the offline basemap, which may want the same road ledger.
    return gisapp.fetchJsonOnce('/api/public/layers/' + encodeURIComponent(layer.slug) + '/features')
      .then(function (collection) {
        overlay.addData(collection);
        return true;
      })
      .catch(function (error) {
        console.error(error);
        legendItem.appendChild(document.createTextNode(text.layer_failed));
        entry.item.appendChild(document.createTextNode(text.layer_failed));
        return false;
      });
  }
})();
