/* Staff GIS viewer (統合型GIS): every layer the logged-in user may see, grouped in a layer list with
 * visibility badges (公開 / 庁内 / 限定).
 *
 * GET /api/layers -> [{id, slug, title_ja, title_en, kind, geometry_type, visibility, ...,
 *                      department?: {code, name_ja, name_en}}]   (already filtered by role)
 * GET /api/layers/{slug}/features -> GeoJSON FeatureCollection (session cookie sent)
 *
 * Grouped by owner department when the catalogue says which it is (`department`), otherwise by
 * visibility. Restricted layers start switched off: their features are fetched only when a person
 * switches them on — every such read is audited by the server — fetched again each time, and dropped
 * when switched off, so personal data does not linger in the page.
 *
 * Browser tests can wait for:
 *   #gisapp-status[data-state="ready"|"partial"|"error"][data-layers], fieldset.gisapp-layer-group,
 *   .gisapp-layer-{slug}, #gisapp-restricted-notice:not([hidden])
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var LEVELS = ['public', 'internal', 'restricted'];

  gisapp.pages.gis = function (config) {
    var map = config.map;
    var text = config.text;
    var lang = config.lang;
    var status = document.getElementById('gisapp-status');
    var notice = document.getElementById('gisapp-restricted-notice');
    var restrictedOn = {};

    gisapp.locateControl(map, text);
    var panel = gisapp.layerPanel(map, text);

    function updateNotice() {
      notice.hidden = Object.keys(restrictedOn).length === 0;
    }

    gisapp.fetchJson('/api/layers')
      .then(function (layers) {
        status.setAttribute('data-layers', String(layers.length));
        if (!layers.length) {
          setStatus(status, 'ready', text.no_layers);
          return;
        }
        layers.forEach(function (layer, index) {
          layer.colour = gisapp.PALETTE[index % gisapp.PALETTE.length];
        });
        var loads = [];
        groupLayers(layers, lang, text).forEach(function (group) {
          var list = panel.addGroup(group.title);
          group.layers.forEach(function (layer) {
            var load = addLayer(map, panel, list, layer, lang, text, function (slug, on) {
              if (on) restrictedOn[slug] = true;
              else delete restrictedOn[slug];
              updateNotice();
            });
            if (load) loads.push(load);
          });
        });
        return Promise.all(loads).then(function (results) {
          var failed = results.filter(function (ok) { return !ok; }).length;
          setStatus(status, failed ? 'partial' : 'ready',
            failed ? text.some_failed : gisapp.format(text.gis_ready, {n: layers.length}));
        });
      })
      .catch(function (error) {
        console.error(error);
        setStatus(status, 'error', error.status === 401 ? text.login_required : text.layers_error);
      });
  };

  function setStatus(status, state, message) {
    status.setAttribute('data-state', state);
    status.textContent = message;
  }

  /** [{title, layers}] by owner department if the catalogue carries it, else by visibility level. */
  function groupLayers(layers, lang, text) {
    var byTitle = function (a, b) {
      return gisapp.layerTitle(a, lang).localeCompare(gisapp.layerTitle(b, lang), text.locale);
    };
    var groups = {};
    var order = [];
    var byDepartment = layers.some(function (layer) { return layer.department; });
    layers.forEach(function (layer) {
      var key, title;
      if (byDepartment) {
        var dept = layer.department || {};
        key = 'dept:' + (dept.code || '');
        title = (lang === 'en' ? dept.name_en || dept.name_ja : dept.name_ja || dept.name_en) || dept.code || '—';
      } else {
        key = 'level:' + layer.visibility;
        title = text.visibility_group[layer.visibility] || layer.visibility;
      }
      if (!groups[key]) {
        groups[key] = {key: key, title: title, layers: []};
        order.push(groups[key]);
      }
      groups[key].layers.push(layer);
    });
    order.sort(function (a, b) {
      if (!byDepartment) {
        return LEVELS.indexOf(a.key.slice(6)) - LEVELS.indexOf(b.key.slice(6));
      }
      return a.title.localeCompare(b.title, text.locale);
    });
    order.forEach(function (group) { group.layers.sort(byTitle); });
    return order;
  }

  /** One layer in the list and on the map. Returns a promise (true = drawn) for layers shown at once,
   * null for restricted layers, which wait until switched on. */
  function addLayer(map, panel, list, layer, lang, text, onRestricted) {
    var title = gisapp.layerTitle(layer, lang);
    var restricted = layer.visibility === 'restricted';
    var overlay = gisapp.thematicOverlay(layer, layer.colour, title);
    var entry = panel.addItem(list, {
      slug: layer.slug,
      label: title,
      colour: layer.colour,
      kind: gisapp.geometryKind(layer.geometry_type),
      badge: {level: layer.visibility, text: text.badge[layer.visibility] || layer.visibility},
      checked: !restricted
    });
    var failedNote = null;
    var url = '/api/layers/' + encodeURIComponent(layer.slug) + '/features';

    function load() {
      return gisapp.fetchJson(url)
        .then(function (collection) {
          // Switched off again while loading: do not draw (or keep) what was fetched.
          if (!entry.checkbox.checked) return true;
          overlay.clearLayers();
          overlay.addData(collection);
          if (failedNote) failedNote.remove();
          failedNote = null;
          return true;
        })
        .catch(function (error) {
          console.error(error);
          loaded = false;  // switching it off and on again retries
          if (!failedNote) failedNote = entry.item.appendChild(gisapp.el('span', 'gisapp-layer-failed', text.layer_failed));
          return false;
        });
    }

    var loaded = false;
    entry.checkbox.addEventListener('change', function () {
      var on = entry.checkbox.checked;
      if (restricted) onRestricted(layer.slug, on);
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
})();
