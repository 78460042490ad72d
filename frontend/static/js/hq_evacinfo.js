/* HQ map: 避難情報 (evacuation information) — the orders in force shaded by level on the map, the open
 * suggestions of the 発令基準 with their reasons and shelters, and for hq_operator/admin the forms to
 * issue (発令), change level, change areas and cancel (解除). A person issues; a suggestion only fills
 * the form. Registered as a panel of hq_map.js (gisapp.hqPanels), which hands it its stream events.
 * The map drawing is hq_evacinfo_map.js, the forms and dialogs hq_evacinfo_forms.js, the HQ log hq_log.js.
 *
 *   GET  /api/me                                     roles: may this user issue?
 *   GET  /api/evacuation-info/areas                  町丁目/自治会 polygons (code, name) to choose from
 *   GET  /api/evacuation-info/levels                 every level's and hazard's words and colours
 *   GET  /api/evacuation-info/orders?status=active   {orders: [Order]} (Order carries describe(level, hazard))
 *   GET  /api/evacuation-info/suggestions?state=open {suggestions: [...]}
 *   POST /api/evacuation-info/orders                 {level, hazard, area_codes, reason, suggestion_id?}
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
  var FRESH_MS = 10 * 60 * 1000;  // how long a new suggestion stays highlighted
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

  function start(config) {
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
    /** An action on one order or suggestion: its own id, a label naming what it acts on, and the
     * button handed to the action (focus returns to it). */
    function actionButton(label, className, id, subject, onClick) {
      var b = button(label, className);
      b.id = id;
      b.setAttribute('aria-label', label + ' ' + levelText(subject) + ' ' + areaNames(subject));
      b.addEventListener('click', function () { onClick(b); });
      return b;
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
    // Outside the foldable body: a folded panel (phones) still announces and shows a new suggestion.
    var announcer = gisapp.el('p', 'gisapp-ei-announce');
    announcer.id = 'gisapp-ei-announce';
    announcer.setAttribute('aria-live', 'polite');
    root.appendChild(announcer);
    var body = gisapp.el('div', 'gisapp-ei-body');
    body.id = 'gisapp-evacinfo-body';
    root.appendChild(body);

    var jmaLine = gisapp.el('p', 'gisapp-ei-jma');  // filled by hq_log.js from /api/jma/status
    jmaLine.id = 'gisapp-jma-status';
    jmaLine.setAttribute('role', 'status');
    jmaLine.hidden = true;
    body.appendChild(jmaLine);


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

    // First in <main>: it sits left of the map, so the Tab order reads left to right as the screen does.
    var main = document.getElementById('gisapp-main');
    main.insertBefore(root, main.firstChild);
    document.body.classList.add('gisapp-has-evacinfo');

    function setOpen(open) {
      body.hidden = !open;
      root.classList.toggle('gisapp-ei-collapsed', !open);
      document.body.classList.toggle('gisapp-evacinfo-folded', !open);
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    }
    toggle.addEventListener('click', function () { setOpen(body.hidden); });
    // Folded, the panel is a strip over the map's top-left corner: the map's controls move below it,
    // however tall an announcement makes it (gisapp-evacinfo-folded in css/hq_evacinfo.css).
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        document.body.style.setProperty('--gisapp-ei-height', root.offsetHeight + 'px');
      }).observe(root);
    }
    // Phones: start folded to one line (the map and the incident panel share the screen).
    setOpen(!(window.matchMedia && window.matchMedia('(max-width: 600px)').matches));

    var notices = gisapp.noticeBox(notice, lang, text.failed);
    var showNotice = notices.show;
    var clearNotice = notices.clear;
    var errorLines = notices.errorLines;

    var drawn = gisapp.hqEvacinfoMap({
      map: map, text: text, root: root, areaByCode: areaByCode, levelInfo: levelInfo,
      levelText: levelText, hazardText: hazardText, areaNames: areaNames
    });

    /* ---------------------------------------------------------------- lists */
    function facts(dl, term, value) {
      dl.appendChild(gisapp.el('dt', null, term));
      dl.appendChild(gisapp.el('dd', null, value === '' || value === null || value === undefined ? '—' : value));
    }

    /* 履歴: every version of an order (GET …/orders/{id}), fetched when the person opens it. */
    var historyOpen = {};  // order id -> true while its history is open (kept across redraws)
    function historyBox(o) {
      var box = gisapp.el('details', 'gisapp-ei-history');
      box.id = 'gisapp-ei-order-' + o.id + '-history';
      var summary = gisapp.el('summary', null, gisapp.format(text.history, {v: o.version}));
      summary.id = box.id + '-summary';  // keeps focus across redraws
      box.appendChild(summary);
      var list = gisapp.el('ol');
      box.appendChild(list);
      function fill() {
        gisapp.fetchJson('/api/evacuation-info/orders/' + o.id).then(function (full) {
          list.textContent = '';
          (full.history || []).forEach(function (h) {
            var line = gisapp.format(text.history_line, {
              at: when(h.at), v: h.version, action: text.actions[h.action] || h.action,
              level: gisapp.format(text.level_n, {n: h.level}), areas: areaNames(h), actor: h.actor});
            var item = gisapp.el('li', null, line);
            item.setAttribute('data-version', String(h.version));
            item.setAttribute('data-action', h.action);
            item.appendChild(gisapp.el('span', 'gisapp-ei-history-reason', text.reason + '：' + h.reason));
            list.appendChild(item);
          });
          box.setAttribute('data-loaded', String(o.version));
        }).catch(function (error) {
          list.textContent = '';
          list.appendChild(gisapp.el('li', null, gisapp.format(text.load_error, {status: error.status || '—'})));
        });
      }
      box.addEventListener('toggle', function () {
        if (box.open) historyOpen[o.id] = true;
        else delete historyOpen[o.id];
        if (box.open) fill();
      });
      if (historyOpen[o.id]) box.open = true;  // fires toggle: filled again with the new version
      return box;
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
        if (o.version > 1) li.appendChild(historyBox(o));
        var actions = gisapp.el('div', 'gisapp-ei-actions');
        var where = button(text.show_on_map);
        where.id = 'gisapp-ei-order-' + o.id + '-map';
        where.setAttribute('aria-label', text.show_on_map + ' ' + levelText(o) + ' ' + areaNames(o));
        where.addEventListener('click', function () { drawn.showOnMap(o); });
        actions.appendChild(where);
        if (canIssue) {
          [['level', text.change_level], ['areas', text.change_areas]].forEach(function (pair) {
            actions.appendChild(actionButton(pair[1], 'gisapp-ei-' + pair[0], 'gisapp-ei-order-' + o.id + '-' + pair[0],
              o, function (b) { forms.openForm(pair[0], {order: o}, b); }));
          });
          actions.appendChild(actionButton(text.cancel, 'gisapp-ei-cancel', 'gisapp-ei-order-' + o.id + '-cancel',
            o, function (b) { forms.confirmCancel(o, b); }));
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
        // Shelters suited to the hazard in or near the areas: folded, the counts in the summary.
        var sh = gisapp.el('details', 'gisapp-ei-shelters');
        var list = s.shelters || [];
        var open = list.filter(function (x) { return x.open; }).length;
        sh.appendChild(gisapp.el('summary', null, gisapp.format(text.shelters_summary, {n: list.length, open: open})));
        var ul = gisapp.el('ul');
        list.forEach(function (x) {
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
        where.id = 'gisapp-ei-suggestion-' + s.id + '-map';
        where.setAttribute('aria-label', text.show_on_map + ' ' + levelText(s) + ' ' + areaNames(s));
        where.addEventListener('click', function () { drawn.showOnMap(s); });
        actions.appendChild(where);
        if (canIssue) {
          actions.appendChild(actionButton(text.issue_from, 'gisapp-inc-primary gisapp-ei-issue-from',
            'gisapp-ei-suggestion-' + s.id + '-issue', s,
            function (b) { forms.openForm('issue', {suggestion: s}, b); }));
          actions.appendChild(actionButton(text.dismiss, 'gisapp-ei-dismiss', 'gisapp-ei-suggestion-' + s.id + '-dismiss',
            s, function (b) { forms.confirmDismiss(s, b); }));
        }
        li.appendChild(actions);
        suggestionList.appendChild(li);
      });
    }

    /* ---------------------------------------------------------------- loading */
    var loads = 0;
    var fresh = {};  // suggestion id -> when it arrived (highlighted on the map and in the list)
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

    // Every level's and hazard's words for the issue form, whether or not an order has used them yet.
    var loadLevels = gisapp.fetchJson('/api/evacuation-info/levels').then(function (doc) {
      (doc.levels || []).forEach(learn);
      (doc.hazards || []).forEach(learn);
    }).catch(function (error) {
      console.warn('evacuation levels', error);
    });

    var loadMe = gisapp.fetchJsonOnce('/api/me').then(function (me) {
      var roles = me.roles || [];
      canIssue = roles.indexOf('hq_operator') >= 0 || roles.indexOf('admin') >= 0;
    }).catch(function () { canIssue = false; });

    var load = gisapp.oneAtATime(function () {
      return Promise.all([
        gisapp.fetchJson('/api/evacuation-info/orders?status=active'),
        gisapp.fetchJson('/api/evacuation-info/suggestions?state=open'),
        loadAreas, loadMe, loadLevels
      ]).then(function (parts) {
        orders = (parts[0].orders || []).filter(function (o) { return o.status !== 'cancelled'; })
          .sort(function (a, b) { return b.level - a.level || String(b.updated_at).localeCompare(String(a.updated_at)); });
        suggestions = (parts[1].suggestions || []).filter(function (s) { return s.state === 'open'; });
        orders.forEach(learn);
        suggestions.forEach(learn);
        var freshOnes = [];
        if (knownSuggestions !== null) {
          suggestions.forEach(function (s) {
            if (!knownSuggestions[s.id]) {
              fresh[s.id] = Date.now();
              freshOnes.push(s);
            }
          });
        }
        Object.keys(fresh).forEach(function (id) {  // highlighted for a while, not only until the next load
          if (Date.now() - fresh[id] > FRESH_MS) delete fresh[id];
        });
        knownSuggestions = {};
        suggestions.forEach(function (s) { knownSuggestions[s.id] = true; });
        loads += 1;
        toggle.textContent = gisapp.format(text.panel_count, {n: orders.length});
        readOnly.hidden = canIssue;
        newButton.hidden = !canIssue;
        // The lists are redrawn: whoever had focus in them keeps it (every control has a stable id).
        var focused = document.activeElement;
        var inOrders = !!focused && orderList.contains(focused);
        var focusedId = focused && focused.id && (inOrders || suggestionList.contains(focused)) ? focused.id : null;
        renderOrders();
        renderSuggestions();
        if (focusedId) {
          var again = document.getElementById(focusedId);
          if (again) again.focus({preventScroll: true});
          else focusAfter(null, inOrders ? 'gisapp-ei-orders-title' : 'gisapp-ei-suggestions-title');
        }
        drawn.draw(orders, suggestions, fresh);
        setState();
        if (freshOnes.length) {
          announcer.textContent = freshOnes.map(function (s) {
            return gisapp.format(text.new_suggestion, {what: levelText(s) + '（' + hazardText(s) + '）',
                                                       areas: areaNames(s)});
          }).join(' ');
        }
        Object.keys(fresh).forEach(function (id) {
          var li = suggestionList.querySelector('[data-suggestion-id="' + id + '"]');
          if (li) li.classList.add('gisapp-ei-fresh');
        });
        forms.refresh();
      }).catch(function (error) {
        root.setAttribute('data-state', 'error');
        showNotice('error', [{text: gisapp.format(text.load_error, {status: error.status || '—'})}]);
        throw error;
      });
    });

    /** After an action: back where the person was, or to a heading that still exists. */
    function focusAfter(el, fallbackId) {
      // The lists are redrawn on every load: an element of an older drawing is found again by its id.
      if (el && !document.body.contains(el) && el.id) el = document.getElementById(el.id);
      if (el && document.body.contains(el) && !el.hidden) el.focus();
      else {
        var h = document.getElementById(fallbackId || 'gisapp-ei-orders-title');
        if (h) h.focus();
      }
    }
    /** Run `callback(last)` after the next load has been drawn (focus goes to what an action produced).
     * A load already under way may not show the change yet: a callback that finds nothing to act on
     * returns false and waits for the next load, up to three, the last with `last` true. */
    var afterLoadCallbacks = [];
    function afterLoad(callback) {
      afterLoadCallbacks.push({from: loads, callback: callback});
    }
    function runAfterLoad() {
      afterLoadCallbacks = afterLoadCallbacks.filter(function (w) {
        if (loads <= w.from) return true;
        var last = loads - w.from >= 3;
        return !w.callback(last) && !last;
      });
    }

    var forms = gisapp.hqEvacinfoForms({
      text: text, lang: lang, map: map, formBox: formBox,
      areas: function () { return areas; }, orders: function () { return orders; },
      levelInfo: levelInfo, hazardInfo: hazardInfo, areaByCode: areaByCode,
      levelText: levelText, hazardText: hazardText, areaNames: areaNames, words: words, chip: chip, learn: learn,
      send: send, button: button, showNotice: showNotice, clearNotice: clearNotice, errorLines: errorLines,
      load: load, afterLoad: afterLoad, focusAfter: focusAfter
    });
    newButton.addEventListener('click', function () { forms.openForm('issue', {}, newButton); });

    // No load here: hq_map.js calls reload() once its stream is open (stream first, then snapshot).

    return {
      onEvent: function (type, message) {
        if (type === 'evacuation' && message && message.action && knownSuggestions !== null) {
          announcer.textContent = gisapp.format(text.order_event,
            {what: levelText({level: message.level}), action: text.actions[message.action] || message.action});
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
