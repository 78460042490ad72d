/* Evacuation information (避難情報) on the citizen map: a banner above the map and the order areas shaded
 * by level, with a legend.
 *
 * GET /api/public/evacuation-info?geometry=true[&v=N] -> {version, orders: [...], cancelled: [...]}: each
 * order with level, level_label_ja/en, name_ja/en, hazard_ja/en, colour, text_colour, action_ja/en,
 * area_names, issued_at, updated_at, cancelled_at, geometry (GeoJSON MultiPolygon).
 * GET /api/public/evacuation-info/stream (Server-Sent Events): "event: version" {"version": N} at once
 * and at each change; then the JSON is fetched again with ?v=N (a new URL for every cache on the way).
 * When the stream fails (or the server has too many), the page polls every POLL_MS instead.
 *
 * Never colour alone: every order shows its 警戒レベル number and words; the areas are also told apart
 * by their outline (dashes per level) and named in the banner. With the resident's position (the
 * "現在地" button; it never leaves the phone) the banner says whether that place is inside an area.
 *
 * Browser tests can wait for: #gisapp-evac-banner[data-state="none"|"active"|"error"][data-version],
 * .gisapp-evac-order[data-order-id][data-level][data-status], path.gisapp-evac-area-{level},
 * #gisapp-evac-here[data-inside].
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  var POLL_MS = 30000;
  var URL = '/api/public/evacuation-info';
  var STREAM = '/api/public/evacuation-info/stream';
  var DASH = {3: '8 6', 4: null, 5: '2 4'};  // the outline tells the level apart without colour
  var WEIGHT = {3: 2, 4: 3, 5: 4};

  var WORDS = {
    ja: {
      title: '避難情報',
      none: '現在、発令中の避難情報はありません。',
      lifted: '解除',
      lifted_at: '{time} 解除',
      issued_at: '{time} 発令',
      updated_at: '（{time} 更新）',
      areas: '対象地域：',
      here_inside: 'あなたの現在地は対象地域の中です（{label} {name}）。',
      here_outside: 'あなたの現在地は発令中の対象地域の外です。周りの状況にも注意してください。',
      here_hint: '「現在地」ボタンで、あなたの場所が対象地域か確かめられます。',
      error: '避難情報を読み込めませんでした。テレビ・ラジオ・防災無線でも確認してください。',
      announce_new: '新しい避難情報：',
      announce_lifted: '避難情報の解除：',
      legend: '避難情報：'
    },
    en: {
      title: 'Evacuation information',
      none: 'No evacuation information is in force.',
      lifted: 'Lifted',
      lifted_at: 'lifted {time}',
      issued_at: 'issued {time}',
      updated_at: ' (updated {time})',
      areas: 'Areas: ',
      here_inside: 'Your location is inside an area ({label} {name}).',
      here_outside: 'Your location is outside the areas in force. Keep watching your surroundings.',
      here_hint: 'Use the "My location" button to check whether your place is in an area.',
      error: 'Could not load the evacuation information. Check TV, radio and the city\'s loudspeakers too.',
      announce_new: 'New evacuation information: ',
      announce_lifted: 'Evacuation information lifted: ',
      legend: 'Evacuation: '
    }
  };

  gisapp.citizenEvacuation = function (map, legend, lang) {
    var en = lang === 'en';
    var words = WORDS[en ? 'en' : 'ja'];
    var banner = document.getElementById('gisapp-evac-banner');
    if (!banner) return;
    var list = document.getElementById('gisapp-evac-list');
    var here = document.getElementById('gisapp-evac-here');
    var announce = document.getElementById('gisapp-evac-announce');
    var areas = L.layerGroup().addTo(map);
    var legendDone = false;
    var state = {version: null, orders: [], known: null, position: null};

    function t(order, base) { return en ? order[base + '_en'] : order[base + '_ja']; }
    function when(iso) {
      return new Date(iso).toLocaleString(en ? 'en-GB' : 'ja-JP',
        {month: en ? 'short' : 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit'});
    }
    function paren(words) { return en ? '(' + words + ')' : '（' + words + '）'; }
    function areaNames(order) { return order.area_names.join(en ? ', ' : '、'); }

    function orderItem(order, lifted) {
      var item = gisapp.el('li', 'gisapp-evac-order' + (lifted ? ' gisapp-evac-lifted' : ''));
      item.setAttribute('data-order-id', String(order.id));
      item.setAttribute('data-level', String(order.level));
      item.setAttribute('data-status', order.status);
      var head = gisapp.el('p', 'gisapp-evac-head');
      var badge = gisapp.el('span', 'gisapp-evac-badge', lifted ? words.lifted : t(order, 'level_label'));
      if (!lifted) {
        badge.style.backgroundColor = order.colour;
        badge.style.color = order.text_colour;
      }
      head.appendChild(badge);
      head.appendChild(gisapp.el('strong', 'gisapp-evac-name',
        (lifted ? t(order, 'level_label') + ' ' : '') + t(order, 'name')));
      head.appendChild(gisapp.el('span', 'gisapp-evac-hazard', paren(t(order, 'hazard'))));
      item.appendChild(head);
      item.appendChild(gisapp.el('p', 'gisapp-evac-areas', words.areas + areaNames(order)));
      if (!lifted) item.appendChild(gisapp.el('p', 'gisapp-evac-action', t(order, 'action')));
      var time = lifted ? gisapp.format(words.lifted_at, {time: when(order.cancelled_at)})
        : gisapp.format(words.issued_at, {time: when(order.issued_at)}) +
          (order.version > 1 ? gisapp.format(words.updated_at, {time: when(order.updated_at)}) : '');
      var stamp = gisapp.el('p', 'gisapp-evac-time');
      stamp.appendChild(gisapp.el('time', null, time)).setAttribute('datetime',
        lifted ? order.cancelled_at : order.issued_at);
      item.appendChild(stamp);
      return item;
    }

    function drawAreas(orders, levels) {
      areas.clearLayers();
      // Lowest level first, so the highest is drawn on top.
      orders.slice().sort(function (a, b) { return a.level - b.level; }).forEach(function (order) {
        if (!order.geometry) return;
        var label = t(order, 'level_label') + ' ' + t(order, 'name') + ' ' + paren(t(order, 'hazard'));
        L.geoJSON(order.geometry, {
          interactive: true,
          style: {
            className: 'gisapp-evac-area gisapp-evac-area-' + order.level,
            color: order.level === 5 ? '#000000' : order.colour,
            weight: WEIGHT[order.level] || 3,
            dashArray: DASH[order.level],
            fillColor: order.colour,
            fillOpacity: 0.3
          }
        }).bindTooltip(gisapp.el('span', null, label + ' ・ ' + areaNames(order)), {sticky: true})
          .addTo(areas);
      });
      if (!legendDone && orders.length && levels) {
        // Every level once, so the legend does not change shape as orders come and go.
        legendDone = true;
        levels.forEach(function (lv) {
          legend.addItem(words.legend + t(lv, 'level_label') + ' ' + t(lv, 'name'), lv.colour, 'polygon')
            .classList.add('gisapp-evac-legend-' + lv.level);
        });
      }
    }

    /* Ray casting over the GeoJSON rings (holes included): true when [lon, lat] is inside. */
    function inRing(ring, x, y) {
      var inside = false;
      for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
        if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
      }
      return inside;
    }
    function contains(geometry, x, y) {
      var polygons = geometry.type === 'MultiPolygon' ? geometry.coordinates : [geometry.coordinates];
      return polygons.some(function (rings) {
        return inRing(rings[0], x, y) && !rings.slice(1).some(function (hole) { return inRing(hole, x, y); });
      });
    }

    function sayHere() {
      here.textContent = '';
      here.removeAttribute('data-inside');
      if (!state.orders.length) return;
      if (!state.position) {
        here.textContent = words.here_hint;
        return;
      }
      var x = state.position.lng, y = state.position.lat;
      var top = state.orders.filter(function (o) { return o.geometry && contains(o.geometry, x, y); })[0];
      here.setAttribute('data-inside', top ? 'true' : 'false');
      here.textContent = top
        ? gisapp.format(words.here_inside, {label: t(top, 'level_label'), name: t(top, 'name')})
        : words.here_outside;
    }

    function render(body) {
      var orders = body.orders || [];
      var lifted = body.cancelled || [];
      list.textContent = '';
      if (!orders.length) list.appendChild(gisapp.el('li', 'gisapp-evac-none', words.none));
      orders.forEach(function (o) { list.appendChild(orderItem(o, false)); });
      lifted.forEach(function (o) { list.appendChild(orderItem(o, true)); });
      banner.setAttribute('data-state', orders.length ? 'active' : 'none');
      banner.setAttribute('data-version', String(body.version));
      if (orders.length) {
        var top = orders[0];
        banner.style.borderColor = top.colour;
        banner.setAttribute('data-level', String(top.level));
      } else {
        banner.style.borderColor = '';
        banner.removeAttribute('data-level');
      }
      // Tell a screen reader what changed since the last answer (not on the first load of the page,
      // whose content the reader finds in the banner itself).
      var seen = {};
      orders.forEach(function (o) { seen[o.id] = o.version; });
      if (state.known) {
        var news = orders.filter(function (o) { return state.known[o.id] !== o.version; });
        var gone = lifted.filter(function (o) { return state.known[o.id] !== undefined; });
        var message = '';
        if (news.length) {
          message += words.announce_new + news.map(function (o) {
            return t(o, 'level_label') + ' ' + t(o, 'name') + ' ' + areaNames(o);
          }).join(' / ');
        }
        if (gone.length) {
          message += (message ? ' ' : '') + words.announce_lifted + gone.map(function (o) {
            return t(o, 'name') + ' ' + areaNames(o);
          }).join(' / ');
        }
        if (message) announce.textContent = message;
      }
      state.known = seen;
      state.orders = orders;
      drawAreas(orders, body.levels);
      sayHere();
    }

    var load = gisapp.oneAtATime(function () {
      var url = URL + '?geometry=true' + (state.version !== null ? '&v=' + state.version : '');
      return gisapp.fetchJson(url).then(render).catch(function (error) {
        banner.setAttribute('data-state', 'error');
        list.textContent = '';
        list.appendChild(gisapp.el('li', 'gisapp-evac-error', words.error));
        throw error;
      });
    });

    var streaming = false;
    function listen() {
      if (!window.EventSource) return;
      var source = new EventSource(STREAM);
      source.addEventListener('open', function () { streaming = true; });
      source.addEventListener('version', function (event) {
        var version = JSON.parse(event.data).version;
        if (version === null) return;  // the server is not listening right now: the poll covers it
        if (version !== state.version) {
          state.version = version;
          load();
        }
      });
      source.addEventListener('error', function () {
        streaming = false;  // the browser reconnects by itself unless the server refused (then closed)
      });
    }

    map.on('gisapp-located', function (event) {
      state.position = event.latlng;
      sayHere();
    });
    load();
    listen();
    setInterval(function () {
      if (!streaming && document.visibilityState === 'visible') load();
    }, POLL_MS);
  };
})();
