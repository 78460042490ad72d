/* HQ map (災害対策本部): radio unit positions, moved live from the server's event stream.
 *
 * GET /api/radio-units -> GeoJSON points, properties {device_id, name, device_ts, received_at}
 * EventSource /api/events, event "radio_position" -> {seq, device_id, name, lon, lat, device_ts}
 *
 * No polling: the snapshot is fetched on load, after a gap in seq and after a reconnect. Snapshot and
 * events may arrive in any order, so a position is applied only if its device_ts is not older than the
 * one shown. Browser tests can wait for:
 *   path.gisapp-radio-unit[data-device-id="…"]
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

    function onRadioPosition(event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        console.warn('radio_position: not JSON', event.data);
        return;
      }
      if (typeof message.seq === 'number') {
        // A gap (or a restarted sequence) means positions were missed: refetch the whole picture.
        if (lastSeq !== null && message.seq !== lastSeq + 1) loadUnits();
        lastSeq = message.seq;
      }
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
      source.addEventListener('radio_position', onRadioPosition);
      source.addEventListener('open', function () {
        connection = 'live';
        reconnectDelay = 1000;
        renderStatus(true);
        // Positions sent while we were away may be lost: refresh the snapshot after a reconnect.
        if (hadError) loadUnits();
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

    // Stream first, then snapshot: nothing sent in between is missed (newest device_ts wins).
    connect();
    loadUnits();
    renderStatus(true);
  };
})();
