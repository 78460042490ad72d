/* HQ map incidents (災害対策本部の事案): a disaster selector, incident markers by status, a counts panel,
 * filters, the incident panel (status changes with If-Match, dispatch, assignment states). Started by
 * hq_map.js, which owns the one event stream and hands this module the incident events.
 *
 * GET /api/disasters, /api/incident-categories
 * GET /api/disasters/{id}/incidents?status=&category=&from=&to= -> GeoJSON
 * GET /api/incidents/{id} (version = ETag), /events, /recommendations
 * PATCH /api/incidents/{id} (If-Match: "<version shown>"; 409 carries error.current)
 * POST /api/incidents/{id}/assignments {unit_id} (409 names the incident holding the unit)
 * PATCH /api/assignments/{id} {state: on_scene|cleared}
 *
 * No polling: the list is fetched on load, on a filter or disaster change, and when the stream says an
 * incident of the shown disaster changed (or after a seq gap / reconnect: reload()). Counts are computed
 * from the same filtered list the markers come from, so the two always agree.
 * All data reaches the page through textContent or setAttribute, never as HTML.
 *
 * Browser tests can wait for:
 *   #gisapp-incidents[data-state="ready"][data-disaster-id][data-count][data-loads]
 *   .gisapp-incident[data-incident-id][data-status] (markers), #gisapp-count-{status}[data-n]
 *   #gisapp-incident-detail[data-incident-id][data-version][data-status], #gisapp-incident-notice[data-kind]
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var STATUSES = ['unhandled', 'in_progress', 'done', 'cancelled'];
  // Which status may follow which (gisapp/ops/incidents.py TRANSITIONS; the server has the last word).
  var TRANSITIONS = {
    unhandled: ['in_progress', 'done', 'cancelled'],
    in_progress: ['unhandled', 'done', 'cancelled'],
    done: ['in_progress'],
    cancelled: ['unhandled']
  };
  var ASSIGNMENT_NEXT = {dispatched: ['on_scene', 'cleared'], on_scene: ['cleared'], cleared: []};
  var DATE_FORMAT = {year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
                     hour12: false};

  /** Send JSON; resolves {status, ok, data, etag} whatever the status (the caller decides). */
  function send(method, url, body, headers) {
    var all = {Accept: 'application/json'};
    if (body !== undefined) all['Content-Type'] = 'application/json';
    Object.keys(headers || {}).forEach(function (k) { all[k] = headers[k]; });
    return fetch(url, {method: method, credentials: 'same-origin', headers: all,
                       body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return {status: response.status, ok: response.ok, data: data, etag: response.headers.get('ETag')};
        });
      });
  }

  function field(label, control) {
    var wrap = gisapp.el('div', 'gisapp-inc-field');
    var lab = gisapp.el('label', null, label);
    lab.htmlFor = control.id;
    wrap.appendChild(lab);
    wrap.appendChild(control);
    return wrap;
  }

  function button(label, className) {
    var b = gisapp.el('button', className, label);
    b.type = 'button';
    return b;
  }

  gisapp.hqIncidents = function (config) {
    var map = config.map;
    var text = config.text.incidents;
    var lang = config.lang;
    var disasterId = null;
    var disasterListeners = [];
    var categories = [];        // [{code, name_ja, name_en}]
    var shown = {};             // id -> incident properties (+ lon, lat) of the filtered list
    var markers = {};           // id -> L.marker
    var openId = null;
    var openIncident = null;    // the full incident shown in the panel
    var loads = 0;
    var newReports = 0;

    function label(obj, base) {
      return (lang === 'en' ? obj[base + '_en'] : obj[base + '_ja']) || obj[base + '_ja'] || obj[base] || '';
    }
    function categoryName(code) {
      for (var i = 0; i < categories.length; i++) {
        if (categories[i].code === code) return label(categories[i], 'name');
      }
      return code;
    }
    function when(value) {
      if (!value) return '—';
      var d = new Date(value);
      return isNaN(d) ? String(value) : d.toLocaleString(config.text.locale, DATE_FORMAT);
    }

    /* ---------------------------------------------------------------- the panel skeleton */
    var root = gisapp.el('aside', 'gisapp-incidents');
    root.id = 'gisapp-incidents';
    root.setAttribute('aria-labelledby', 'gisapp-incidents-title');
    root.setAttribute('data-state', 'loading');
    var title = gisapp.el('h2', null, text.panel);
    title.id = 'gisapp-incidents-title';
    root.appendChild(title);

    var disasterSelect = gisapp.el('select');
    disasterSelect.id = 'gisapp-disaster';
    root.appendChild(field(text.disaster, disasterSelect));

    var notice = gisapp.el('div', 'gisapp-inc-notice');
    notice.id = 'gisapp-incident-notice';
    notice.setAttribute('role', 'alert');
    notice.hidden = true;
    root.appendChild(notice);

    var reportsLine = gisapp.el('p', 'gisapp-inc-reports');
    reportsLine.id = 'gisapp-citizen-reports';
    reportsLine.setAttribute('role', 'status');
    reportsLine.hidden = true;
    root.appendChild(reportsLine);

    // A new incident (a phone call, what staff saw): a form, the place picked on the map.
    var newBox = gisapp.el('details', 'gisapp-inc-new');
    newBox.id = 'gisapp-incident-new';
    newBox.appendChild(gisapp.el('summary', null, text.new_incident));
    var newForm = gisapp.el('form');
    newForm.noValidate = true;
    function input(id, type) {
      var el = gisapp.el(type === 'textarea' ? 'textarea' : 'input');
      if (type !== 'textarea') el.type = type;
      el.id = id;
      return el;
    }
    var newCategory = gisapp.el('select');
    newCategory.id = 'gisapp-new-category';
    newCategory.required = true;
    newForm.appendChild(field(text.category, newCategory));
    var newTitle = input('gisapp-new-title', 'text');
    newTitle.required = true;
    newTitle.maxLength = 200;
    newForm.appendChild(field(text.title, newTitle));
    var newPriority = gisapp.el('select');
    newPriority.id = 'gisapp-new-priority';
    [1, 2, 3, 4, 5].forEach(function (p) {
      newPriority.appendChild(gisapp.el('option', null, gisapp.format(text.priority_value, {p: p}))).value = String(p);
    });
    newPriority.value = '3';
    newForm.appendChild(field(text.priority, newPriority));
    var newSource = gisapp.el('select');
    newSource.id = 'gisapp-new-source';
    ['phone', 'staff'].forEach(function (src) {
      newSource.appendChild(gisapp.el('option', null, text.sources[src])).value = src;
    });
    newForm.appendChild(field(text.source, newSource));
    var newAddress = input('gisapp-new-address', 'text');
    newAddress.maxLength = 300;
    newForm.appendChild(field(text.address, newAddress));
    var newDescription = input('gisapp-new-description', 'textarea');
    newDescription.maxLength = 4000;
    newDescription.rows = 3;
    newForm.appendChild(field(text.description, newDescription));
    var newPlace = gisapp.el('p', 'gisapp-inc-new-place', text.place_none);
    newPlace.id = 'gisapp-new-place';
    newPlace.setAttribute('aria-live', 'polite');
    newForm.appendChild(newPlace);
    var pickButton = button(text.pick_on_map, 'gisapp-inc-button');
    pickButton.id = 'gisapp-new-pick';
    newForm.appendChild(pickButton);
    var centreButton = button(text.use_map_centre, 'gisapp-inc-button');
    centreButton.id = 'gisapp-new-centre';
    newForm.appendChild(centreButton);
    var submitButton = gisapp.el('button', 'gisapp-inc-button gisapp-inc-primary', text.register);
    submitButton.type = 'submit';
    submitButton.id = 'gisapp-new-submit';
    newForm.appendChild(submitButton);
    newBox.appendChild(newForm);
    root.appendChild(newBox);

    // Counts: 未対応 N / 対応中 N / 対応済 N / 取消 N, then a table by category.
    var countsBox = gisapp.el('section', 'gisapp-inc-counts');
    countsBox.id = 'gisapp-incident-counts';
    countsBox.setAttribute('aria-labelledby', 'gisapp-counts-title');
    var countsTitle = gisapp.el('h3', null, text.counts);
    countsTitle.id = 'gisapp-counts-title';
    countsBox.appendChild(countsTitle);
    var countLine = gisapp.el('p', 'gisapp-inc-count-line');
    countLine.setAttribute('aria-live', 'polite');
    var countEls = {};
    STATUSES.forEach(function (s) {
      var item = gisapp.el('span', 'gisapp-inc-count gisapp-status-' + s);
      item.id = 'gisapp-count-' + s;
      countEls[s] = item;
      countLine.appendChild(item);
    });
    countsBox.appendChild(countLine);
    var countTable = gisapp.el('table', 'gisapp-inc-count-table');
    countsBox.appendChild(countTable);
    root.appendChild(countsBox);

    // Filters.
    var filters = gisapp.el('fieldset', 'gisapp-inc-filters');
    filters.appendChild(gisapp.el('legend', null, text.filters));
    var statusGroup = gisapp.el('fieldset', 'gisapp-inc-status-filter');
    statusGroup.appendChild(gisapp.el('legend', null, text.filter_status));
    var statusBoxes = {};
    STATUSES.forEach(function (s) {
      var box = gisapp.el('input');
      box.type = 'checkbox';
      box.id = 'gisapp-filter-status-' + s;
      box.value = s;
      box.checked = true;
      statusBoxes[s] = box;
      var lab = gisapp.el('label', 'gisapp-inc-check');
      lab.appendChild(box);
      lab.appendChild(document.createTextNode(text.status[s]));
      statusGroup.appendChild(lab);
    });
    filters.appendChild(statusGroup);
    var categorySelect = gisapp.el('select');
    categorySelect.id = 'gisapp-filter-category';
    filters.appendChild(field(text.category, categorySelect));
    var fromInput = gisapp.el('input');
    fromInput.type = 'datetime-local';
    fromInput.id = 'gisapp-filter-from';
    filters.appendChild(field(text.from, fromInput));
    var toInput = gisapp.el('input');
    toInput.type = 'datetime-local';
    toInput.id = 'gisapp-filter-to';
    filters.appendChild(field(text.to, toInput));
    var clearButton = button(text.clear_filters, 'gisapp-inc-button');
    clearButton.id = 'gisapp-filter-clear';
    filters.appendChild(clearButton);
    root.appendChild(filters);

    // The incident panel (hidden until one is opened), then the keyboard-reachable list.
    var detail = gisapp.el('section', 'gisapp-inc-detail');
    detail.id = 'gisapp-incident-detail';
    detail.hidden = true;
    root.appendChild(detail);

    var listBox = gisapp.el('section', 'gisapp-inc-list');
    var listTitle = gisapp.el('h3', null, text.list);
    listTitle.id = 'gisapp-incident-list-title';
    listBox.setAttribute('aria-labelledby', listTitle.id);
    listBox.appendChild(listTitle);
    var list = gisapp.el('ul');
    list.id = 'gisapp-incident-list';
    listBox.appendChild(list);
    root.appendChild(listBox);

    document.getElementById('gisapp-main').appendChild(root);

    /* ---------------------------------------------------------------- notices */
    var notices = gisapp.noticeBox(notice, lang, text.failed);
    var showNotice = notices.show;
    var clearNotice = notices.clear;
    var errorLines = notices.errorLines;

    /* ---------------------------------------------------------------- markers, counts, list */
    function markerIcon(status) {
      var badge = gisapp.el('span', 'gisapp-incident-badge', text.short[status] || '?');
      badge.setAttribute('aria-hidden', 'true');
      return L.divIcon({
        className: 'gisapp-incident gisapp-incident-' + gisapp.classSafe(status),
        html: badge,  // an element, not an HTML string
        iconSize: [28, 28],
        iconAnchor: [14, 14]
      });
    }

    function drawMarker(item) {
      var name = gisapp.format(text.open, {title: item.title, status: text.status[item.status] || item.status});
      var marker = L.marker([item.lat, item.lon], {icon: markerIcon(item.status), keyboard: true,
                                                   riseOnHover: true});
      var tip = gisapp.el('span', 'gisapp-incident-tooltip',
        (text.status[item.status] || item.status) + ' ・ ' + categoryName(item.category) + ' ・ ' + item.title);
      marker.bindTooltip(tip, {direction: 'top', offset: [0, -14]});
      marker.on('click', function () { openPanel(item.id); });
      marker.addTo(map);
      var el = marker.getElement();
      el.setAttribute('data-incident-id', String(item.id));
      el.setAttribute('data-status', item.status);
      el.setAttribute('data-category', item.category);
      el.setAttribute('aria-label', name);
      // Leaflet makes the marker focusable (role=button) but answers Enter only for popups.
      el.addEventListener('keydown', function (event) {
        if (event.key !== 'Enter' && event.key !== ' ') return;
        event.preventDefault();
        openPanel(item.id, el);
      });
      markers[item.id] = marker;
    }

    function renderCounts() {
      var total = {};
      var byCategory = {};
      STATUSES.forEach(function (s) { total[s] = 0; });
      Object.keys(shown).forEach(function (id) {
        var item = shown[id];
        total[item.status] += 1;
        var row = byCategory[item.category] = byCategory[item.category] || {};
        row[item.status] = (row[item.status] || 0) + 1;
      });
      STATUSES.forEach(function (s) {
        countEls[s].textContent = gisapp.format(text.count_line, {status: text.status[s], n: total[s]});
        countEls[s].setAttribute('data-n', String(total[s]));
      });
      countTable.textContent = '';
      var head = gisapp.el('tr');
      head.appendChild(gisapp.el('th', null, text.category));
      STATUSES.forEach(function (s) { head.appendChild(gisapp.el('th', null, text.status[s])); });
      head.appendChild(gisapp.el('th', null, text.total));
      Array.prototype.forEach.call(head.children, function (th) { th.scope = 'col'; });
      countTable.appendChild(head);
      categories.forEach(function (c) {
        var row = byCategory[c.code];
        if (!row) return;
        var tr = gisapp.el('tr');
        tr.setAttribute('data-category', c.code);
        var th = gisapp.el('th', null, label(c, 'name'));
        th.scope = 'row';
        tr.appendChild(th);
        var sum = 0;
        STATUSES.forEach(function (s) {
          var td = gisapp.el('td', null, row[s] || 0);
          td.setAttribute('data-status', s);
          tr.appendChild(td);
          sum += row[s] || 0;
        });
        tr.appendChild(gisapp.el('td', null, sum));
        countTable.appendChild(tr);
      });
    }

    function renderList(items) {
      list.textContent = '';
      if (!items.length) {
        list.appendChild(gisapp.el('li', 'gisapp-inc-empty', text.empty));
        return;
      }
      items.forEach(function (item) {
        var li = gisapp.el('li');
        var b = button('', 'gisapp-inc-list-item');
        b.setAttribute('data-incident-id', String(item.id));
        var chip = gisapp.el('span', 'gisapp-inc-chip gisapp-status-' + gisapp.classSafe(item.status),
                             text.status[item.status] || item.status);
        b.appendChild(chip);
        b.appendChild(gisapp.el('span', 'gisapp-inc-item-title', item.title));
        b.appendChild(gisapp.el('span', 'gisapp-inc-item-meta',
          categoryName(item.category) + ' ・ ' + text.priority + ' ' + item.priority));
        b.addEventListener('click', function () { openPanel(item.id, b); });
        li.appendChild(b);
        list.appendChild(li);
      });
    }

    function filterQuery() {
      var params = [];
      var checked = STATUSES.filter(function (s) { return statusBoxes[s].checked; });
      if (checked.length < STATUSES.length) {
        checked.forEach(function (s) { params.push('status=' + encodeURIComponent(s)); });
      }
      if (categorySelect.value) params.push('category=' + encodeURIComponent(categorySelect.value));
      [[fromInput, 'from'], [toInput, 'to']].forEach(function (pair) {
        var d = pair[0].value ? new Date(pair[0].value) : null;  // local time, as the operator typed it
        if (d && !isNaN(d)) params.push(pair[1] + '=' + encodeURIComponent(d.toISOString()));
      });
      return {none: checked.length === 0, query: params.length ? '?' + params.join('&') : ''};
    }

    var loadIncidents = gisapp.oneAtATime(function () {
      if (disasterId === null) return Promise.resolve();
      var wanted = disasterId;
      var f = filterQuery();
      var request = f.none
        ? Promise.resolve({features: []})  // no status ticked: nothing to show, nothing to ask
        : gisapp.fetchJson('/api/disasters/' + wanted + '/incidents' + f.query);
      return request.then(function (collection) {
        if (wanted !== disasterId) return;  // the operator switched disasters meanwhile
        Object.keys(markers).forEach(function (id) { map.removeLayer(markers[id]); });
        markers = {};
        shown = {};
        var items = (collection.features || []).map(function (feature) {
          var item = feature.properties;
          item.lon = feature.geometry.coordinates[0];
          item.lat = feature.geometry.coordinates[1];
          return item;
        });
        items.forEach(function (item) {
          shown[item.id] = item;
          drawMarker(item);
        });
        renderCounts();
        renderList(items);
        loads += 1;
        root.setAttribute('data-state', 'ready');
        root.setAttribute('data-count', String(items.length));
        root.setAttribute('data-loads', String(loads));
      }).catch(function (error) {
        root.setAttribute('data-state', 'error');
        showNotice('error', [{text: gisapp.format(text.load_error, {status: error.status || '—'})}]);
        throw error;
      });
    });

    /* ---------------------------------------------------------------- the incident panel */
    var returnFocus = null;

    function openPanel(id, from) {
      openId = id;
      returnFocus = from || (markers[id] && markers[id].getElement()) || null;
      clearNotice();
      refreshOpen(true);
    }

    function closePanel() {
      openId = null;
      openIncident = null;
      detail.hidden = true;
      detail.textContent = '';
      detail.removeAttribute('data-incident-id');
      if (returnFocus && document.body.contains(returnFocus)) returnFocus.focus();
    }

    var refreshing = false;
    var refreshAgain = false;
    var focusAfter = false;
    function refreshOpen(focus) {
      if (openId === null) return;
      focusAfter = focusAfter || !!focus;
      if (refreshing) {
        refreshAgain = true;
        return;
      }
      refreshing = true;
      detail.setAttribute('data-refreshing', 'true');  // for tests: the panel is about to be redrawn
      var id = openId;
      var base = '/api/incidents/' + id;
      Promise.all([
        gisapp.fetchJson(base),
        gisapp.fetchJson(base + '/events').catch(function () { return []; }),
        gisapp.fetchJson(base + '/recommendations').catch(function () { return null; }),
        gisapp.fetchJson('/api/teams').catch(function () { return null; })
      ]).then(function (parts) {
        if (id !== openId) return;
        openIncident = parts[0];
        renderDetail(parts[0], parts[1], parts[2], parts[3]);
        if (focusAfter) {
          focusAfter = false;
          detail.querySelector('h3').focus();
        }
      }).catch(function (error) {
        console.error(error);
        showNotice('error', [{text: gisapp.format(text.failed, {status: error.status || '—'})}]);
      }).then(function () {
        refreshing = false;
        if (refreshAgain) {
          refreshAgain = false;
          refreshOpen(false);
        } else {
          detail.removeAttribute('data-refreshing');
        }
      });
    }

    function definition(dl, term, value) {
      dl.appendChild(gisapp.el('dt', null, term));
      var dd = gisapp.el('dd', null, value === '' || value === null || value === undefined ? '—' : value);
      dl.appendChild(dd);
      return dd;
    }

    function renderDetail(inc, events, recommendations, teams) {
      detail.textContent = '';
      detail.hidden = false;
      detail.setAttribute('data-incident-id', String(inc.id));
      detail.setAttribute('data-version', String(inc.version));
      detail.setAttribute('data-status', inc.status);

      var head = gisapp.el('div', 'gisapp-inc-detail-head');
      var h = gisapp.el('h3', null, inc.title);
      h.id = 'gisapp-incident-title';
      h.tabIndex = -1;
      detail.setAttribute('aria-labelledby', h.id);
      head.appendChild(h);
      var close = button(text.close, 'gisapp-inc-button gisapp-inc-close');
      close.id = 'gisapp-incident-close';
      close.addEventListener('click', closePanel);
      head.appendChild(close);
      detail.appendChild(head);

      var statusLine = gisapp.el('p', 'gisapp-inc-status-line');
      statusLine.appendChild(gisapp.el('span', 'gisapp-inc-chip gisapp-status-' + gisapp.classSafe(inc.status),
                                       text.status[inc.status] || inc.status));
      statusLine.appendChild(gisapp.el('span', 'gisapp-inc-version', gisapp.format(text.version, {v: inc.version})));
      detail.appendChild(statusLine);

      var dl = gisapp.el('dl', 'gisapp-inc-facts');
      definition(dl, text.category, label(inc, 'category') || categoryName(inc.category));
      definition(dl, text.priority, gisapp.format(text.priority_value, {p: inc.priority}));
      var desc = definition(dl, text.description, inc.description);
      desc.className = 'gisapp-inc-description';
      definition(dl, text.address, inc.address);
      var road = inc.road_segment_id === null || inc.road_segment_id === undefined ? '' :
        gisapp.format(text.road_value, {name: inc.road_name || text.road_unnamed,
                                         m: Math.round(Number(inc.road_distance_m) || 0)});
      definition(dl, text.road, road);
      definition(dl, text.reported_at, when(inc.reported_at));
      definition(dl, text.source, text.sources[inc.source] || inc.source);
      detail.appendChild(dl);

      // Status buttons: the changes allowed from the status shown, each naming the version shown.
      var statusBox = gisapp.el('div', 'gisapp-inc-actions');
      statusBox.setAttribute('role', 'group');
      statusBox.setAttribute('aria-label', text.change_status);
      statusBox.appendChild(gisapp.el('h4', null, text.change_status));
      (TRANSITIONS[inc.status] || []).forEach(function (to) {
        var b = button(gisapp.format(text.to_status, {status: text.status[to]}),
                       'gisapp-inc-button gisapp-inc-set-status');
        b.setAttribute('data-to-status', to);
        b.addEventListener('click', function () { changeStatus(inc, to, b); });
        statusBox.appendChild(b);
      });
      detail.appendChild(statusBox);

      // Assignments with their state buttons.
      var assignBox = gisapp.el('section', 'gisapp-inc-assignments');
      assignBox.appendChild(gisapp.el('h4', null, text.assignments));
      var assignList = gisapp.el('ul');
      (inc.assignments || []).forEach(function (a) {
        var li = gisapp.el('li');
        li.setAttribute('data-assignment-id', String(a.id));
        li.setAttribute('data-state', a.state);
        var who = a.team_id ? (a.team_name || a.team_id) + (a.unit_id ? '（' + (a.unit_name || a.unit_id) + '）' : '')
                            : (a.unit_name || a.unit_id);
        li.appendChild(gisapp.el('span', null, who + ' ・ ' + (text.assignment_state[a.state] || a.state)));
        (ASSIGNMENT_NEXT[a.state] || []).forEach(function (next) {
          var b = button(next === 'on_scene' ? text.set_on_scene : text.set_cleared,
                         'gisapp-inc-button gisapp-inc-assignment-state');
          b.setAttribute('data-to-state', next);
          b.setAttribute('aria-label', who + ' ' + b.textContent);
          b.addEventListener('click', function () { setAssignment(a, next, b); });
          li.appendChild(b);
        });
        assignList.appendChild(li);
      });
      if (!assignList.children.length) assignList.appendChild(gisapp.el('li', null, text.no_assignments));
      assignBox.appendChild(assignList);
      detail.appendChild(assignBox);

      // Dispatch: the nearest available units, then the free teams (HQ operators only; others get no list).
      if (inc.status !== 'done' && inc.status !== 'cancelled') {
        if (recommendations) {
          detail.appendChild(dispatchList('gisapp-incident-dispatch', 'gisapp-inc-dispatch', text.recommend,
            text.no_units, recommendations.map(function (r) {
              var km = (Number(r.method === 'road' ? r.distance_m : r.straight_m) / 1000).toFixed(1);
              var distance = gisapp.format(r.method === 'road' ? text.distance_road : text.distance_straight,
                                           {km: km});
              var eta = gisapp.format(text.eta, {min: Math.max(1, Math.round(Number(r.eta_s) / 60))});
              var name = r.name || r.device_id;
              return {attr: 'data-unit-id', id: r.device_id, name: name, kind: 'unit',
                      label: name + ' ・ ' + distance + ' ・ ' + eta, body: {unit_id: r.device_id}};
            })));
        }
        if (teams) {
          var free = teams.filter(function (t) { return t.active && t.busy_with === null; });
          detail.appendChild(dispatchList('gisapp-incident-teams', 'gisapp-inc-dispatch gisapp-inc-teams', text.teams,
            text.no_teams, free.map(function (t) {
              var radio = t.radio_unit_id ? '（' + (t.radio_name || t.radio_unit_id) + '）' : '';
              return {attr: 'data-team-id', id: t.id, name: t.name, kind: 'team', label: t.name + radio,
                      body: {team_id: t.id}};
            })));
        }
      }

      /** A list of things to dispatch, each with its own button. */
      function dispatchList(id, className, heading, none, items) {
        var box = gisapp.el('section', className);
        box.id = id;
        box.appendChild(gisapp.el('h4', null, heading));
        var list = gisapp.el('ul');
        items.forEach(function (item) {
          var li = gisapp.el('li');
          li.setAttribute(item.attr, item.id);
          li.appendChild(gisapp.el('span', null, item.label));
          var b = button(text.dispatch, 'gisapp-inc-button gisapp-inc-dispatch-' + item.kind);
          b.setAttribute('aria-label', gisapp.format(text.dispatch_unit, {unit: item.name}));
          b.setAttribute(item.attr, item.id);
          b.addEventListener('click', function () { dispatchTo(inc, item.body, item.name, b); });
          li.appendChild(b);
          list.appendChild(li);
        });
        if (!items.length) list.appendChild(gisapp.el('li', null, none));
        box.appendChild(list);
        return box;
      }

      // History: every event, oldest first.
      var hist = gisapp.el('section', 'gisapp-inc-history');
      hist.appendChild(gisapp.el('h4', null, text.history));
      var ol = gisapp.el('ol');
      (events || []).forEach(function (e) {
        var change = e.to_status ? (e.from_status ? text.status[e.from_status] + ' → ' : '') +
          (text.status[e.to_status] || e.to_status) : '';
        var line = [when(e.at), text.event[e.kind] || e.kind, change, e.actor, e.note].filter(Boolean).join(' ・ ');
        var li = gisapp.el('li', null, line);
        li.setAttribute('data-kind', e.kind);
        ol.appendChild(li);
      });
      hist.appendChild(ol);
      detail.appendChild(hist);
    }

    /* ---------------------------------------------------------------- actions */
    function busy(b, on) {
      b.disabled = on;
      b.setAttribute('aria-busy', on ? 'true' : 'false');
    }

    function changeStatus(inc, to, b) {
      busy(b, true);
      send('PATCH', '/api/incidents/' + inc.id, {status: to}, {'If-Match': '"' + inc.version + '"'})
        .then(function (result) {
          if (result.ok) {
            showNotice('ok', [{text: gisapp.format(text.updated, {title: result.data.title,
                                                                 status: text.status[result.data.status]})}]);
          } else if (result.status === 409) {
            var current = (result.data.error && result.data.error.current) || {};
            var lines = [{lang: lang, text: text.conflict},
                         {lang: text.conflict_other.lang, text: text.conflict_other.text}];
            if (current.status) {
              lines.push({text: gisapp.format(text.conflict_current,
                {status: text.status[current.status] || current.status, v: current.version})});
            }
            showNotice('conflict', lines);
          } else {
            showNotice('error', errorLines(result));
          }
          refreshOpen(false);
          loadIncidents();
        })
        .catch(function (error) {
          console.error(error);
          showNotice('error', [{text: gisapp.format(text.failed, {status: '—'})}]);
          busy(b, false);
        });
    }

    function dispatchTo(inc, body, name, b) {
      busy(b, true);
      send('POST', '/api/incidents/' + inc.id + '/assignments', body)
        .then(function (result) {
          if (result.ok) {
            showNotice('ok', [{text: gisapp.format(text.dispatched, {unit: name})}]);
          } else {
            var lines = errorLines(result);
            var holder = result.data.error && shown[result.data.error.incident_id];
            if (result.status === 409 && holder) lines.push({text: holder.title});  // the holder, by name
            showNotice(result.status === 409 ? 'conflict' : 'error', lines);
          }
          refreshOpen(false);
          loadIncidents();
        })
        .catch(function (error) {
          console.error(error);
          busy(b, false);
        });
    }

    function setAssignment(a, state, b) {
      busy(b, true);
      send('PATCH', '/api/assignments/' + a.id, {state: state})
        .then(function (result) {
          if (!result.ok) showNotice('error', errorLines(result));
          refreshOpen(false);
        })
        .catch(function (error) {
          console.error(error);
          busy(b, false);
        });
    }

    /* ---------------------------------------------------------------- start */
    [statusBoxes.unhandled, statusBoxes.in_progress, statusBoxes.done, statusBoxes.cancelled,
     categorySelect, fromInput, toInput].forEach(function (control) {
      control.addEventListener('change', loadIncidents);
    });
    clearButton.addEventListener('click', function () {
      STATUSES.forEach(function (s) { statusBoxes[s].checked = true; });
      categorySelect.value = '';
      fromInput.value = '';
      toInput.value = '';
      loadIncidents();
    });
    disasterSelect.addEventListener('change', function () {
      disasterId = Number(disasterSelect.value);
      root.setAttribute('data-disaster-id', String(disasterId));
      disasterListeners.forEach(function (callback) { callback(disasterId); });
      closePanel();
      loadIncidents();
    });
    detail.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') closePanel();
    });

    /* ---------------------------------------------------------------- a new incident */
    var newPoint = null;
    var newMarker = null;
    var picking = false;
    function setPlace(latlng) {
      newPoint = latlng;
      if (newMarker) map.removeLayer(newMarker);
      newMarker = L.circleMarker(latlng, {radius: 9, color: '#0b3d91', weight: 3, dashArray: '4 3', fillOpacity: 0.2})
        .addTo(map);
      newPlace.textContent = gisapp.format(text.place_chosen, {lat: latlng.lat.toFixed(5), lon: latlng.lng.toFixed(5)});
      newPlace.setAttribute('data-lat', String(latlng.lat));
      newPlace.setAttribute('data-lon', String(latlng.lng));
    }
    pickButton.addEventListener('click', function () {
      picking = true;
      map.getContainer().classList.add('gisapp-picking');
      newPlace.textContent = text.place_click;
    });
    centreButton.addEventListener('click', function () { setPlace(map.getCenter()); });
    map.on('click', function (event) {
      if (!picking) return;
      picking = false;
      map.getContainer().classList.remove('gisapp-picking');
      setPlace(event.latlng);
      newTitle.focus();
    });
    newForm.addEventListener('submit', function (event) {
      event.preventDefault();
      if (disasterId === null) {
        showNotice('error', [{text: text.no_disaster}]);
        return;
      }
      var missing = [];
      if (!newTitle.value.trim()) missing.push(text.title);
      if (!newPoint) missing.push(text.place);
      if (missing.length) {
        showNotice('error', [{text: gisapp.format(text.missing, {fields: missing.join('・')})}]);
        (newTitle.value.trim() ? pickButton : newTitle).focus();
        return;
      }
      busy(submitButton, true);
      send('POST', '/api/disasters/' + disasterId + '/incidents', {
        category: newCategory.value, title: newTitle.value.trim(), priority: Number(newPriority.value),
        source: newSource.value, address: newAddress.value.trim(), description: newDescription.value.trim(),
        lon: Number(newPoint.lng.toFixed(7)), lat: Number(newPoint.lat.toFixed(7))
      }).then(function (result) {
        busy(submitButton, false);
        if (!result.ok) {
          showNotice('error', errorLines(result));
          return;
        }
        newForm.reset();
        newPriority.value = '3';
        newPoint = null;
        if (newMarker) map.removeLayer(newMarker);
        newMarker = null;
        newPlace.textContent = text.place_none;
        newBox.open = false;
        loadIncidents();
        openPanel(result.data.id);  // (it clears the notice area: the confirmation goes after it)
        showNotice('ok', [{text: gisapp.format(text.registered, {title: result.data.title})}]);
      }).catch(function (error) {
        console.error(error);
        busy(submitButton, false);
        showNotice('error', [{text: gisapp.format(text.failed, {status: '—'})}]);
      });
    });

    function start() {
      return Promise.all([gisapp.fetchJson('/api/disasters'), gisapp.fetchJson('/api/incident-categories')])
        .then(function (parts) {
          var disasters = parts[0];
          categories = parts[1];
          categorySelect.textContent = '';
          categorySelect.appendChild(gisapp.el('option', null, text.all_categories)).value = '';
          newCategory.textContent = '';
          categories.forEach(function (c) {
            categorySelect.appendChild(gisapp.el('option', null, label(c, 'name'))).value = c.code;
            newCategory.appendChild(gisapp.el('option', null, label(c, 'name'))).value = c.code;
          });
          disasterSelect.textContent = '';
          disasters.forEach(function (d) {
            var option = gisapp.el('option', null, d.name + (d.closed_at ? text.closed : ''));
            option.value = String(d.id);
            disasterSelect.appendChild(option);
          });
          // The list comes open first, newest first: the default is the latest open disaster.
          if (!disasters.length) {
            root.setAttribute('data-state', 'ready');
            root.setAttribute('data-count', '0');
            showNotice('info', [{text: text.no_disaster}]);
            renderCounts();
            return;
          }
          disasterId = disasters[0].id;
          disasterSelect.value = String(disasterId);
          root.setAttribute('data-disaster-id', String(disasterId));
          disasterListeners.forEach(function (callback) { callback(disasterId); });
          loadIncidents();
        })
        .catch(function (error) {
          console.error(error);
          root.setAttribute('data-state', 'error');
          showNotice('error', [{text: gisapp.format(text.load_error, {status: error.status || '—'})}]);
        });
    }
    start();

    return {
      /** An incident-related event from the stream (already seq-checked by hq_map.js). */
      onEvent: function (type, message) {
        if (type === 'incident') {
          if (disasterId === null || message.disaster_id !== disasterId) {
            if (disasterId === null) start();  // the first disaster was just opened
            return;
          }
          loadIncidents();
          if (message.id === openId && (!openIncident || message.version !== openIncident.version)) {
            refreshOpen(false);
          }
        } else if (type === 'assignment' || type === 'road_closure') {
          // A unit became busy or free, or a road closed: the panel's units and distances changed.
          refreshOpen(false);
        } else if (type === 'citizen_report' && message.state === 'pending') {
          newReports += 1;
          reportsLine.textContent = gisapp.format(text.citizen_reports, {n: newReports});
          reportsLine.hidden = false;
        }
      },
      /** Something may have been missed (seq gap, reconnect): fetch everything again. */
      reload: function () {
        loadIncidents();
        refreshOpen(false);
      },
      /** The disaster the operator is looking at (null: none open). */
      disasterId: function () { return disasterId; },
      /** Call `callback(id)` whenever the operator picks another disaster (or the first is chosen). */
      onDisasterChange: function (callback) {
        disasterListeners.push(callback);
      }
    };
  };
})();
