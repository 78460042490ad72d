/* Citizen reports (通報): the HQ moderation queue (/hq/reports). The public form is pages/report.js.
 * Wording and settings come from <script type="application/json" id="report-config">.
 * Every text that a citizen or another user typed is put into the page with textContent, never as HTML.
 */
(function () {
  'use strict';

  // From common.js (loaded first): textContent-only element builder and {key} templates.
  var el = window.gisapp.el;
  var fill = window.gisapp.format;

  /** The message of an error answer, page language first, both languages when available. */
  function errorMessage(body, lang, fallback) {
    var error = body && body.error;
    if (!error) return fallback;
    var first = lang === 'en' ? error.message_en : error.message_ja;
    var second = lang === 'en' ? error.message_ja : error.message_en;
    return [first, second].filter(Boolean).join(' / ') || fallback;
  }

  // -------------------------------------------------------------------------- moderation
  function startModeration(config) {
    var text = config.text;
    var list = document.getElementById('report-queue');
    var status = document.getElementById('report-queue-status');
    var result = document.getElementById('report-queue-result');
    var disaster = document.getElementById('report-disaster');
    var time = new Intl.DateTimeFormat(text.locale, {dateStyle: 'short', timeStyle: 'short'});

    function request(method, url, body) {
      return fetch(url, {
        method: method,
        credentials: 'same-origin',
        headers: body ? {'Content-Type': 'application/json', Accept: 'application/json'} : {Accept: 'application/json'},
        body: body ? JSON.stringify(body) : undefined
      }).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (data) {
          if (!response.ok) {
            var error = new Error(errorMessage(data, config.lang, 'HTTP ' + response.status));
            error.status = response.status;
            throw error;
          }
          return data;
        });
      });
    }

    function loadDisasters() {
      return request('GET', '/api/disasters').then(function (items) {
        var open = items.filter(function (d) { return !d.closed_at; });
        disaster.textContent = '';
        if (!open.length) disaster.appendChild(el('option', null, text.no_disaster)).value = '';
        open.forEach(function (d) {
          var option = el('option', null, d.name);
          option.value = String(d.id);
          disaster.appendChild(option);
        });
      });
    }

    function act(report, action, body, doneText) {
      request('POST', '/api/reports/' + report.id + '/' + action, body)
        .then(function (answer) {
          result.textContent = fill(doneText, {id: report.id, incident: answer.report.incident_id});
        })
        .catch(function (error) {
          result.textContent = fill(text.action_failed, {message: error.message});
        })
        .then(load);
    }

    function button(label, onClick) {
      var b = el('button', 'report-button-small', label);
      b.type = 'button';
      b.addEventListener('click', onClick);
      return b;
    }

    function renderReport(report) {
      var item = el('li', 'report-card');
      item.dataset.reportId = String(report.id);
      var heading = el('h2', null, fill(text.report, {id: report.id}) + ' ' +
        (config.lang === 'en' ? report.category_en : report.category_ja));
      item.appendChild(heading);
      item.appendChild(el('p', 'report-help', fill(text.received, {time: time.format(new Date(report.created_at))})));
      item.appendChild(el('p', 'report-help', fill(text.at, {lat: report.lat.toFixed(5), lon: report.lon.toFixed(5)})));
      item.appendChild(el('p', 'report-description', report.description || text.no_description));
      if (report.photo_url) {
        var img = el('img', 'report-thumb');
        img.src = report.photo_url;
        img.alt = fill(text.photo_alt, {id: report.id});
        img.loading = 'lazy';
        var link = el('a');
        link.href = report.photo_url;
        link.appendChild(img);
        item.appendChild(link);
      }
      var hints = report.suggestions || {incidents: [], reports: []};
      var section = el('div', 'report-suggestions');
      if (!hints.incidents.length && !hints.reports.length) {
        section.appendChild(el('p', 'report-help', text.no_suggestions));
      }
      if (hints.incidents.length) {
        section.appendChild(el('h3', null, text.suggest_incidents));
        var ul = el('ul');
        hints.incidents.forEach(function (inc) {
          var li = el('li', null, fill(text.incident_line, {
            id: inc.id, title: inc.title, status: config.lang === 'en' ? inc.status_en : inc.status_ja,
            m: Math.round(inc.distance_m), min: Math.round(inc.minutes_apart)
          }) + ' ');
          li.appendChild(button(text.merge, function () {
            act(report, 'merge', {incident_id: inc.id}, text.done_merge);
          }));
          ul.appendChild(li);
        });
        section.appendChild(ul);
      }
      if (hints.reports.length) {
        section.appendChild(el('h3', null, text.suggest_reports));
        var ol = el('ul');
        hints.reports.forEach(function (other) {
          ol.appendChild(el('li', null, fill(text.report_line, {
            id: other.id, m: Math.round(other.distance_m), min: Math.round(other.minutes_apart)
          })));
        });
        section.appendChild(ol);
      }
      item.appendChild(section);
      var actions = el('p', 'report-actions');
      actions.appendChild(button(text.accept, function () {
        var body = disaster.value ? {disaster_id: Number(disaster.value)} : {};
        act(report, 'accept', body, text.done_accept);
      }));
      actions.appendChild(document.createTextNode(' '));
      actions.appendChild(button(text.reject, function () {
        act(report, 'reject', {}, text.done_reject);
      }));
      item.appendChild(actions);
      return item;
    }

    function load() {
      return request('GET', '/api/reports?state=pending').then(function (items) {
        list.textContent = '';
        items.forEach(function (report) { list.appendChild(renderReport(report)); });
        status.textContent = items.length ? fill(text.pending_count, {n: items.length}) : text.none;
        status.dataset.state = 'ready';
      }).catch(function (error) {
        status.textContent = fill(text.load_failed, {status: error.status || error.message});
        status.dataset.state = 'error';
      });
    }

    window.gisappReports = {reload: load};
    loadDisasters().catch(function () {}).then(load);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var node = document.getElementById('report-config');
    if (!node) return;
    var config = JSON.parse(node.textContent);
    if (document.getElementById('report-queue')) startModeration(config);
  });
})();
