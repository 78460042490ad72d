/* HQ map (災害対策本部): radio unit positions and incidents, kept live by the server's one event stream.
 *
 * GET /api/radio-units -> GeoJSON points, properties {device_id, name, device_ts, received_at}
 * GET /api/gauges -> GeoJSON points of rain and water-level gauges with their values and levels
 * GET /api/devices/status -> [{device_id, state: online|silent|offline|never}]
 * EventSource /api/events: "radio_position" {seq, device_id, name, lon, lat, device_ts} moves a unit;
 *   "gauge_update" / "gauge_alert" reload the gauges ("gauge_alert" also goes to the gauge alert log
 *   and charts, hq_gauges.js); "device_offline" / "device_silent" /
 *   "device_online" reload device states; "incident" / "assignment" / "citizen_report" / "road_closure"
 *   go to the incident module (hq_incidents.js: markers by status, counts, filters, incident panel).
 *
 * No polling: the snapshot is fetched on load, after a gap in seq and after a reconnect. Snapshot and
 * events may arrive in any order, so a position is applied only if its device_ts is not older than the
 * one shown. Browser tests can wait for:
 *   path.gisapp-radio-unit[data-device-id="…"], path.gisapp-gauge[data-device-id="…"][data-level]
 *   .gisapp-offline on a unit or gauge whose last will came or that has been silent too long
 *   #gisapp-status[data-state="connecting"|"live"|"reconnecting"], its data-units and data-last-seq
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var MARKER_STYLE = {
    className: 'gisapp-radio-unit',
    radius: 8,
    color: '#ffffff',
    weight: 2,
    fillColor: '#0b3d91',
    fillOpacity: 0.95
  };
  var RECONNECT_MAX_MS = 30000;
  // Every event type the server sends: each carries the stream's seq, so all of them count for gaps.
  var EVENT_TYPES = ['radio_position', 'gauge_update', 'gauge_alert', 'device_offline', 'device_silent',
    'device_online', 'layer_changed', 'incident', 'assignment', 'citizen_report', 'road_closure',
    'shelter_occupancy', 'evacuation_status'];
  // Handed to the incident module (hq_incidents.js), which owns the incident markers and panel.
  var INCIDENT_EVENTS = ['incident', 'assignment', 'citizen_report', 'road_closure'];
  var DEVICE_STATE_EVENTS = ['device_offline', 'device_silent', 'device_online'];
  // Handed to the evacuation module (hq_evac.js): shelters' occupancy, status per area.
  var EVAC_EVENTS = ['shelter_occupancy', 'evacuation_status'];
  // Level names (rain: 注意/警戒/危険; river: the four 水位) by severity, and their colours.
  var LEVEL_RANK = {'注意': 1, '警戒': 2, '危険': 3,
                    '水防団待機水位': 1, '氾濫注意水位': 2, '避難判断水位': 3, '氾濫危険水位': 4};
  var LEVEL_COLOURS = ['#2a9d8f', '#f4d03f', '#e67e22', '#c0392b', '#7b1fa2'];
  var STATUS_TEXT_MIN_MS = 10000;  // see renderStatus
  var TIME_FORMAT = {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false};

  gisapp.pages.hq = function (config) {
    var map = config.map;
    var text = config.text;
    var units = {};          // device_id -> {marker, label, time}
    var unitCount = 0;
    var lastSeq = null;
    var lastUpdate = null;
    var connection = 'connecting';
    var problem = null;      // a message replacing the connection state, e.g. login required

    var status = document.getElementById('gisapp-status');
    var countEl = document.getElementById('gisapp-unit-count');
    var updateEl = document.getElementById('gisapp-last-update');
    var connectionEl = document.getElementById('gisapp-connection');
    var incidents = gisapp.hqIncidents(config);
    var evac = gisapp.hqEvac(config, incidents);
    var gaugeUi = gisapp.hqGauges(config);  // alert log with 確認, each gauge's 24-hour chart

    /* Status line. It is an aria-live region, so the often-changing "last update" text is written at
     * most every STATUS_TEXT_MIN_MS (screen readers would otherwise announce every position);
     * count and connection changes are written at once. data-* attributes are always current. */
    var textWrittenAt = 0;
    var pendingText = null;
    function renderStatus(urgent) {
      status.setAttribute('data-state', problem ? 'error' : connection);
      status.setAttribute('data-units', String(unitCount));
      status.setAttribute('data-last-seq', lastSeq === null ? '' : String(lastSeq));
      var wait = STATUS_TEXT_MIN_MS - (Date.now() - textWrittenAt);
      if (urgent || wait <= 0) {
        writeStatusText();
      } else if (!pendingText) {
        pendingText = setTimeout(writeStatusText, wait);
      }
    }
    function writeStatusText() {
      clearTimeout(pendingText);
      pendingText = null;
      textWrittenAt = Date.now();
      countEl.textContent = gisapp.format(text.units, {n: unitCount});
      var time = lastUpdate ? lastUpdate.toLocaleTimeString(text.locale, TIME_FORMAT) : text.never;
      updateEl.textContent = gisapp.format(text.last_update, {time: time});
      connectionEl.textContent = problem || text[connection];
    }

    /** Move or create a unit's marker; older positions than the one shown are ignored. */
    function placeUnit(deviceId, name, lat, lon, deviceTs) {
      if (deviceId === undefined || deviceId === null || !isFinite(lat) || !isFinite(lon)) return;
      var time = Date.parse(deviceTs);
      var unit = units[deviceId];
      if (!unit) {
        var label = gisapp.el('span', 'gisapp-unit-tooltip');
        var marker = L.circleMarker([lat, lon], MARKER_STYLE)
          .bindTooltip(label, {direction: 'top', offset: [0, -8]})
          .addTo(map);
        marker.getElement().setAttribute('data-device-id', String(deviceId));
        if (deviceStates[deviceId]) markOffline(marker, deviceStates[deviceId]);
        unit = units[deviceId] = {marker: marker, label: label, time: NaN};
        unitCount += 1;
      } else if (time < unit.time) {
        return;
      } else {
        unit.marker.setLatLng([lat, lon]);
      }
      if (!isNaN(time)) unit.time = time;
      unit.label.textContent = name || String(deviceId);
      lastUpdate = new Date();
    }

    /* Snapshot loading: one request at a time; a request asked for meanwhile runs once afterwards. */
    var loading = false;
    var loadAgain = false;
    function loadUnits() {
      if (loading) {
        loadAgain = true;
        return;
      }
      loading = true;
      gisapp.fetchJson('/api/radio-units')
        .then(function (collection) {
          problem = null;
          var before = unitCount;
          (collection.features || []).forEach(function (feature) {
            var p = feature.properties || {};
            var coords = feature.geometry && feature.geometry.coordinates;
            if (!coords) return;
            placeUnit(p.device_id, p.name, coords[1], coords[0], p.device_ts);
          });
          renderStatus(unitCount !== before);
        })
        .catch(function (error) {
          console.error(error);
          problem = (error.status === 401 || error.status === 403)
            ? text.login_required
            : gisapp.format(text.units_error, {status: error.status || '—'});
          renderStatus(true);
        })
        .then(function () {
          loading = false;
          if (loadAgain) {
            loadAgain = false;
            loadUnits();
          }
        });
    }

    /* Gauges: coloured by their most severe current level; reloaded when the server says one changed
     * (a handful of gauges: one small request). */
    var gauges = {};  // device_id -> marker
    var gaugeLoader = gisapp.oneAtATime(function () {
      return gisapp.fetchJson('/api/gauges').then(function (collection) {
        (collection.features || []).forEach(function (feature) {
          var p = feature.properties || {};
          var coords = feature.geometry && feature.geometry.coordinates;
          if (!coords) return;
          var rank = 0;
          Object.keys(p.levels || {}).forEach(function (measure) {
            rank = Math.max(rank, LEVEL_RANK[p.levels[measure]] || 0);
          });
          var style = {className: 'gisapp-gauge', radius: 9, color: '#1b1b1b', weight: 2,
                       fillColor: LEVEL_COLOURS[rank], fillOpacity: 0.95};
          var marker = gauges[p.device_id];
          if (!marker) {
            marker = gauges[p.device_id] = L.circleMarker([coords[1], coords[0]], style);
            marker.bindTooltip(gisapp.el('span', 'gisapp-gauge-tooltip'), {direction: 'top'}).addTo(map);
            marker.getElement().setAttribute('data-device-id', String(p.device_id));
            gaugeUi.attach(marker, p);
          }
          marker.setStyle({fillColor: LEVEL_COLOURS[rank]});
          var levels = Object.keys(p.levels || {}).map(function (m) { return p.levels[m]; })
            .filter(Boolean).join(' ・ ');
          var values = p.kind === 'water_gauge'
            ? gisapp.format(text.gauge_level, {level: gisapp.gaugeNumber(p.level, 2)})
            : gisapp.format(text.gauge_rain, {r10: gisapp.gaugeNumber(p.rain_10min, 1),
                                              r60: gisapp.gaugeNumber(p.rain_60min, 1),
                                              cont: gisapp.gaugeNumber(p.continuous, 1)});
          marker.getTooltip().getContent().textContent =
            [p.name, values, levels, text.gauge_states[p.state] || p.state].filter(Boolean).join(' / ');
          marker.getElement().setAttribute('data-level', levels);
          markOffline(marker, p.state);
        });
      });
    });

    /* Device states (online / silent / offline): offline units and gauges are drawn faded. */
    var deviceStates = {};
    var statusLoader = gisapp.oneAtATime(function () {
      return gisapp.fetchJson('/api/devices/status').then(function (rows) {
        rows.forEach(function (row) { deviceStates[row.device_id] = row.state; });
        Object.keys(units).forEach(function (id) { markOffline(units[id].marker, deviceStates[id]); });
        Object.keys(gauges).forEach(function (id) { markOffline(gauges[id], deviceStates[id]); });
      });
    });
    function markOffline(marker, state) {
      var off = state === 'offline' || state === 'silent';
      var el = marker.getElement();
      if (el) el.classList.toggle('gisapp-offline', off);
      marker.setStyle({fillOpacity: off ? 0.3 : 0.95, dashArray: off ? '3 3' : null});
    }

    /** Every event: follow seq (a gap means something was missed: refetch everything). */
    function trackSeq(message) {
      if (typeof message.seq !== 'number') return;
      if (lastSeq !== null && message.seq !== lastSeq + 1) {
        reloadPanels();
        loadUnits();
        gaugeLoader();
        statusLoader();
        incidents.reload();
        evac.reload();
        gaugeUi.reload();
      }
      lastSeq = message.seq;
    }
    function parse(event) {
      try {
        return JSON.parse(event.data);
      } catch (error) {
        console.warn(event.type + ': not JSON', event.data);
        return null;
      }
    }
    function onEvent(event) {
      var message = parse(event);
      if (!message) return;
      trackSeq(message);
      if (event.type === 'radio_position') onRadioPosition(message);
      else if (event.type === 'gauge_update') gaugeLoader();
      else if (event.type === 'gauge_alert') {
        gaugeLoader();
        gaugeUi.onAlert(message);
      }
      else if (DEVICE_STATE_EVENTS.indexOf(event.type) >= 0) statusLoader();
      else if (INCIDENT_EVENTS.indexOf(event.type) >= 0) incidents.onEvent(event.type, message);
      else if (EVAC_EVENTS.indexOf(event.type) >= 0) evac.onEvent(event.type, message);
      panels.forEach(function (p) { if (p.events.indexOf(event.type) >= 0) p.api.onEvent(event.type, message); });
      renderStatus(false);
    }

    function onRadioPosition(message) {
      var before = unitCount;
      placeUnit(message.device_id, message.name, Number(message.lat), Number(message.lon), message.device_ts);
      renderStatus(unitCount !== before);
    }

    /* Event stream. The browser reconnects by itself while readyState is CONNECTING; if the server
     * refused the stream (CLOSED), we open a new one with a growing delay. */
    var reconnectDelay = 1000;
    var hadError = false;
    function connect() {
      var source = new EventSource('/api/events');
      streamTypes.forEach(function (type) { source.addEventListener(type, onEvent); });
      source.addEventListener('open', function () {
        connection = 'live';
        reconnectDelay = 1000;
        renderStatus(true);
        // Positions sent while we were away may be lost: refresh the snapshot after a reconnect.
        if (hadError) {
          reloadPanels();
          loadUnits();
          gaugeLoader();
          statusLoader();
          incidents.reload();
          evac.reload();
          gaugeUi.reload();
        }
        hadError = false;
      });
      source.addEventListener('error', function () {
        hadError = true;
        connection = 'reconnecting';
        renderStatus(true);
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(connect, reconnectDelay);
          reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
        }
      });
      gisapp.eventSource = source;  // lets a test close it
    }

    // Panels in files of their own (hq_evacinfo.js, hq_log.js, …) register in gisapp.hqPanels as
    // {events: [...], start(config, incidents) -> {onEvent(type, message), reload()}}; reload() also
    // fetches their first snapshot, once the stream is opening.
    var panels = (gisapp.hqPanels || []).map(function (p) { return {events: p.events, api: p.start(config, incidents)}; });
    var streamTypes = EVENT_TYPES.slice();
    panels.forEach(function (p) {
      p.events.forEach(function (t) { if (streamTypes.indexOf(t) < 0) streamTypes.push(t); });
    });
    function reloadPanels() { panels.forEach(function (p) { p.api.reload(); }); }

    // Stream first, then snapshot: nothing sent in between is missed (newest device_ts wins).
    connect();
    reloadPanels();
    loadUnits();
    gaugeLoader();
    statusLoader();
    renderStatus(true);
  };
})();
