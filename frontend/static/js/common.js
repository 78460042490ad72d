/* Shared helpers for the map pages (frontend/pages.py). Plain DOM, no libraries but Leaflet.
 *
 * Loading order: this file and the page module (citizen_map.js / gis_map.js / replay_map.js) are plain <script> tags in
 * <head> and only define functions. folium's inline script at the end of <body> creates the map and
 * then calls gisapp.start(page, config) with config.map / config.basemap set to the Leaflet objects.
 */
(function () {
  'use strict';

  var gisapp = window.gisapp = window.gisapp || {};
  gisapp.pages = gisapp.pages || {};

  /** Entry point called by the page: keeps the config for tests and debugging, runs the page module. */
  gisapp.start = function (page, config) {
    gisapp.config = config;
    watchBasemap(config.map, config.basemap, config.offline, config.text);
    gisapp.pages[page](config);
  };

  /** GET a JSON document with the session cookie; rejects with an Error carrying .status. A server
   * that is shedding load (503/429 with Retry-After) is asked again after the time it names, plus a
   * random spread so that the phones told "busy" together do not return together (up to BUSY_TRIES). */
  var BUSY_TRIES = 4;
  gisapp.fetchJson = function (url, tries) {
    tries = tries || 0;
    return fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) {
        var after = parseInt(response.headers.get('Retry-After') || '', 10);
        if ((response.status === 503 || response.status === 429) && after >= 0 && tries + 1 < BUSY_TRIES) {
          return new Promise(function (resolve) {
            setTimeout(resolve, Math.min(after, 30) * 1000 + Math.random() * 1000);
          }).then(function () { return gisapp.fetchJson(url, tries + 1); });
        }
        if (!response.ok) {
          var error = new Error('HTTP ' + response.status + ' for ' + url);
          error.status = response.status;
          throw error;
        }
        return response.json();
      });
  };

  /** Wrap a loader (a function returning a promise) so that one run goes at a time; a call made
   * meanwhile runs it once more afterwards (the newest state is always fetched, never twice at once). */
  gisapp.oneAtATime = function (loader) {
    var running = false;
    var again = false;
    function run() {
      if (running) {
        again = true;
        return;
      }
      running = true;
      loader()
        .catch(function (error) { console.error(error); })
        .then(function () {
          running = false;
          if (again) {
            again = false;
            run();
          }
        });
    }
    return run;
  };

  /** fetchJson shared by everyone on the page: the citizen map and the offline basemap both want the
   * public layer list and the road ledger, and should download them once. Failures are not kept. */
  var onceCache = {};
  gisapp.fetchJsonOnce = function (url) {
    if (!onceCache[url]) {
      onceCache[url] = gisapp.fetchJson(url).catch(function (error) {
        delete onceCache[url];
        throw error;
      });
    }
    return onceCache[url];
  };

  /** Create an element; text goes in through textContent, never as HTML. */
  gisapp.el = function (tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };

  /** Escape text for the few Leaflet APIs that only take an HTML string (layer control names). */
  gisapp.escapeHtml = function (text) {
    var span = document.createElement('span');
    span.textContent = String(text);
    return span.innerHTML;
  };

  /** Fill "{name}" placeholders of a label. */
  gisapp.format = function (template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  };

  /** A panel's notice line: show(kind, lines) with lines [{text, lang?}], clear(), and errorLines(result):
   * a refused request's own Japanese and English message, the page's language first (or "failed" with
   * the status when the answer carries none). Used by the HQ map's panels. */
  gisapp.noticeBox = function (notice, lang, failedTemplate) {
    return {
      show: function (kind, lines) {
        notice.textContent = '';
        notice.setAttribute('data-kind', kind);
        lines.forEach(function (line) {
          var p = gisapp.el('p', null, line.text);
          if (line.lang) p.lang = line.lang;
          notice.appendChild(p);
        });
        notice.hidden = false;
      },
      clear: function () {
        notice.hidden = true;
        notice.textContent = '';
        notice.removeAttribute('data-kind');
      },
      errorLines: function (result) {
        var error = (result.data && result.data.error) || {};
        var lines = [];
        if (error.message_ja) lines.push({lang: 'ja', text: error.message_ja});
        if (error.message_en) lines.push({lang: 'en', text: error.message_en});
        if (lang === 'en') lines.reverse();
        if (!lines.length) lines.push({text: gisapp.format(failedTemplate, {status: result.status})});
        return lines;
      }
    };
  };

  /** A CSS class name fragment from data (slugs, ids): anything unusual becomes "_". */
  gisapp.classSafe = function (text) {
    return String(text).replace(/[^A-Za-z0-9_-]/g, '_');
  };

  /* Offline basemap. With no internet the GSI tiles fail: drop the tile layer so no broken tiles show,
   * give the map a neutral background, show the notice and draw a light basemap from our own public
   * layers instead. A lone failed tile is not an outage (GSI answers 404 outside its coverage), so give
   * up only when no tile has loaded yet, several fail in a row, or the browser says it is offline. */
  var FAILURES_IN_A_ROW = 6;

  function watchBasemap(map, basemap, offline, text) {
    if (offline || !basemap) {
      showBasemapOffline(map, basemap, text);
      return;
    }
    var loaded = 0;
    var failedInARow = 0;
    basemap.on('tileload', function () {
      loaded += 1;
      failedInARow = 0;
    });
    basemap.on('tileerror', function () {
      failedInARow += 1;
      if (loaded === 0 || failedInARow >= FAILURES_IN_A_ROW || navigator.onLine === false) {
        showBasemapOffline(map, basemap, text);
      }
    });
  }

  function showBasemapOffline(map, basemap, text) {
    if (basemap && map.hasLayer(basemap)) map.removeLayer(basemap);
    document.body.classList.add('gisapp-basemap-offline');
    var notice = document.getElementById('gisapp-basemap-notice');
    if (notice) notice.hidden = false;
    drawOwnBasemap(map, text || (gisapp.config && gisapp.config.text) || {});
  }
  gisapp.showBasemapOffline = showBasemapOffline;

  /* The own basemap: every public road_segment layer (the road ledger) as thin grey lines, and a public
   * generic polygon layer (the municipal boundary) as an outline, in a pane of their own between the
   * tile pane (200) and the thematic overlays (400). Not interactive and not in any layer list: it is
   * background, not a theme. Public layers only, so every page draws the same picture. Road grey
   * #7a7f85 keeps 3.4:1 on the offline background #e9ecef (WCAG 1.4.11) yet stays quieter than the
   * thematic colours.
   * body[data-own-basemap] = loading | drawn | none | error, for tests and debugging. */
  var OWN_PANE = 'gisapp-basemap-own';
  var OWN_STYLE = {
    road: {color: '#7a7f85', weight: 1.5, opacity: 1, fill: false},
    boundary: {color: '#5f6368', weight: 2, opacity: 1, dashArray: '6 4', fill: false}
  };
  var ownBasemapStarted = false;

  function ownBasemapRole(layer) {
    var geometry = String(layer.geometry_type || '').toLowerCase();
    if (layer.kind === 'road_segment') return 'road';
    if (layer.kind === 'generic' && geometry.indexOf('polygon') !== -1) return 'boundary';
    return null;
  }

  function drawOwnBasemap(map, text) {
    if (ownBasemapStarted) return;
    ownBasemapStarted = true;
    document.body.setAttribute('data-own-basemap', 'loading');
    map.createPane(OWN_PANE).style.zIndex = 250;
    var renderer = L.svg({pane: OWN_PANE});
    gisapp.fetchJsonOnce('/api/public/layers')
      .then(function (layers) {
        var picked = layers.filter(ownBasemapRole);
        var groups = picked.map(function (layer) {
          var role = ownBasemapRole(layer);
          var group = L.geoJSON(null, L.extend({
            pane: OWN_PANE,
            renderer: renderer,
            interactive: false,
            className: 'gisapp-basemap-own gisapp-basemap-' + role
          }, OWN_STYLE[role], {
            style: function () {
              return L.extend({className: 'gisapp-basemap-own gisapp-basemap-' + role}, OWN_STYLE[role]);
            },
            pointToLayer: function () { return null; }
          })).addTo(map);
          return gisapp.fetchJsonOnce('/api/public/layers/' + encodeURIComponent(layer.slug) + '/features')
            .then(function (collection) {
              group.addData(collection);
              return true;
            });
        });
        return Promise.all(groups).then(function () {
          if (picked.length && text.own_basemap && map.attributionControl) {
            map.attributionControl.addAttribution(gisapp.escapeHtml(text.own_basemap));
          }
          document.body.setAttribute('data-own-basemap', picked.length ? 'drawn' : 'none');
        });
      })
      .catch(function (error) {
        console.error(error);
        document.body.setAttribute('data-own-basemap', 'error');
      });
  }
})();
