/* After-action review (振り返り): the HQ map of a disaster at a chosen time T.
 *
 * GET /api/disasters/{id}/at?t=… gives the incidents reported by T with the status their events gave
 * them by T, and every radio unit's last position at or before T. The page is read-only and has no
 * event stream: it shows the past. A slider runs from the disaster's opening to its closing (or now);
 * the export links give the full record (incidents, status history, dispatches) as CSV or GeoJSON.
 * Every text from the data goes in through textContent.
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var STATUSES = ['unhandled', 'in_progress', 'done', 'cancelled'];

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  /** A Date as the value of <input type=datetime-local step=1> (local time, to the second). */
  function localValue(date) {
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + 'T' +
      pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds());
  }

  gisapp.pages.replay = function (config) {
    var map = config.map;
    var text = config.text.replay;
    var itext = config.text.incidents;
    var status = document.getElementById('gisapp-status');
    var layer = L.layerGroup().addTo(map);
    var disasters = [];

    var panel = gisapp.el('section', 'gisapp-incidents gisapp-replay');
    panel.setAttribute('aria-labelledby', 'gisapp-replay-title');
    var title = gisapp.el('h2', null, text.panel);
    title.id = 'gisapp-replay-title';
    panel.appendChild(title);

    function field(labelText, control, id) {
      var wrap = gisapp.el('div', 'gisapp-inc-field');
      var label = gisapp.el('label', null, labelText);
      control.id = id;
      label.htmlFor = id;
      wrap.appendChild(label);
      wrap.appendChild(control);
      panel.appendChild(wrap);
      return control;
    }
    var select = field(text.disaster, document.createElement('select'), 'gisapp-replay-disaster');
    var when = document.createElement('input');
    when.type = 'datetime-local';
    when.step = '1';
    field(text.time, when, 'gisapp-replay-time');
    var slider = document.createElement('input');
    slider.type = 'range';
    slider.min = '0';
    slider.max = '1000';
    slider.step = '1';
    field(text.slider, slider, 'gisapp-replay-slider');
    var show = gisapp.el('button', 'gisapp-inc-button', text.show);
    show.type = 'button';
    show.id = 'gisapp-replay-show';
    panel.appendChild(show);

    var summaryTitle = gisapp.el('h3', null, text.summary);
    panel.appendChild(summaryTitle);
    var summary = gisapp.el('p', 'gisapp-replay-summary');
    summary.id = 'gisapp-replay-summary';
    summary.setAttribute('role', 'status');
    panel.appendChild(summary);
    var counts = gisapp.el('ul', 'gisapp-replay-counts');
    panel.appendChild(counts);

    panel.appendChild(gisapp.el('h3', null, text.exports));
    var exports = gisapp.el('ul', 'gisapp-replay-exports');
    panel.appendChild(exports);
    map.getContainer().parentNode.appendChild(panel);

    function span(d) {
      var start = new Date(d.opened_at);
      var end = d.closed_at ? new Date(d.closed_at) : new Date();
      return [start, end > start ? end : new Date(start.getTime() + 60000)];
    }
    function current() {
      return disasters.filter(function (d) { return String(d.id) === select.value; })[0];
    }
    function syncSliderFromTime() {
      var d = current();
      if (!d || !when.value) return;
      var range = span(d);
      var t = new Date(when.value).getTime();
      var f = (t - range[0].getTime()) / (range[1].getTime() - range[0].getTime());
      slider.value = String(Math.round(Math.max(0, Math.min(1, f)) * 1000));
    }
    function syncTimeFromSlider() {
      var d = current();
      if (!d) return;
      var range = span(d);
      var t = range[0].getTime() + (range[1].getTime() - range[0].getTime()) * Number(slider.value) / 1000;
      when.value = localValue(new Date(t));
    }
    function renderExports(d) {
      while (exports.firstChild) exports.removeChild(exports.firstChild);
      ['incidents', 'events', 'assignments'].forEach(function (part) {
        ['csv', 'geojson'].forEach(function (fmt) {
          var li = gisapp.el('li');
          var a = gisapp.el('a', null, text.export[part] + ' (' + fmt.toUpperCase() + ')');
          a.href = '/api/disasters/' + d.id + '/export/' + part + '.' + fmt;
          a.setAttribute('download', '');
          li.appendChild(a);
          exports.appendChild(li);
        });
      });
    }

    function draw(result) {
      layer.clearLayers();
      var tally = {};
      STATUSES.forEach(function (s) { tally[s] = 0; });
      (result.incidents.features || []).forEach(function (f) {
        var p = f.properties;
        tally[p.status] = (tally[p.status] || 0) + 1;
        var badge = gisapp.el('span', 'gisapp-incident-badge', itext.short[p.status] || '?');
        badge.setAttribute('aria-hidden', 'true');
        var marker = L.marker([f.geometry.coordinates[1], f.geometry.coordinates[0]], {
          icon: L.divIcon({className: 'gisapp-incident gisapp-incident-' + gisapp.classSafe(p.status),
                           html: badge, iconSize: [28, 28], iconAnchor: [14, 14]}),
          keyboard: true
        });
        var label = (itext.status[p.status] || p.status) + ' ・ ' + p.title;
        marker.bindTooltip(gisapp.el('span', 'gisapp-incident-tooltip', label), {direction: 'top'});
        marker.addTo(layer);
        var el = marker.getElement();
        el.setAttribute('data-incident-id', String(p.id));
        el.setAttribute('data-status', p.status);
        el.setAttribute('aria-label', label);
      });
      var units = (result.units && result.units.features) || [];
      units.forEach(function (f) {
        var p = f.properties;
        var time = new Date(p.device_ts).toLocaleString(config.text.locale);
        var m = L.circleMarker([f.geometry.coordinates[1], f.geometry.coordinates[0]],
          {radius: 6, color: '#0b3d91', weight: 2, fillColor: '#5b8def', fillOpacity: 0.9});
        m.bindTooltip(gisapp.el('span', null, gisapp.format(text.unit_at, {name: p.name || p.device_id, time: time})));
        m.addTo(layer);
        m.getElement().setAttribute('data-device-id', String(p.device_id));
      });
      while (counts.firstChild) counts.removeChild(counts.firstChild);
      STATUSES.forEach(function (s) {
        var li = gisapp.el('li', 'gisapp-replay-count', (itext.status[s] || s) + ' ' + tally[s]);
        li.setAttribute('data-status', s);
        li.setAttribute('data-count', String(tally[s]));
        counts.appendChild(li);
      });
      var at = new Date(result.t).toLocaleString(config.text.locale);
      summary.textContent = gisapp.format(text.now_showing,
        {time: at, n: (result.incidents.features || []).length, u: units.length});
      status.textContent = summary.textContent;
      status.setAttribute('data-state', 'ready');
    }

    var load = gisapp.oneAtATime(function () {
      var d = current();
      if (!d || !when.value) return Promise.resolve();
      var t = new Date(when.value).toISOString();
      return gisapp.fetchJson('/api/disasters/' + d.id + '/at?t=' + encodeURIComponent(t))
        .then(draw)
        .catch(function (error) {
          status.textContent = gisapp.format(text.error, {status: error.status || '?'});
          status.setAttribute('data-state', 'error');
        });
    });

    select.addEventListener('change', function () {
      var d = current();
      if (!d) return;
      when.value = localValue(span(d)[1]);
      syncSliderFromTime();
      renderExports(d);
      load();
    });
    when.addEventListener('change', function () { syncSliderFromTime(); load(); });
    slider.addEventListener('input', syncTimeFromSlider);
    slider.addEventListener('change', load);
    show.addEventListener('click', load);

    gisapp.fetchJson('/api/disasters').then(function (list) {
      disasters = list;
      if (!list.length) {
        status.textContent = text.no_disaster;
        return;
      }
      list.forEach(function (d) {
        var option = gisapp.el('option', null, d.name + (d.closed_at ? ' ' + itext.closed : ''));
        option.value = String(d.id);
        select.appendChild(option);
      });
      var wanted = new URLSearchParams(window.location.search).get('disaster');
      if (wanted && list.some(function (d) { return String(d.id) === wanted; })) select.value = wanted;
      var at = new URLSearchParams(window.location.search).get('t');
      var d = current();
      when.value = localValue(at && !isNaN(Date.parse(at)) ? new Date(at) : span(d)[1]);
      syncSliderFromTime();
      renderExports(d);
      load();
    }).catch(function (error) {
      status.textContent = gisapp.format(text.error, {status: error.status || '?'});
      status.setAttribute('data-state', 'error');
    });
  };
})();
