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

    gisapp.citizenEvacuation(map, legend, config.lang);  // citizen_evac.js
    publicIncidents(map, legend, config.lang, text);
    shelterCongestion(map, legend, config.lang);

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

  /* Open shelters with their congestion (GET /api/public/shelters/status: numbers only, never a person).
   * Each level has its own text, colour and shape (空 circle, やや rounded square, 混 diamond, 満 square),
   * so it reads without colour. Markers: .evac-shelter-marker[data-shelter-id][data-level];
   * body[data-shelters] = count. Refreshed like the incidents. */
  var SHELTER_WORDS = {
    ja: {title: '避難所の混雑状況', people: '{occupancy}人 / 定員 {capacity}人', updated: '更新 {time}',
         stale: '（しばらく更新がありません）', short: {vacant: '空', moderate: 'やや', crowded: '混', full: '満', unknown: '?'}},
    en: {title: 'Shelter congestion', people: '{occupancy} / capacity {capacity}', updated: 'Updated {time}',
         stale: ' (not updated for a while)', short: {vacant: 'OK', moderate: 'Busy', crowded: 'Crwd', full: 'Full', unknown: '?'}}
  };

  function shelterCongestion(map, legend, lang) {
    var words = SHELTER_WORDS[lang === 'en' ? 'en' : 'ja'];
    if (!document.querySelector('link[data-evac-css]')) {
      var css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = '/static/css/evac.css';
      css.setAttribute('data-evac-css', '');
      document.head.appendChild(css);
    }
    var group = L.layerGroup().addTo(map);
    var legendItem = null;
    function load() {
      return gisapp.fetchJson('/api/public/shelters/status')
        .then(function (body) {
          group.clearLayers();
          var items = body.shelters || [];
          items.forEach(function (s) {
            var level = lang === 'en' ? s.level_en : s.level_ja;
            var time = new Date(s.updated_at).toLocaleString(lang === 'en' ? 'en-GB' : 'ja-JP');
            var label = s.name + ' ・ ' + level + ' ・ ' +
              gisapp.format(words.people, {occupancy: s.occupancy, capacity: s.capacity === null ? '-' : s.capacity}) +
              ' ・ ' + gisapp.format(words.updated, {time: time}) + (s.stale ? words.stale : '');
            var badge = gisapp.el('span', null, words.short[s.level] || '?');
            badge.setAttribute('aria-hidden', 'true');
            var marker = L.marker([s.lat, s.lon], {
              icon: L.divIcon({className: 'evac-shelter-marker evac-level-' + gisapp.classSafe(s.level),
                               html: badge, iconSize: [30, 30], iconAnchor: [15, 15]}),
              keyboard: true
            });
            marker.bindTooltip(gisapp.el('span', null, label), {direction: 'top', offset: [0, -15]});
            marker.addTo(group);
            var el = marker.getElement();
            el.setAttribute('data-shelter-id', String(s.shelter_id));
            el.setAttribute('data-level', String(s.level));
            el.setAttribute('aria-label', label);
          });
          if (!legendItem && items.length) legendItem = legend.addItem(words.title, '#1e7b34', 'point');
          document.body.setAttribute('data-shelters', String(items.length));
        })
        .catch(function (error) {
          console.error(error);
          document.body.setAttribute('data-shelters', 'error');
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
