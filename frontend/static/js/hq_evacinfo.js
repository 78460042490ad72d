/* HQ map: 避難情報 (evacuation information) — the orders in force shaded by level on the map, the open
 * suggestions of the 発令基準 with their reasons and shelters, and for hq_operator/admin the forms to
 * issue (発令), change level, change areas and cancel (解除). A person issues; a suggestion only fills
 * the form. Registered as a panel of hq_map.js (gisapp.hqPanels), which hands it its stream events.
 *
 *   GET  /api/me                                     roles: may this user issue?
 *   GET  /api/evacuation-info/areas                  町丁目/自治会 polygons (code, name) to choose from
 *   GET  /api/evacuation-info/orders?status=active   {orders: [Order]} (Order carries describe(level, hazard))
 *   GET  /api/evacuation-info/suggestions?state=open {suggestions: [...]}
 *   POST /api/evacuation-info/orders                 {level, hazard, area_codes, reason, suggestion_id?, disaster_id?}
 *   PATCH /api/evacuation-info/orders/{id}           {expected_version, level? | area_codes?, reason} (409: stale)
 *   POST /api/evacuation-info/orders/{id}/cancel     {expected_version, reason}
 *   POST /api/evacuation-info/suggestions/{id}/dismiss {reason}
 *   events "evacuation", "evac_suggestion"           → refetch (a handful of orders: one small request)
 *
 * The level's words and colours come from the API with each order (gisapp/ops/evac_levels.py), never
 * from this file; colour is never alone: every shaded area carries a label with the level number and
 * words, each level has its own border pattern, and the legend says both.
 * Browser tests can wait for:
 *   #gisapp-evacinfo[data-state="ready"][data-orders][data-suggestions][data-can-issue]
 *   .gisapp-ei-order[data-order-id][data-level][data-version], .gisapp-ei-suggestion[data-suggestion-id]
 *   path.gisapp-ei-shade[data-order-id][data-level], .gisapp-ei-label[data-level],
 *   path.gisapp-ei-suggested[data-suggestion-id], #gisapp-ei-notice[data-kind]
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var LEVELS = [3, 4, 5];
  var HAZARDS = ['landslide', 'flood', 'inland_flood', 'storm_surge', 'tsunami', 'fire', 'earthquake', 'volcano'];
  // A border pattern per level, so the shading differs by more than colour (WCAG 1.4.1).
  var DASH = {3: '10 6', 4: null, 5: '3 5'};
  var DATE_FORMAT = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

  /** Send JSON; resolves {status, ok, data} whatever the status (the caller decides). */
  function send(method, url, body) {
    return fetch(url, {method: method, credentials: 'same-origin',
                       headers: {Accept: 'application/json', 'Content-Type': 'application/json'},
                       body: JSON.stringify(body)})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return {status: response.status, ok: response.ok, data: data};
        });
      });
  }

  function button(label, className) {
    var b = gisapp.el('button', 'gisapp-inc-button' + (className ? ' ' + className : ''), label);
    b.type = 'button';
    return b;
  }

  function start(config, incidents) {
    var map = config.map;
    var text = config.text.evacinfo;
    var lang = config.lang;
    var canIssue = false;
    var areas = [];           // [{code, name, feature}] from /areas, by name
    var areaByCode = {};
    var orders = [];
    var suggestions = [];
    var knownSuggestions = null;  // ids seen, to announce only new ones (null until the first load)
    var levelInfo = {};       // level -> describe() fields seen in answers (names, colours)
    var hazardInfo = {};      // hazard -> {ja, en}

    function words(obj, base) {
      return (lang === 'en' ? obj[base + '_en'] : obj[base + '_ja']) || obj[base + '_ja'] || '';
    }
    function learn(item) {
      if (item.level && item.name_ja) levelInfo[item.level] = item;
      if (item.hazard && item.hazard_ja) hazardInfo[item.hazard] = item;
    }
    /** "警戒レベル4 避難指示": the number and the words, as the guideline writes them. */
    function levelText(item) {
      var info = item.name_ja ? item : levelInfo[item.level] || {};
      var name = words(info, 'name');
      return gisapp.format(text.level_n, {n: item.level}) + (name ? ' ' + name : '');
    }
    function hazardText(item) {
      var info = item.hazard_ja ? item : hazardInfo[item.hazard] || {};
      return words(info, 'hazard') || item.hazard;
    }
    function areaNames(item) {
      var names = item.area_names && item.area_names.length ? item.area_names
        : (item.area_codes || []).map(function (c) { return areaByCode[c] ? areaByCode[c].name : c; });
      return names.join(lang === 'en' ? ', ' : '、');
    }
    function when(value) {
      if (!value) return '—';
      var d = new Date(value);
      return isNaN(d) ? String(value) : d.toLocaleString(config.text.locale, DATE_FORMAT);
    }
    function chip(item) {
      var c = gisapp.el('span', 'gisapp-ei-chip', levelText(item));
      c.setAttribute('data-level', String(item.level));
      if (item.colour) {
        c.style.backgroundColor = item.colour;
        c.style.color = item.text_colour || '#000';
      }
      return c;
    }

    /* ---------------------------------------------------------------- the panel skeleton */
    var root = gisapp.el('aside', 'gisapp-evacinfo');
    root.id = 'gisapp-evacinfo';
    root.setAttribute('aria-labelledby', 'gisapp-evacinfo-title');
    root.setAttribute('data-state', 'loading');
    var title = gisapp.el('h2');
    title.id = 'gisapp-evacinfo-title';
    var toggle = button(text.panel, 'gisapp-ei-toggle');
    toggle.id = 'gisapp-evacinfo-toggle';
    toggle.setAttribute('aria-controls', 'gisapp-evacinfo-body');
    title.appendChild(toggle);
    root.appendChild(title);
    var body = gisapp.el('div', 'gisapp-ei-body');
    body.id = 'gisapp-evacinfo-body';
    root.appendChild(body);

    var jmaLine = gisapp.el('p', 'gisapp-ei-jma');  // filled by hq_log.js from /api/jma/status
    jmaLine.id = 'gisapp-jma-status';
    jmaLine.setAttribute('role', 'status');
    jmaLine.hidden = true;
    body.appendChild(jmaLine);

    var announcer = gisapp.el('p', 'gisapp-ei-announce');
    announcer.id = 'gisapp-ei-announce';
    announcer.setAttribute('aria-live', 'polite');
    body.appendChild(announcer);

    var notice = gisapp.el('div', 'gisapp-ei-notice');
    notice.id = 'gisapp-ei-notice';
    notice.setAttribute('role', 'alert');
    notice.hidden = true;
    body.appendChild(notice);

    var readOnly = gisapp.el('p', 'gisapp-ei-readonly', text.read_only);
    readOnly.hidden = true;
    body.appendChild(readOnly);

    var newButton = button(text.new, 'gisapp-inc-primary');
    newButton.id = 'gisapp-ei-new';
    newButton.hidden = true;
    body.appendChild(newButton);

    var formBox = gisapp.el('section', 'gisapp-ei-form');  // issue / change: non-modal, the map stays usable
    formBox.id = 'gisapp-ei-form';
    formBox.hidden = true;
    body.appendChild(formBox);

    function section(id, heading) {
      var box = gisapp.el('section', 'gisapp-ei-section');
      var h = gisapp.el('h3', null, heading);
      h.id = id + '-title';
      h.tabIndex = -1;
      box.setAttribute('aria-labelledby', h.id);
      box.appendChild(h);
      var list = gisapp.el('ul', 'gisapp-ei-list');
      list.id = id;
      box.appendChild(list);
      body.appendChild(box);
      return list;
    }
    var suggestionList = section('gisapp-ei-suggestions', text.suggestions);
    var orderList = section('gisapp-ei-orders', text.orders);

    var logSlot = gisapp.el('div');  // hq_log.js puts the HQ log here
    logSlot.id = 'gisapp-hqlog-slot';
    body.appendChild(logSlot);

    document.getElementById('gisapp-main').appendChild(root);
    document.body.classList.add('gisapp-has-evacinfo');

    function setOpen(open) {
      body.hidden = !open;
      root.classList.toggle('gisapp-ei-collapsed', !open);
      document.body.classList.toggle('gisapp-evacinfo-folded', !open);
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
      toggle.setAttribute('aria-label', open ? text.hide : text.show);
    }
    toggle.addEventListener('click', function () { setOpen(body.hidden); });
    // Phones: start folded to one line (the map and the incident panel share the screen).
    setOpen(!(window.matchMedia && window.matchMedia('(max-width: 600px)').matches));

    function showNotice(kind, lines) {
      notice.textContent = '';
      notice.setAttribute('data-kind', kind);
      lines.forEach(function (line) {
        var p = gisapp.el('p', null, line.text);
        if (line.lang) p.lang = line.lang;
        notice.appendChild(p);
      });
      notice.hidden = false;
    }
    function clearNotice() {
      notice.hidden = true;
      notice.textContent = '';
      notice.removeAttribute('data-kind');
    }
    function errorLines(result) {
      var error = (result.data && result.data.error) || {};
      var lines = [];
      if (error.message_ja) lines.push({lang: 'ja', text: error.message_ja});
      if (error.message_en) lines.push({lang: 'en', text: error.message_en});
      if (lang === 'en') lines.reverse();
      if (!lines.length) lines.push({text: gisapp.format(text.failed, {status: result.status})});
      return lines;
    }

    /* ---------------------------------------------------------------- map layers and legend */
    var shadeLayer = L.layerGroup().addTo(map);       // orders in force
    var suggestLayer = L.layerGroup().addTo(map);     // open suggestions' areas, dashed outline
    var pickLayer = L.layerGroup();                   // every area, clickable while a form is open
    var layerControl = L.control.layers(null, null, {collapsed: false, position: 'bottomleft'});
    layerControl.addOverlay(shadeLayer, gisapp.escapeHtml(text.area_layer));
    layerControl.addTo(map);

    var Legend = L.Control.extend({
      options: {position: 'bottomright'},
      onAdd: function () {
        var box = L.DomUtil.create('section', 'gisapp-ei-legend');
        box.id = 'gisapp-ei-legend';
        box.setAttribute('aria-label', text.legend);
        L.DomEvent.disableClickPropagation(box);
        return box;
      }
    });
    var legend = new Legend().addTo(map);
    function swatch(className, style) {
      var s = gisapp.el('span', 'gisapp-ei-swatch ' + className);
      s.setAttribute('aria-hidden', 'true');
      Object.keys(style).forEach(function (k) { s.style[k] = style[k]; });
      return s;
    }
    function renderLegend() {
      var box = legend.getContainer();
      box.textContent = '';
      var shown = LEVELS.filter(function (n) { return levelInfo[n]; });
      box.hidden = !shown.length && !suggestions.length;
      box.appendChild(gisapp.el('h3', null, text.legend));
      var ul = gisapp.el('ul');
      shown.forEach(function (n) {
        var info = levelInfo[n];
        var li = gisapp.el('li');
        li.setAttribute('data-level', String(n));
        li.appendChild(swatch('gisapp-ei-swatch-' + n, {backgroundColor: info.colour, borderColor: info.colour}));
        li.appendChild(gisapp.el('span', null, levelText(info)));
        ul.appendChild(li);
      });
      if (suggestions.length) {
        var li = gisapp.el('li');
        li.appendChild(swatch('gisapp-ei-swatch-suggested', {}));
        li.appendChild(gisapp.el('span', null, text.legend_suggestion));
        ul.appendChild(li);
      }
      box.appendChild(ul);
    }

    function centreLabel(layer, item, extra, className) {
      var center = layer.getBounds().getCenter();
      var tag = gisapp.el('span', 'gisapp-ei-label-text', levelText(item) + (extra ? ' ' + extra : ''));
      if (item.colour && !className) {
        tag.style.backgroundColor = item.colour;
        tag.style.color = item.text_colour || '#000';
      }
      return L.marker(center, {
        icon: L.divIcon({className: 'gisapp-ei-label ' + (className || ''), html: tag, iconSize: null}),
        interactive: false, keyboard: false
      });
    }

    function drawOrders() {
      shadeLayer.clearLayers();
      orders.forEach(function (o) {
        if (!o.geometry) return;
        var style = {color: o.colour, weight: 3, dashArray: DASH[o.level], fillColor: o.colour, fillOpacity: 0.3,
                     className: 'gisapp-ei-shade'};
        var shape = L.geoJSON(o.geometry, {style: style, interactive: true});
        var label = levelText(o) + '（' + hazardText(o) + '）' + areaNames(o);
        shape.bindTooltip(gisapp.el('span', null, label), {sticky: true});
        shape.addTo(shadeLayer);
        shape.eachLayer(function (part) {
          var el = part.getElement && part.getElement();
          if (!el) return;
          el.setAttribute('data-order-id', String(o.id));
          el.setAttribute('data-level', String(o.level));
        });
        // One label per area (or per drawn polygon): the number and the words on the map itself.
        var labelled = false;
        (o.area_codes || []).forEach(function (code) {
          var area = areaByCode[code];
          if (!area) return;
          labelled = true;
          var marker = centreLabel(L.geoJSON(area.feature), o).addTo(shadeLayer);
          marker.getElement().setAttribute('data-level', String(o.level));
          marker.getElement().setAttribute('data-area-code', code);
        });
        if (!labelled) centreLabel(shape, o).addTo(shadeLayer).getElement().setAttribute('data-level', String(o.level));
      });
    }

    function drawSuggestions(highlight) {
      suggestLayer.clearLayers();
      suggestions.forEach(function (s) {
        (s.area_codes || []).forEach(function (code) {
          var area = areaByCode[code];
          if (!area) return;
          var fresh = highlight && highlight[s.id];
          var shape = L.geoJSON(area.feature, {style: {color: '#1a1a1a', weight: fresh ? 4 : 2.5, dashArray: '6 6',
                                                       fill: false, className: 'gisapp-ei-suggested'},
                                               interactive: false});
          shape.addTo(suggestLayer);
          shape.eachLayer(function (part) {
            var el = part.getElement && part.getElement();
            if (!el) return;
            el.setAttribute('data-suggestion-id', String(s.id));
            el.setAttribute('data-area-code', code);
            if (fresh) el.classList.add('gisapp-ei-fresh');
          });
        });
      });
    }

    /* ---------------------------------------------------------------- lists */
    function facts(dl, term, value) {
      dl.appendChild(gisapp.el('dt', null, term));
      dl.appendChild(gisapp.el('dd', null, value === '' || value === null || value === undefined ? '—' : value));
    }

    function showOnMap(item) {
      var group = L.featureGroup();
      if (item.geometry) L.geoJSON(item.geometry).addTo(group);
      (item.area_codes || []).forEach(function (c) { if (areaByCode[c]) L.geoJSON(areaByCode[c].feature).addTo(group); });
      if (group.getLayers().length) map.fitBounds(group.getBounds(), {padding: [30, 30]});
    }

    function renderOrders() {
      orderList.textContent = '';
      if (!orders.length) orderList.appendChild(gisapp.el('li', 'gisapp-ei-empty', text.no_orders));
      orders.forEach(function (o) {
        var li = gisapp.el('li', 'gisapp-ei-order');
        li.setAttribute('data-order-id', String(o.id));
        li.setAttribute('data-level', String(o.level));
        li.setAttribute('data-version', String(o.version));
        var head = gisapp.el('h4', 'gisapp-ei-head');
        head.id = 'gisapp-ei-order-' + o.id;
        head.tabIndex = -1;
        head.appendChild(chip(o));
        head.appendChild(gisapp.el('span', 'gisapp-ei-hazard', hazardText(o)));
        li.setAttribute('aria-labelledby', head.id);
        li.appendChild(head);
        var dl = gisapp.el('dl', 'gisapp-ei-facts');
        facts(dl, text.areas, areaNames(o));
        facts(dl, text.reason, o.reason);
        facts(dl, text.issued, gisapp.format(text.by_at, {at: when(o.issued_at), by: o.issued_by}));
        if (o.version > 1) facts(dl, text.updated, gisapp.format(text.by_at, {at: when(o.updated_at), by: o.updated_by}));
        facts(dl, text.version_label, gisapp.format(text.version, {v: o.version}));
        li.appendChild(dl);
        var actions = gisapp.el('div', 'gisapp-ei-actions');
        var where = button(text.show_on_map);
        where.addEventListener('click', function () { showOnMap(o); });
        actions.appendChild(where);
        if (canIssue) {
          [['level', text.change_level], ['areas', text.change_areas]].forEach(function (pair) {
            var b = button(pair[1], 'gisapp-ei-' + pair[0]);
            b.setAttribute('aria-label', pair[1] + ' ' + levelText(o) + ' ' + areaNames(o));
            b.addEventListener('click', function () { openForm(pair[0], {order: o}, b); });
            actions.appendChild(b);
          });
          var cancel = button(text.cancel, 'gisapp-ei-cancel');
          cancel.setAttribute('aria-label', text.cancel + ' ' + levelText(o) + ' ' + areaNames(o));
          cancel.addEventListener('click', function () { confirmCancel(o, cancel); });
          actions.appendChild(cancel);
        }
        li.appendChild(actions);
        orderList.appendChild(li);
      });
    }

    function renderSuggestions() {
      suggestionList.textContent = '';
      if (!suggestions.length) suggestionList.appendChild(gisapp.el('li', 'gisapp-ei-empty', text.no_suggestions));
      suggestions.forEach(function (s) {
        var li = gisapp.el('li', 'gisapp-ei-suggestion');
        li.setAttribute('data-suggestion-id', String(s.id));
        li.setAttribute('data-level', String(s.level));
        var head = gisapp.el('h4', 'gisapp-ei-head');
        head.id = 'gisapp-ei-suggestion-' + s.id;
        head.tabIndex = -1;
        head.appendChild(gisapp.el('span', 'gisapp-ei-tag', text.suggested));
        head.appendChild(chip(s));
        head.appendChild(gisapp.el('span', 'gisapp-ei-hazard', hazardText(s)));
        li.setAttribute('aria-labelledby', head.id);
        li.appendChild(head);
        var reason = gisapp.el('p', 'gisapp-ei-reason', words(s, 'reason'));
        reason.lang = lang === 'en' && s.reason_en ? 'en' : 'ja';
        li.appendChild(reason);
        var dl = gisapp.el('dl', 'gisapp-ei-facts');
        facts(dl, text.areas, areaNames(s));
        facts(dl, text.suggested_label, when(s.updated_at || s.created_at));
        li.appendChild(dl);
        var sh = gisapp.el('div', 'gisapp-ei-shelters');
        sh.appendChild(gisapp.el('h5', null, text.shelters));
        var ul = gisapp.el('ul');
        (s.shelters || []).forEach(function (x) {
          var item = gisapp.el('li', null, x.name + ' ・ ' + (x.open ? text.shelter_open : text.shelter_closed));
          item.setAttribute('data-shelter-id', String(x.id));
          item.setAttribute('data-open', x.open ? 'true' : 'false');
          ul.appendChild(item);
        });
        if (!ul.children.length) ul.appendChild(gisapp.el('li', null, text.no_shelters));
        sh.appendChild(ul);
        li.appendChild(sh);
        var actions = gisapp.el('div', 'gisapp-ei-actions');
        var where = button(text.show_on_map);
        where.addEventListener('click', function () { showOnMap(s); });
        actions.appendChild(where);
        if (canIssue) {
          var issue = button(text.issue_from, 'gisapp-inc-primary gisapp-ei-issue-from');
          issue.addEventListener('click', function () { openForm('issue', {suggestion: s}, issue); });
          actions.appendChild(issue);
          var dismiss = button(text.dismiss, 'gisapp-ei-dismiss');
          dismiss.setAttribute('aria-label', text.dismiss + ' ' + levelText(s) + ' ' + areaNames(s));
          dismiss.addEventListener('click', function () { confirmDismiss(s, dismiss); });
          actions.appendChild(dismiss);
        }
        li.appendChild(actions);
        suggestionList.appendChild(li);
      });
    }

    /* ---------------------------------------------------------------- loading */
    var loads = 0;
    function setState() {
      root.setAttribute('data-state', 'ready');
      root.setAttribute('data-orders', String(orders.length));
      root.setAttribute('data-suggestions', String(suggestions.length));
      root.setAttribute('data-can-issue', canIssue ? 'true' : 'false');
      root.setAttribute('data-loads', String(loads));
      runAfterLoad();
    }

    var loadAreas = gisapp.fetchJson('/api/evacuation-info/areas').then(function (collection) {
      areas = (collection.features || []).map(function (f) {
        var p = f.properties || {};
        return {code: String(p.code), name: p.name || String(p.code), feature: f};
      }).sort(function (a, b) { return a.name.localeCompare(b.name, 'ja', {numeric: true}); });
      areas.forEach(function (a) { areaByCode[a.code] = a; });
    }).catch(function (error) {
      console.warn('evacuation areas', error);
    });

    var loadMe = gisapp.fetchJson('/api/me').then(function (me) {
      var roles = me.roles || [];
      canIssue = roles.indexOf('hq_operator') >= 0 || roles.indexOf('admin') >= 0;
    }).catch(function () { canIssue = false; });

    var load = gisapp.oneAtATime(function () {
      return Promise.all([
        gisapp.fetchJson('/api/evacuation-info/orders?status=active'),
        gisapp.fetchJson('/api/evacuation-info/suggestions?state=open'),
        loadAreas, loadMe
      ]).then(function (parts) {
        orders = (parts[0].orders || []).filter(function (o) { return o.status !== 'cancelled'; })
          .sort(function (a, b) { return b.level - a.level || String(b.updated_at).localeCompare(String(a.updated_at)); });
        suggestions = (parts[1].suggestions || []).filter(function (s) { return s.state === 'open'; });
        orders.forEach(learn);
        suggestions.forEach(learn);
        var fresh = {};
        var freshOnes = [];
        if (knownSuggestions !== null) {
          suggestions.forEach(function (s) {
            if (!knownSuggestions[s.id]) {
              fresh[s.id] = true;
              freshOnes.push(s);
            }
          });
        }
        knownSuggestions = {};
        suggestions.forEach(function (s) { knownSuggestions[s.id] = true; });
        loads += 1;
        readOnly.hidden = canIssue;
        newButton.hidden = !canIssue;
        renderOrders();
        renderSuggestions();
        drawOrders();
        drawSuggestions(fresh);
        renderLegend();
        setState();
        if (freshOnes.length) {
          announcer.textContent = freshOnes.map(function (s) {
            return gisapp.format(text.new_suggestion, {what: levelText(s) + '（' + hazardText(s) + '）',
                                                       areas: areaNames(s)});
          }).join(' ');
          freshOnes.forEach(function (s) {
            var li = suggestionList.querySelector('[data-suggestion-id="' + s.id + '"]');
            if (li) li.classList.add('gisapp-ei-fresh');
          });
        }
        if (formState && formState.order) refreshFormOrder();
      }).catch(function (error) {
        root.setAttribute('data-state', 'error');
        showNotice('error', [{text: gisapp.format(text.load_error, {status: error.status || '—'})}]);
        throw error;
      });
    });

    /* ---------------------------------------------------------------- issue / change form */
    var formState = null;   // {mode: issue|level|areas, order?, suggestion?, chosen: {code: true}, from}
    var pickShapes = {};    // code -> L.geoJSON of the area in pickLayer

    function drawPickLayer() {
      pickLayer.clearLayers();
      pickShapes = {};
      areas.forEach(function (a) {
        var shape = L.geoJSON(a.feature, {style: pickStyle(false), interactive: true});
        shape.bindTooltip(gisapp.el('span', null, a.name), {sticky: true});
        shape.on('click', function (event) {
          L.DomEvent.stopPropagation(event);
          toggleArea(a.code);
        });
        shape.addTo(pickLayer);
        shape.eachLayer(function (part) {
          var el = part.getElement && part.getElement();
          if (el) {
            el.setAttribute('data-area-code', a.code);
            el.classList.add('gisapp-ei-pick');
          }
        });
        pickShapes[a.code] = shape;
      });
    }
    function pickStyle(on) {
      return on ? {color: '#0b3d91', weight: 4, fillColor: '#0b3d91', fillOpacity: 0.25, dashArray: null}
                : {color: '#0b3d91', weight: 1.5, fillColor: '#0b3d91', fillOpacity: 0.04, dashArray: '2 4'};
    }

    var formRefs = {};
    function toggleArea(code, on) {
      if (!formState || formState.mode === 'level') return;
      var now = on === undefined ? !formState.chosen[code] : on;
      if (now) formState.chosen[code] = true;
      else delete formState.chosen[code];
      if (formRefs.boxes && formRefs.boxes[code]) formRefs.boxes[code].checked = now;
      if (pickShapes[code]) {
        pickShapes[code].setStyle(pickStyle(now));
        pickShapes[code].eachLayer(function (part) {
          var el = part.getElement && part.getElement();
          if (el) el.setAttribute('data-chosen', now ? 'true' : 'false');
        });
      }
      renderChosen();
    }
    function chosenCodes() {
      return areas.map(function (a) { return a.code; }).filter(function (c) { return formState.chosen[c]; })
        .concat(Object.keys(formState.chosen).filter(function (c) { return !areaByCode[c]; }));
    }
    function renderChosen() {
      if (!formRefs.chosen) return;
      var codes = chosenCodes();
      formRefs.chosen.textContent = codes.length
        ? gisapp.format(text.areas_chosen, {n: codes.length, names: areaNames({area_codes: codes})})
        : text.areas_none;
      formRefs.chosen.setAttribute('data-n', String(codes.length));
    }

    function field(labelText, control, hint) {
      var wrap = gisapp.el('div', 'gisapp-inc-field');
      var lab = gisapp.el('label', null, labelText);
      lab.htmlFor = control.id;
      wrap.appendChild(lab);
      if (hint) {
        var h = gisapp.el('span', 'gisapp-ei-hint', hint);
        h.id = control.id + '-hint';
        control.setAttribute('aria-describedby', h.id);
        wrap.appendChild(h);
      }
      wrap.appendChild(control);
      return wrap;
    }

    function openForm(mode, what, from) {
      closeForm(false);
      clearNotice();
      var o = what.order || null;
      var s = what.suggestion || null;
      formState = {mode: mode, order: o, suggestion: s, chosen: {}, from: from || null,
                   version: o ? o.version : null};
      (o ? o.area_codes : s ? s.area_codes : []).forEach(function (c) { formState.chosen[c] = true; });
      formRefs = {boxes: {}};
      formBox.textContent = '';
      formBox.hidden = false;
      formBox.setAttribute('data-mode', mode);
      formBox.setAttribute('role', 'dialog');  // non-modal: the map stays usable for choosing areas
      formBox.setAttribute('aria-modal', 'false');
      var h = gisapp.el('h3', null, mode === 'level' ? text.form_level : mode === 'areas' ? text.form_areas
                                      : s ? text.form_issue_from : text.form_issue);
      h.id = 'gisapp-ei-form-title';
      h.tabIndex = -1;
      formBox.setAttribute('aria-labelledby', h.id);
      formBox.appendChild(h);
      var form = gisapp.el('form');
      form.noValidate = true;
      formBox.appendChild(form);
      if (o) {
        var current = gisapp.el('p', 'gisapp-ei-current');
        formRefs.current = current;
        form.appendChild(current);
        refreshFormOrder();
      }
      if (s) {
        var because = gisapp.el('p', 'gisapp-ei-reason', words(s, 'reason'));
        form.appendChild(because);
      }

      if (mode !== 'areas') {  // level: issue and change level
        var levels = gisapp.el('fieldset', 'gisapp-ei-levels');
        levels.appendChild(gisapp.el('legend', null, text.level));
        formRefs.levels = {};
        LEVELS.forEach(function (n) {
          var r = gisapp.el('input');
          r.type = 'radio';
          r.name = 'gisapp-ei-level';
          r.id = 'gisapp-ei-level-' + n;
          r.value = String(n);
          r.checked = (o ? o.level : s ? s.level : 4) === n;
          formRefs.levels[n] = r;
          var lab = gisapp.el('label', 'gisapp-inc-check gisapp-ei-level-choice');
          lab.appendChild(r);
          lab.appendChild(chip({level: n, name_ja: (levelInfo[n] || {}).name_ja, name_en: (levelInfo[n] || {}).name_en,
                                colour: (levelInfo[n] || {}).colour, text_colour: (levelInfo[n] || {}).text_colour}));
          levels.appendChild(lab);
        });
        form.appendChild(levels);
      }
      if (mode === 'issue') {
        var hazard = gisapp.el('select');
        hazard.id = 'gisapp-ei-hazard';
        HAZARDS.forEach(function (hz) {
          var info = hazardInfo[hz];
          var opt = gisapp.el('option', null, info ? words(info, 'hazard') : hz);
          opt.value = hz;
          hazard.appendChild(opt);
        });
        hazard.value = s ? s.hazard : 'landslide';
        formRefs.hazard = hazard;
        form.appendChild(field(text.hazard, hazard));
      }
      if (mode !== 'level') {  // areas: a filterable checkbox list, and the map
        var areasBox = gisapp.el('fieldset', 'gisapp-ei-areas');
        areasBox.appendChild(gisapp.el('legend', null, text.areas));
        var filter = gisapp.el('input');
        filter.type = 'search';
        filter.id = 'gisapp-ei-area-filter';
        areasBox.appendChild(field(text.area_filter, filter, text.area_pick_hint));
        var list = gisapp.el('ul', 'gisapp-ei-area-list');
        list.id = 'gisapp-ei-area-list';
        areas.forEach(function (a) {
          var li = gisapp.el('li');
          var box = gisapp.el('input');
          box.type = 'checkbox';
          box.id = 'gisapp-ei-area-' + gisapp.classSafe(a.code);
          box.value = a.code;
          box.checked = !!formState.chosen[a.code];
          box.addEventListener('change', function () { toggleArea(a.code, box.checked); });
          formRefs.boxes[a.code] = box;
          var lab = gisapp.el('label', 'gisapp-inc-check');
          lab.appendChild(box);
          lab.appendChild(document.createTextNode(a.name));
          li.setAttribute('data-name', a.name);
          li.appendChild(lab);
          list.appendChild(li);
        });
        filter.addEventListener('input', function () {
          var q = filter.value.trim();
          Array.prototype.forEach.call(list.children, function (li) {
            li.hidden = q !== '' && li.getAttribute('data-name').indexOf(q) < 0;
          });
        });
        areasBox.appendChild(list);
        var chosen = gisapp.el('p', 'gisapp-ei-chosen');
        chosen.id = 'gisapp-ei-chosen';
        chosen.setAttribute('aria-live', 'polite');
        formRefs.chosen = chosen;
        areasBox.appendChild(chosen);
        form.appendChild(areasBox);
        drawPickLayer();
        pickLayer.addTo(map);
        Object.keys(formState.chosen).forEach(function (c) { toggleArea(c, true); });
        renderChosen();
      }
      var reason = gisapp.el('textarea');
      reason.id = 'gisapp-ei-reason';
      reason.rows = 3;
      reason.maxLength = 1000;
      reason.required = true;
      reason.setAttribute('aria-required', 'true');
      if (s) reason.value = s.reason_ja || '';
      formRefs.reason = reason;
      form.appendChild(field(text.reason, reason, text.reason_hint));
      var formNotice = gisapp.el('div', 'gisapp-ei-notice');
      formNotice.id = 'gisapp-ei-form-notice';
      formNotice.setAttribute('role', 'alert');
      formNotice.hidden = true;
      formRefs.notice = formNotice;
      form.appendChild(formNotice);
      var submit = gisapp.el('button', 'gisapp-inc-button gisapp-inc-primary',
                             mode === 'issue' ? text.submit_issue : text.submit_change);
      submit.type = 'submit';
      submit.id = 'gisapp-ei-submit';
      formRefs.submit = submit;
      form.appendChild(submit);
      var back = button(text.cancel_form);
      back.id = 'gisapp-ei-form-close';
      back.addEventListener('click', function () { closeForm(true); });
      form.appendChild(back);
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        submitForm();
      });
      h.focus();
    }

    function refreshFormOrder() {
      var o = formState.order;
      var fresh = orders.filter(function (x) { return x.id === o.id; })[0];
      if (fresh) formState.order = o = fresh;
      if (formRefs.current) {
        formRefs.current.textContent = gisapp.format(text.form_current,
          {level: levelText(o), hazard: hazardText(o), areas: areaNames(o), v: o.version});
        formRefs.current.setAttribute('data-version', String(o.version));
      }
    }

    function closeForm(restoreFocus) {
      if (!formState) return;
      var from = formState.from;
      formState = null;
      formRefs = {};
      formBox.hidden = true;
      formBox.textContent = '';
      map.removeLayer(pickLayer);
      if (restoreFocus) focusAfter(from);
    }
    /** After an action: back where the person was, or to a heading that still exists. */
    function focusAfter(el, fallbackId) {
      if (el && document.body.contains(el) && !el.hidden) el.focus();
      else {
        var h = document.getElementById(fallbackId || 'gisapp-ei-orders-title');
        if (h) h.focus();
      }
    }
    formBox.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') {
        event.preventDefault();
        closeForm(true);
      }
    });

    function formProblem(lines) {
      formRefs.notice.textContent = '';
      lines.forEach(function (line) {
        var p = gisapp.el('p', null, line.text);
        if (line.lang) p.lang = line.lang;
        formRefs.notice.appendChild(p);
      });
      formRefs.notice.hidden = false;
    }

    function submitForm() {
      var st = formState;
      var reason = formRefs.reason.value.trim();
      var level = null;
      if (formRefs.levels) {
        LEVELS.forEach(function (n) { if (formRefs.levels[n].checked) level = n; });
      }
      var codes = st.mode === 'level' ? null : chosenCodes();
      var missing = [];
      if (formRefs.levels && level === null) missing.push(text.level);
      if (codes !== null && !codes.length) missing.push(text.areas);
      if (!reason) missing.push(text.reason);
      if (missing.length) {
        formProblem([{text: gisapp.format(text.missing, {fields: missing.join('・')})}]);
        (reason ? (formRefs.boxes && areas.length ? formRefs.boxes[areas[0].code] : formRefs.submit)
                : formRefs.reason).focus();
        return;
      }
      var request;
      if (st.mode === 'issue') {
        var bodyIssue = {level: level, hazard: formRefs.hazard.value, area_codes: codes, reason: reason};
        if (st.suggestion) bodyIssue.suggestion_id = st.suggestion.id;
        var disaster = incidents && incidents.disasterId ? incidents.disasterId() : null;
        if (disaster !== null && disaster !== undefined) bodyIssue.disaster_id = disaster;
        request = send('POST', '/api/evacuation-info/orders', bodyIssue);
      } else {
        var change = {expected_version: st.version, reason: reason};
        if (st.mode === 'level') change.level = level;
        else change.area_codes = codes;
        request = send('PATCH', '/api/evacuation-info/orders/' + st.order.id, change);
      }
      formRefs.submit.disabled = true;
      request.then(function (result) {
        if (formState !== st) return;
        if (result.ok) {
          var o = result.data;
          learn(o);
          closeForm(false);
          showNotice('ok', [{text: gisapp.format(st.mode === 'issue' ? text.issued_ok : text.changed_ok,
            {what: levelText(o) + '（' + hazardText(o) + '）' + areaNames(o)})}]);
          load();
          afterLoad(function () { focusAfter(document.getElementById('gisapp-ei-order-' + o.id)); });
        } else if (result.status === 409 && st.order) {
          // Someone else changed it: show the fresh state; the next submit names the fresh version.
          formRefs.submit.disabled = false;
          var lines = [{text: text.conflict}].concat(errorLines(result));
          formProblem(lines);
          formRefs.notice.setAttribute('data-kind', 'conflict');
          showNotice('conflict', [{text: text.conflict}]);
          gisapp.fetchJson('/api/evacuation-info/orders/' + st.order.id).then(function (fresh) {
            if (formState !== st) return;
            learn(fresh);
            st.order = fresh;
            st.version = fresh.version;
            refreshFormOrder();
            load();
            if (fresh.status === 'cancelled') formRefs.submit.disabled = true;
          });
        } else {
          formRefs.submit.disabled = false;
          formProblem(errorLines(result));
        }
      }).catch(function (error) {
        console.error(error);
        if (formState === st) {
          formRefs.submit.disabled = false;
          formProblem([{text: gisapp.format(text.failed, {status: '—'})}]);
        }
      });
    }

    /** Run `callback` once the next load has been drawn (focus goes to what the action produced). */
    var afterLoadCallbacks = [];
    function afterLoad(callback) {
      afterLoadCallbacks.push({target: loads + 1, callback: callback});
    }
    function runAfterLoad() {
      afterLoadCallbacks = afterLoadCallbacks.filter(function (w) {
        if (loads < w.target) return true;
        w.callback();
        return false;
      });
    }

    /* ---------------------------------------------------------------- cancel and dismiss: modal dialogs */
    function modal(titleText, lead, what, submitText, onSubmit, from) {
      var dialog = gisapp.el('dialog', 'gisapp-ei-dialog');
      dialog.id = 'gisapp-ei-dialog';
      var h = gisapp.el('h3', null, titleText);
      h.id = 'gisapp-ei-dialog-title';
      dialog.setAttribute('aria-labelledby', h.id);
      dialog.appendChild(h);
      var p = gisapp.el('p', null, lead);
      p.id = 'gisapp-ei-dialog-desc';
      dialog.setAttribute('aria-describedby', p.id);
      dialog.appendChild(p);
      dialog.appendChild(gisapp.el('p', 'gisapp-ei-dialog-what', what));
      var form = gisapp.el('form');
      form.noValidate = true;
      var reason = gisapp.el('textarea');
      reason.id = 'gisapp-ei-dialog-reason';
      reason.rows = 3;
      reason.maxLength = 1000;
      reason.required = true;
      reason.setAttribute('aria-required', 'true');
      form.appendChild(field(text.reason, reason, text.reason_hint));
      var problem = gisapp.el('div', 'gisapp-ei-notice');
      problem.setAttribute('role', 'alert');
      problem.hidden = true;
      form.appendChild(problem);
      var ok = gisapp.el('button', 'gisapp-inc-button gisapp-ei-danger', submitText);
      ok.type = 'submit';
      ok.id = 'gisapp-ei-dialog-submit';
      form.appendChild(ok);
      var no = button(text.cancel_form);
      no.id = 'gisapp-ei-dialog-close';
      no.addEventListener('click', function () { dialog.close(); });
      form.appendChild(no);
      dialog.appendChild(form);
      function fail(lines) {
        problem.textContent = '';
        lines.forEach(function (line) {
          var q = gisapp.el('p', null, line.text);
          if (line.lang) q.lang = line.lang;
          problem.appendChild(q);
        });
        problem.hidden = false;
      }
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        var value = reason.value.trim();
        if (!value) {
          fail([{text: gisapp.format(text.missing, {fields: text.reason})}]);
          reason.focus();
          return;
        }
        ok.disabled = true;
        onSubmit(value, dialog, fail, function () { ok.disabled = false; });
      });
      // Escape closes (the browser's cancel), and focus goes back to the button that opened it.
      dialog.addEventListener('close', function () {
        dialog.remove();
        if (dialog.returnFocus !== false) focusAfter(from);
      });
      document.body.appendChild(dialog);
      dialog.showModal();
      reason.focus();
      return dialog;
    }

    function confirmCancel(o, from) {
      var what = levelText(o) + '（' + hazardText(o) + '）' + areaNames(o) + ' ・ ' +
        gisapp.format(text.version, {v: o.version});
      modal(text.cancel_title, text.cancel_confirm, what, text.cancel_submit, function (reason, dialog, fail, again) {
        send('POST', '/api/evacuation-info/orders/' + o.id + '/cancel', {expected_version: o.version, reason: reason})
          .then(function (result) {
            if (result.ok) {
              dialog.returnFocus = false;
              dialog.close();
              showNotice('ok', [{text: gisapp.format(text.cancelled_ok, {what: what})}]);
              load();
              afterLoad(function () { focusAfter(null, 'gisapp-ei-orders-title'); });
            } else if (result.status === 409) {
              fail([{text: text.conflict}].concat(errorLines(result)));
              showNotice('conflict', [{text: text.conflict}]);
              load();  // the list behind the dialog shows the fresh state; this dialog names the old version
            } else {
              fail(errorLines(result));
              again();
            }
          })
          .catch(function () { again(); fail([{text: gisapp.format(text.failed, {status: '—'})}]); });
      }, from);
    }

    function confirmDismiss(s, from) {
      var what = levelText(s) + '（' + hazardText(s) + '）' + areaNames(s);
      modal(text.dismiss_title, text.dismiss_confirm, what, text.dismiss_submit, function (reason, dialog, fail, again) {
        send('POST', '/api/evacuation-info/suggestions/' + s.id + '/dismiss', {reason: reason})
          .then(function (result) {
            if (result.ok) {
              dialog.returnFocus = false;
              dialog.close();
              showNotice('ok', [{text: text.dismissed_ok}]);
              load();
              afterLoad(function () { focusAfter(null, 'gisapp-ei-suggestions-title'); });
            } else {
              fail(errorLines(result));
              again();
            }
          })
          .catch(function () { again(); fail([{text: gisapp.format(text.failed, {status: '—'})}]); });
      }, from);
    }

    newButton.addEventListener('click', function () { openForm('issue', {}, newButton); });

    load();

    return {
      onEvent: function (type, message) {
        if (type === 'evacuation' && message && message.action && knownSuggestions !== null) {
          announcer.textContent = gisapp.format(text.order_event,
            {what: gisapp.format(text.level_n, {n: message.level}) + (levelInfo[message.level]
              ? ' ' + words(levelInfo[message.level], 'name') : '')});
        }
        load();
      },
      reload: load,
      /** For hq_log.js: where the JMA status line and the HQ log go. */
      jmaLine: jmaLine,
      logSlot: logSlot
    };
  }

  gisapp.hqPanels = gisapp.hqPanels || [];
  gisapp.hqPanels.push({name: 'evacinfo', events: ['evacuation', 'evac_suggestion'], start: start});
})();
