/* HQ map: evacuation (避難) — open shelters with their occupancy and congestion, the totals of the
 * disaster, and the households' evacuation status per community area.
 *
 *   GET /api/public/shelters/status                        open shelters: occupancy, capacity, level
 *   GET /api/disasters/{id}/evacuation/areas               per area: 在宅 / 親族・知人宅 / 避難所 / 車中泊 / 不明
 *   events "shelter_occupancy", "evacuation_status"        (from hq_map.js's one stream) → refetch
 *
 * Numbers only: no person and no household ever reaches this page. Every text goes in as textContent.
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var LEVEL_STYLE = {  // fill colour; the level's name is always written beside it (WCAG 1.4.1)
    vacant: '#1e7b34', moderate: '#f2b705', crowded: '#e67e22', full: '#b3261e', unknown: '#5f6368'
  };
  var STATUSES = ['home', 'relatives', 'shelter', 'car', 'unknown'];

  gisapp.hqEvac = function (config, incidents) {
    var map = config.map;
    var text = config.text.evac;
    var shelterLayer = L.layerGroup().addTo(map);
    var areaLayer = L.layerGroup();
    var control = L.control.layers(null, null, {collapsed: false, position: 'bottomleft'});
    control.addOverlay(shelterLayer, gisapp.escapeHtml(text.shelters));
    control.addOverlay(areaLayer, gisapp.escapeHtml(text.areas));
    control.addTo(map);

    var totals = gisapp.el('p', 'gisapp-evac-totals');
    totals.id = 'gisapp-evac-totals';
    totals.setAttribute('role', 'status');
    var panel = document.getElementById('gisapp-incidents');
    if (panel) panel.insertBefore(totals, panel.children[2] || null);

    function levelName(level) { return text.levels[level] || level; }

    var loadShelters = gisapp.oneAtATime(function () {
      var disaster = incidents.disasterId();
      return gisapp.fetchJson('/api/public/shelters/status').then(function (doc) {
        shelterLayer.clearLayers();
        var people = 0;
        var open = 0;
        (doc.shelters || []).forEach(function (p) {
          if (disaster !== null && p.disaster_id !== disaster) return;
          open += 1;
          people += Number(p.occupancy) || 0;
          var label = p.name + ' ・ ' + gisapp.format(text.occupancy, {n: p.occupancy, cap: p.capacity === null ? '—' : p.capacity}) +
            ' ・ ' + levelName(p.level) + (p.stale ? ' ・ ' + text.stale : '');
          var marker = L.circleMarker([p.lat, p.lon], {
            radius: 9, weight: 3, color: '#1a1a1a', fillColor: LEVEL_STYLE[p.level] || LEVEL_STYLE.unknown,
            fillOpacity: 0.9, dashArray: p.stale ? '3 3' : null
          });
          marker.bindTooltip(gisapp.el('span', null, label));
          marker.addTo(shelterLayer);
          var el = marker.getElement();
          el.setAttribute('data-shelter-id', String(p.shelter_id));
          el.setAttribute('data-level', p.level);
          el.setAttribute('data-occupancy', String(p.occupancy));
          el.setAttribute('aria-label', label);
          el.classList.add('gisapp-evac-shelter');
        });
        totals.textContent = gisapp.format(text.totals, {people: people, shelters: open});
        totals.setAttribute('data-people', String(people));
        totals.setAttribute('data-shelters', String(open));
      }).catch(function (error) {
        totals.textContent = gisapp.format(text.error, {status: error.status || '—'});
      });
    });

    var loadAreas = gisapp.oneAtATime(function () {
      var disaster = incidents.disasterId();
      if (disaster === null) return Promise.resolve();
      return gisapp.fetchJson('/api/disasters/' + disaster + '/evacuation/areas').then(function (doc) {
        areaLayer.clearLayers();
        (doc.features || []).forEach(function (f) {
          if (!f.geometry) return;  // households with no area: counted in the totals only
          var p = f.properties;
          var parts = STATUSES.map(function (s) { return text.statuses[s] + ' ' + p[s]; });
          var label = p.area_name + '：' + parts.join(' ／ ');
          var share = p.households ? p.unknown / p.households : 0;  // darker: more households not heard from
          var layer = L.geoJSON(f, {style: {color: '#0b3d91', weight: 1.5, fillColor: '#0b3d91',
                                            fillOpacity: 0.08 + 0.4 * share}});
          layer.bindTooltip(gisapp.el('span', null, label), {sticky: true});
          layer.addTo(areaLayer);
          layer.eachLayer(function (shape) {
            var el = shape.getElement && shape.getElement();
            if (!el) return;
            el.setAttribute('data-area-code', String(p.area_code));
            STATUSES.forEach(function (s) { el.setAttribute('data-' + s, String(p[s])); });
            el.classList.add('gisapp-evac-area');
          });
        });
      }).catch(function (error) {
        console.warn('evacuation areas', error);
      });
    });

    map.on('overlayadd', function (event) { if (event.layer === areaLayer) loadAreas(); });
    incidents.onDisasterChange(function () {
      loadShelters();
      if (map.hasLayer(areaLayer)) loadAreas();
    });
    loadShelters();

    return {
      onEvent: function (type) {
        if (type === 'shelter_occupancy') loadShelters();
        if (map.hasLayer(areaLayer)) loadAreas();  // a check-in moves a household to 避難所 too
      },
      reload: function () {
        loadShelters();
        if (map.hasLayer(areaLayer)) loadAreas();
      }
    };
  };
})();
