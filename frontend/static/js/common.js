/* Shared helpers for the map pages (frontend/pages.py). Plain DOM, no libraries but Leaflet.
 *
 * Loading order: this file and the page module (citizen_map.js / hq_map.js) are plain <script> tags in
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
    watchBasemap(config.map, config.basemap, config.offline);
    gisapp.pages[page](config);
  };

  /** GET a JSON document with the session cookie; rejects with an Error carrying .status. */
  gisapp.fetchJson = function (url) {
    return fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (!response.ok) {
          var error = new Error('HTTP ' + response.status + ' for ' + url);
          error.status = response.status;
          throw error;
        }
        return response.json();
      });
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

  /** A CSS class name fragment from data (slugs, ids): anything unusual becomes "_". */
  gisapp.classSafe = function (text) {
    return String(text).replace(/[^A-Za-z0-9_-]/g, '_');
  };

  /* Offline basemap. With no internet the GSI tiles fail: drop the tile layer so no broken tiles show,
   * give the map a neutral background and show the notice. A lone failed tile is not an outage (GSI
   * answers 404 outside its coverage), so give up only when no tile has loaded yet, several fail in a
   * row, or the browser says it is offline. */
  var FAILURES_IN_A_ROW = 6;

  function watchBasemap(map, basemap, offline) {
    if (offline || !basemap) {
      showBasemapOffline(map, basemap);
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
        showBasemapOffline(map, basemap);
      }
    });
  }

  function showBasemapOffline(map, basemap) {
    if (basemap && map.hasLayer(basemap)) map.removeLayer(basemap);
    document.body.classList.add('gisapp-basemap-offline');
    var notice = document.getElementById('gisapp-basemap-notice');
    if (notice) notice.hidden = false;
  }
  gisapp.showBasemapOffline = showBasemapOffline;
})();
