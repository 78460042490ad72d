/* Citizen reports (通報): the public form (/report). (The HQ moderation queue is pages/moderation.js.)
 * Wording and settings come from <script type="application/json" id="report-config">.
 * Every text that a citizen or another user typed is put into the page with textContent, never as HTML.
 */
(function () {
  'use strict';

  // From common.js (loaded first): {key} templates.
  var fill = window.gisapp.format;

  /** The message of an error answer, page language first, both languages when available. */
  function errorMessage(body, lang, fallback) {
    var error = body && body.error;
    if (!error) return fallback;
    var first = lang === 'en' ? error.message_en : error.message_ja;
    var second = lang === 'en' ? error.message_ja : error.message_en;
    return [first, second].filter(Boolean).join(' / ') || fallback;
  }

  // ------------------------------------------------------------------------------- the form
  function startForm(config) {
    var text = config.text;
    var form = document.getElementById('report-form');
    var lon = document.getElementById('report-lon');
    var lat = document.getElementById('report-lat');
    var where = document.getElementById('report-location-text');
    var errorBox = document.getElementById('report-error');
    var progress = document.getElementById('report-progress');
    var submit = document.getElementById('report-submit');
    var mapNode = document.getElementById('report-map');
    var marker = null;

    var map = L.map(mapNode, {keyboard: true}).setView(config.center, 15);
    if (config.tiles) {
      L.tileLayer(config.tiles, {attribution: config.attribution, maxZoom: 18, minZoom: 5}).addTo(map);
    }

    function choose(latlng) {
      lat.value = latlng.lat.toFixed(6);
      lon.value = latlng.lng.toFixed(6);
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.marker(latlng, {title: text.marker, alt: text.marker, keyboard: false}).addTo(map);
      }
      where.textContent = fill(text.selected, {lat: lat.value, lon: lon.value});
      mapNode.removeAttribute('aria-invalid');
    }

    map.on('click', function (event) { choose(event.latlng); });
    mapNode.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && event.target === mapNode) {
        event.preventDefault();
        choose(map.getCenter());
      }
    });

    document.getElementById('report-locate').addEventListener('click', function () {
      if (!navigator.geolocation) {
        where.textContent = text.locate_failed;
        return;
      }
      where.textContent = text.locating;
      navigator.geolocation.getCurrentPosition(function (position) {
        var latlng = L.latLng(position.coords.latitude, position.coords.longitude);
        map.setView(latlng, 17);
        choose(latlng);
      }, function () {
        where.textContent = text.locate_failed;
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });

    function showError(message, field) {
      errorBox.textContent = message;
      errorBox.hidden = false;
      progress.textContent = '';
      if (field) {
        field.setAttribute('aria-invalid', 'true');
        field.focus();
      } else {
        errorBox.focus();
      }
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      var category = document.getElementById('report-category');
      var description = document.getElementById('report-description');
      var photo = document.getElementById('report-photo');
      category.removeAttribute('aria-invalid');
      if (!category.value) return showError(text.no_category, category);
      if (!lon.value || !lat.value) return showError(text.no_location, mapNode);
      if (description.value.length > 2000) return showError(text.too_long, description);
      if (photo.files.length && photo.files[0].size > 10 * 1024 * 1024) {
        return showError(text.photo_too_large, photo);
      }
      submit.disabled = true;
      progress.textContent = text.sending;
      fetch('/api/reports', {method: 'POST', body: new FormData(form), credentials: 'same-origin'})
        .then(function (response) {
          return response.json().catch(function () { return null; }).then(function (body) {
            if (!response.ok) throw new Error(errorMessage(body, config.lang, text.failed));
            return body;
          });
        })
        .then(function (body) {
          var link = document.getElementById('report-status-link');
          var href = body.status_url + (config.lang === 'en' ? '?lang=en' : '');
          link.href = href;
          link.textContent = new URL(href, window.location.href).href;
          form.hidden = true;
          var done = document.getElementById('report-done');
          done.hidden = false;
          done.focus();
        })
        .catch(function (error) {
          showError(error.message || text.failed, null);
        })
        .then(function () { submit.disabled = false; });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var node = document.getElementById('report-config');
    if (!node) return;
    var config = JSON.parse(node.textContent);
    if (document.getElementById('report-form')) startForm(config);
  });
})();
