/* HQ map: gauge alerts (雨量計・水位計の警報) with acknowledgement (確認), and each gauge's 24-hour chart.
 * Started by hq_map.js, which owns the one event stream and the gauge markers.
 *
 *   GET  /api/gauges/alerts?unacknowledged=&limit=   the alert log, newest first, with 警戒レベル相当, and
 *                                                    how many are not acknowledged (all, not one page)
 *   POST /api/gauges/alerts/{id}/acknowledge         who and when (hq_operator, admin); 409: someone was first
 *   GET  /api/gauges/{device_id}/series?hours=24     rain: 10-min, 60-min and 連続雨量 per value; water: levels
 *                                                    and the gauge's own thresholds
 *   GET  /api/me                                     roles: the 確認 button is offered to those who may press it
 *   event "gauge_alert" (from hq_map.js)            reload the log, announce the new alert
 *
 * The chart (vendored Chart.js, vendor/chartjs) sits in a modal <dialog>: a title, a text summary of the
 * latest values and the thresholds beside the canvas (a canvas is not read by screen readers), Escape and
 * the close button close it and focus returns to what opened it. Every text goes in as textContent.
 *
 * Browser tests can wait for:
 *   #gisapp-gauge-alerts[data-state="ready"][data-count][data-unacknowledged]
 *   .gisapp-gauge-alert[data-alert-id][data-acknowledged="true|false"]
 *   #gisapp-gauge-chart[data-state="ready"][data-device-id][data-points]
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var LIMIT = 100;
  var WHEN = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};
  var HM = {hour: '2-digit', minute: '2-digit', hour12: false};
  // Water-level thresholds, lowest first: a colour and a dash pattern each, and the name in the legend,
  // so a line is told apart without its colour.
  var THRESHOLD_STYLE = {
    '水防団待機水位': {colour: '#2a7d73', dash: [2, 3]},
    '氾濫注意水位': {colour: '#8a6d00', dash: [8, 4]},
    '避難判断水位': {colour: '#c2570c', dash: [14, 4, 2, 4]},
    '氾濫危険水位': {colour: '#b3261e', dash: []}
  };
  var SERIES_STYLE = {
    rain10: '#5b8fd1',
    rain60: '#c2570c',
    cont: '#6a1b9a',
    level: '#0b3d91'
  };

  /** A gauge value for people: fixed decimals (mm: 1, m: 2), never 216.99999999999994. */
  gisapp.gaugeNumber = function (value, digits) {
    if (value === null || value === undefined || value === '' || !isFinite(Number(value))) return '—';
    return Number(value).toFixed(digits);
  };
  function digitsOf(measure) { return measure === 'level_m' ? 2 : 1; }
  function unitOf(measure) { return measure === 'level_m' ? 'm' : 'mm'; }

  gisapp.hqGauges = function (config) {
    var text = config.text.gauge_ui;
    var locale = config.text.locale;
    var canAck = false;
    var unacknowledgedOnly = false;
    var newestSeen = null;   // the newest alert id shown so far (announcing only what is new)
    var names = {};          // device_id -> name, from the markers
    var focusAfter = null;   // where the focus goes after the next redraw (the alert just acknowledged)

    function when(value, format) {
      if (!value) return '—';
      var d = new Date(value);
      return isNaN(d) ? String(value) : d.toLocaleString(locale, format || WHEN);
    }
    function measureName(m) { return text.measures[m] || m; }

    /* ------------------------------------------------------------------ the alert log panel */
    var root = gisapp.el('details', 'gisapp-gauge-alerts');
    root.id = 'gisapp-gauge-alerts';
    root.open = true;
    root.setAttribute('data-state', 'loading');
    var summary = gisapp.el('summary', null, gisapp.format(text.summary, {n: 0}));
    summary.id = 'gisapp-gauge-alerts-summary';
    root.appendChild(summary);

    var filterWrap = gisapp.el('div', 'gisapp-gauge-filter');
    var filter = gisapp.el('input');
    filter.type = 'checkbox';
    filter.id = 'gisapp-gauge-unacknowledged';
    var filterLabel = gisapp.el('label', null, text.unacknowledged_only);
    filterLabel.htmlFor = filter.id;
    filterWrap.appendChild(filter);
    filterWrap.appendChild(filterLabel);
    root.appendChild(filterWrap);

    var announce = gisapp.el('p', 'gisapp-gauge-announce');
    announce.id = 'gisapp-gauge-announce';
    announce.setAttribute('role', 'status');
    root.appendChild(announce);

    var list = gisapp.el('ol', 'gisapp-gauge-alert-list');
    list.id = 'gisapp-gauge-alert-list';
    list.setAttribute('aria-labelledby', summary.id);
    root.appendChild(list);

    // Every gauge's chart, reachable by keyboard (the markers are focusable too).
    var chartsBox = gisapp.el('details', 'gisapp-gauge-charts');
    chartsBox.appendChild(gisapp.el('summary', null, text.gauges));
    var chartsList = gisapp.el('ul');
    chartsList.id = 'gisapp-gauge-chart-list';
    chartsBox.appendChild(chartsList);
    root.appendChild(chartsBox);

    var panel = document.getElementById('gisapp-incidents');
    if (panel) {
      panel.insertBefore(root, panel.children[1] || null);  // under the panel's title
    } else {
      root.classList.add('gisapp-gauge-alerts-floating');
      document.getElementById('gisapp-main').appendChild(root);
    }

    filter.addEventListener('change', function () {
      unacknowledgedOnly = filter.checked;
      loadAlerts();
    });

    function levelText(a) {
      return a.alert_level ? gisapp.format(text.alert_level, {n: a.alert_level}) : '';
    }

    function renderAlert(a) {
      var li = gisapp.el('li', 'gisapp-gauge-alert');
      li.setAttribute('data-alert-id', String(a.id));
      li.setAttribute('data-acknowledged', a.acknowledged_at ? 'true' : 'false');
      li.setAttribute('data-device-id', a.device_id);
      if (a.alert_level) li.setAttribute('data-alert-level', String(a.alert_level));
      var value = gisapp.gaugeNumber(a.value, digitsOf(a.measure)) + ' ' + unitOf(a.measure);
      var head = gisapp.el('p', 'gisapp-gauge-alert-line');
      head.appendChild(gisapp.el('time', null, when(a.at)));
      head.lastChild.dateTime = a.at;
      head.appendChild(document.createTextNode(' ' + gisapp.format(text.alert_line, {
        device: a.device_name, measure: measureName(a.measure), from: a.level_from || text.below,
        to: a.level_to || text.below, value: value
      })));
      li.appendChild(head);
      if (a.alert_level) {
        var badge = gisapp.el('span', 'gisapp-gauge-level gisapp-gauge-level-' + a.alert_level, levelText(a));
        li.appendChild(badge);
      }
      var state = gisapp.el('span', 'gisapp-gauge-ack-state', a.acknowledged_at
        ? gisapp.format(text.acknowledged, {who: a.acknowledged_by, at: when(a.acknowledged_at)})
        : text.not_acknowledged);
      li.appendChild(state);
      var actions = gisapp.el('div', 'gisapp-gauge-actions');
      if (!a.acknowledged_at && canAck) {
        var ack = gisapp.el('button', 'gisapp-gauge-ack', text.acknowledge);
        ack.type = 'button';
        ack.setAttribute('data-key', 'ack-' + a.id);
        ack.setAttribute('aria-label', gisapp.format(text.acknowledge_label, {device: a.device_name,
                                                                            to: a.level_to || text.below}));
        ack.addEventListener('click', function () { acknowledge(a, ack); });
        actions.appendChild(ack);
      }
      var chart = gisapp.el('button', 'gisapp-gauge-open-chart', text.chart);
      chart.type = 'button';
      chart.setAttribute('data-key', 'chart-' + a.id);
      chart.setAttribute('aria-label', gisapp.format(text.chart_label, {device: a.device_name}));
      chart.addEventListener('click', function () { openChart(a.device_id, a.device_name, chart); });
      actions.appendChild(chart);
      li.appendChild(actions);
      return li;
    }

    var loadAlerts = gisapp.oneAtATime(function () {
      var url = '/api/gauges/alerts?limit=' + LIMIT + (unacknowledgedOnly ? '&unacknowledged=true' : '');
      return gisapp.fetchJson(url).then(function (doc) {
        var alerts = doc.alerts || [];
        var keep = list.contains(document.activeElement) ? document.activeElement.getAttribute('data-key') : null;
        keep = keep || focusAfter;
        focusAfter = null;
        list.textContent = '';
        if (!alerts.length) list.appendChild(gisapp.el('li', 'gisapp-gauge-empty', text.empty));
        alerts.forEach(function (a) { list.appendChild(renderAlert(a)); });
        var open = typeof doc.unacknowledged === 'number' ? doc.unacknowledged
          : alerts.filter(function (a) { return !a.acknowledged_at; }).length;
        summary.textContent = gisapp.format(text.summary, {n: open});
        root.setAttribute('data-count', String(alerts.length));
        root.setAttribute('data-unacknowledged', String(open));
        root.setAttribute('data-state', 'ready');
        var newest = alerts.length ? alerts.reduce(function (m, a) { return Math.max(m, a.id); }, 0) : null;
        if (newestSeen !== null && newest !== null && newest > newestSeen) {
          var fresh = alerts.filter(function (a) { return a.id === newest; })[0];
          announce.textContent = gisapp.format(text.new_alert, {device: fresh.device_name,
                                                               to: (fresh.level_to || text.below) + ' ' + levelText(fresh)});
        }
        if (newest !== null && (newestSeen === null || newest > newestSeen)) newestSeen = newest;
        if (keep) {  // a redraw must not throw the keyboard user's focus away (an acknowledged
          // alert has no 確認 button any more: its chart button takes the focus)
          var again = list.querySelector('[data-key="' + keep + '"]') ||
            list.querySelector('[data-key="' + keep.replace(/^ack-/, 'chart-') + '"]');
          if (again) again.focus();
        }
      }).catch(function (error) {
        root.setAttribute('data-state', 'error');
        announce.textContent = gisapp.format(text.load_error, {status: error.status || '—'});
      });
    });

    function acknowledge(a, button) {
      focusAfter = 'chart-' + a.id;
      button.disabled = true;
      fetch('/api/gauges/alerts/' + encodeURIComponent(a.id) + '/acknowledge', {
        method: 'POST', credentials: 'same-origin', headers: {Accept: 'application/json'}
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok) {
            announce.textContent = gisapp.format(text.ack_done, {device: a.device_name});
          } else if (response.status === 409) {
            var who = (data.error && data.error.acknowledged_by) || '—';
            announce.textContent = gisapp.format(text.ack_conflict, {who: who});
          } else if (response.status === 403) {
            announce.textContent = text.ack_forbidden;
          } else {
            announce.textContent = gisapp.format(text.ack_error, {status: response.status});
          }
          loadAlerts();
        });
      }).catch(function () {
        button.disabled = false;
        announce.textContent = gisapp.format(text.ack_error, {status: '—'});
      });
    }

    /* ------------------------------------------------------------------ the chart dialog */
    var dialog = gisapp.el('dialog', 'gisapp-gauge-chart');
    dialog.id = 'gisapp-gauge-chart';
    dialog.setAttribute('aria-labelledby', 'gisapp-gauge-chart-title');
    dialog.setAttribute('aria-describedby', 'gisapp-gauge-chart-summary');
    var dialogHead = gisapp.el('div', 'gisapp-gauge-chart-head');
    var dialogTitle = gisapp.el('h2');
    dialogTitle.id = 'gisapp-gauge-chart-title';
    var closeButton = gisapp.el('button', 'gisapp-gauge-close', text.close);
    closeButton.type = 'button';
    dialogHead.appendChild(dialogTitle);
    dialogHead.appendChild(closeButton);
    dialog.appendChild(dialogHead);
    var chartSummary = gisapp.el('p', 'gisapp-gauge-chart-summary');
    chartSummary.id = 'gisapp-gauge-chart-summary';
    dialog.appendChild(chartSummary);
    var chartLevels = gisapp.el('p', 'gisapp-gauge-chart-levels');
    dialog.appendChild(chartLevels);
    var thresholdList = gisapp.el('ul', 'gisapp-gauge-thresholds');
    thresholdList.setAttribute('aria-label', text.thresholds);
    dialog.appendChild(thresholdList);
    var canvasWrap = gisapp.el('div', 'gisapp-gauge-canvas');
    var canvas = gisapp.el('canvas');
    canvas.setAttribute('role', 'img');
    canvasWrap.appendChild(canvas);
    dialog.appendChild(canvasWrap);
    document.body.appendChild(dialog);

    var chart = null;
    var opener = null;
    var request = 0;
    closeButton.addEventListener('click', function () { dialog.close(); });
    dialog.addEventListener('close', function () {
      request += 1;  // a late answer must not draw into a closed dialog
      if (chart) chart.destroy();
      chart = null;
      dialog.setAttribute('data-state', 'closed');
      if (opener && document.contains(opener)) opener.focus();
      opener = null;
    });

    function openChart(deviceId, name, from) {
      opener = from || document.activeElement;
      var mine = ++request;
      if (chart) chart.destroy();
      chart = null;
      name = name || names[deviceId] || deviceId;
      dialogTitle.textContent = gisapp.format(text.dialog_title, {device: name});
      chartSummary.textContent = text.loading;
      chartLevels.textContent = '';
      thresholdList.textContent = '';
      canvas.setAttribute('aria-label', gisapp.format(text.canvas_label, {device: name}));
      dialog.setAttribute('data-state', 'loading');
      dialog.setAttribute('data-device-id', deviceId);
      if (!dialog.open) dialog.showModal();
      gisapp.fetchJson('/api/gauges/' + encodeURIComponent(deviceId) + '/series?hours=24').then(function (doc) {
        if (mine !== request) return;
        describe(doc);
        draw(doc);
        dialog.setAttribute('data-points', String((doc.points || []).length));
        dialog.setAttribute('data-state', 'ready');
      }).catch(function (error) {
        if (mine !== request) return;
        chartSummary.textContent = gisapp.format(text.chart_error, {status: error.status || '—'});
        dialog.setAttribute('data-state', 'error');
      });
    }

    function describe(doc) {
      var points = doc.points || [];
      var last = points[points.length - 1];
      if (!last) {
        chartSummary.textContent = text.no_data;
      } else if (doc.kind === 'rain_gauge') {
        var max60 = points.reduce(function (m, p) { return Math.max(m, Number(p.rain_60min) || 0); }, 0);
        chartSummary.textContent = gisapp.format(text.rain_summary, {
          at: when(last.at), r10: gisapp.gaugeNumber(last.rain_10min, 1), r60: gisapp.gaugeNumber(last.rain_60min, 1),
          cont: gisapp.gaugeNumber(last.continuous, 1), max60: gisapp.gaugeNumber(max60, 1)
        });
      } else {
        var max = points.reduce(function (m, p) { return Math.max(m, Number(p.level)); }, -Infinity);
        chartSummary.textContent = gisapp.format(text.level_summary, {
          at: when(last.at), level: gisapp.gaugeNumber(last.level, 2), max: gisapp.gaugeNumber(max, 2)
        });
      }
      var current = Object.keys(doc.levels || {}).filter(function (m) { return doc.levels[m]; })
        .map(function (m) { return measureName(m) + ' ' + doc.levels[m]; });
      chartLevels.textContent = gisapp.format(text.current_levels, {levels: current.join('、') || text.no_level});
      Object.keys(doc.thresholds || {}).forEach(function (measure) {
        doc.thresholds[measure].forEach(function (t) {
          thresholdList.appendChild(gisapp.el('li', null, measureName(measure) + ' ' + gisapp.format(
            text.threshold_line, {name: t.name, value: gisapp.gaugeNumber(t.value, digitsOf(measure)) + ' ' + unitOf(measure)})));
        });
      });
    }

    function draw(doc) {
      if (!window.Chart) return;  // the text above still says it all
      var points = doc.points || [];
      // A time axis of its own (linear, in ms): the 24 hours are to scale, a gap in the data shows as
      // a gap, and no date adapter is needed.
      var since = Date.parse(doc.since);
      var until = Date.parse(doc.until);
      function xy(key) { return points.map(function (p) { return {x: Date.parse(p.at), y: p[key]}; }); }
      var x = {
        type: 'linear', min: since, max: until, title: {display: true, text: text.axis_time},
        ticks: {stepSize: Math.max(1, Math.round((until - since) / 36e5 / 12)) * 36e5, maxRotation: 0,
                callback: function (v) { return new Date(v).toLocaleTimeString(locale, HM); }}
      };
      var datasets;
      var scales;
      if (doc.kind === 'rain_gauge') {
        datasets = [
          {type: 'bar', label: text.rain_10, data: xy('rain_10min'), backgroundColor: SERIES_STYLE.rain10,
           yAxisID: 'y', order: 3, digits: 1, barPercentage: 1, categoryPercentage: 0.9},
          {type: 'line', label: text.rain_60, data: xy('rain_60min'), borderColor: SERIES_STYLE.rain60,
           backgroundColor: SERIES_STYLE.rain60, borderWidth: 2, pointRadius: 0, yAxisID: 'y', order: 2, digits: 1},
          {type: 'line', label: text.rain_cont, data: xy('continuous'), borderColor: SERIES_STYLE.cont,
           backgroundColor: SERIES_STYLE.cont, borderWidth: 2, borderDash: [6, 3], pointRadius: 0, yAxisID: 'y2',
           order: 1, digits: 1}
        ];
        scales = {
          x: x,
          y: {beginAtZero: true, position: 'left', title: {display: true, text: text.rain_10 + ' / ' + text.rain_60}},
          y2: {beginAtZero: true, position: 'right', grid: {drawOnChartArea: false},
               title: {display: true, text: text.rain_cont}}
        };
      } else {
        datasets = [{type: 'line', label: text.level, data: xy('level'), borderColor: SERIES_STYLE.level,
                     backgroundColor: SERIES_STYLE.level, borderWidth: 3, pointRadius: 2, digits: 2}];
        ((doc.thresholds || {}).level_m || []).forEach(function (t) {
          var style = THRESHOLD_STYLE[t.name] || {colour: '#555555', dash: [4, 4]};
          datasets.push({type: 'line', label: t.name + ' ' + gisapp.gaugeNumber(t.value, 2) + ' m',
                         data: [{x: since, y: t.value}, {x: until, y: t.value}], borderColor: style.colour,
                         backgroundColor: style.colour, borderDash: style.dash, borderWidth: 2, pointRadius: 0,
                         digits: 2});
        });
        scales = {x: x, y: {title: {display: true, text: text.level}}};
      }
      chart = new window.Chart(canvas, {
        data: {datasets: datasets},
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          parsing: false,
          normalized: true,
          interaction: doc.kind === 'rain_gauge' ? {mode: 'index', intersect: false}
                                                 : {mode: 'nearest', axis: 'x', intersect: false},
          scales: scales,
          plugins: {
            legend: {position: 'bottom', labels: {boxHeight: 4}},
            tooltip: {callbacks: {
              title: function (items) {
                return items.length ? when(new Date(items[0].parsed.x).toISOString()) : '';
              },
              label: function (item) {
                return item.dataset.label + ': ' + gisapp.gaugeNumber(item.parsed.y, item.dataset.digits);
              }
            }}
          }
        }
      });
    }

    /* ------------------------------------------------------------------ hooks for hq_map.js */
    /** A gauge marker was created: clicking it, or Enter/Space on it, opens its chart. */
    function attach(marker, properties) {
      var id = properties.device_id;
      names[id] = properties.name || id;
      var label = gisapp.format(text.chart_label, {device: names[id]});
      marker.on('click', function () { openChart(id, names[id], marker.getElement()); });
      var el = marker.getElement();
      if (el) {
        el.setAttribute('tabindex', '0');
        el.setAttribute('role', 'button');
        el.setAttribute('aria-label', label);
        el.addEventListener('keydown', function (event) {
          if (event.key === 'Enter' || event.key === ' ') {
            event.preventDefault();
            openChart(id, names[id], el);
          }
        });
      }
      var item = gisapp.el('li');
      var button = gisapp.el('button', 'gisapp-gauge-open-chart', names[id]);
      button.type = 'button';
      button.setAttribute('aria-label', label);
      button.setAttribute('data-device-id', id);
      button.addEventListener('click', function () { openChart(id, names[id], button); });
      item.appendChild(button);
      chartsList.appendChild(item);
    }

    gisapp.fetchJson('/api/me').then(function (me) {
      var roles = me.roles || [];
      canAck = roles.indexOf('hq_operator') >= 0 || roles.indexOf('admin') >= 0;
    }).catch(function () { canAck = false; }).then(loadAlerts);

    return {
      attach: attach,
      onAlert: function () { loadAlerts(); },
      reload: function () { loadAlerts(); },
      openChart: openChart
    };
  };
})();
