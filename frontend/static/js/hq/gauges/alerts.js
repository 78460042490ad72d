/* Gauge alerts (雨量計・水位計の警報) with acknowledgement (確認), newest first, and a list of every
 * gauge's chart (the keyboard way to them besides the markers).
 *   GET  /api/gauges/alerts?unacknowledged=&limit=   the log with 警戒レベル相当 and the unacknowledged count
 *   POST /api/gauges/alerts/{id}/acknowledge         hq_operator, admin; 409: someone was first
 * Tests: #gisapp-gauge-alerts[data-state="ready"][data-count][data-unacknowledged],
 *   .gisapp-gauge-alert[data-alert-id][data-acknowledged="true|false"]. */

import {getJSON, getJSONOnce} from '../../lib/api.js';
import {format, oneAtATime} from '../../lib/dom.js';
import {isOperator, make, sendResult, when} from '../util.js';
import {chartDialog} from './chart.js';
import {digitsOf, gaugeNumber, unitOf} from './numbers.js';

const LIMIT = 100;
const WHEN = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

export function startGaugeAlerts({text, locale, container}) {
  let canAck = false;
  let unacknowledgedOnly = false;
  let newestSeen = null;   // the newest alert id shown so far (announcing only what is new)
  let focusAfter = null;   // where the focus goes after the next redraw (the alert just acknowledged)
  const names = {};
  const openChart = chartDialog(text, locale);
  const measureName = (m) => text.measures[m] || m;
  const at = (value) => when(value, locale, WHEN);

  const root = make('details', 'gisapp-gauge-alerts');
  root.id = 'gisapp-gauge-alerts';
  root.open = true;
  root.dataset.state = 'loading';
  const summary = make('summary', null, format(text.summary, {n: 0}));
  summary.id = 'gisapp-gauge-alerts-summary';
  const filterWrap = make('div', 'gisapp-gauge-filter');
  const filter = make('input');
  filter.type = 'checkbox';
  filter.id = 'gisapp-gauge-unacknowledged';
  const filterLabel = make('label', null, text.unacknowledged_only);
  filterLabel.htmlFor = filter.id;
  filterWrap.append(filter, filterLabel);
  const announce = make('p', 'gisapp-gauge-announce');
  announce.id = 'gisapp-gauge-announce';
  announce.setAttribute('role', 'status');
  const list = make('ol', 'gisapp-gauge-alert-list');
  list.id = 'gisapp-gauge-alert-list';
  list.setAttribute('aria-labelledby', summary.id);
  const chartsBox = make('details', 'gisapp-gauge-charts');
  chartsBox.append(make('summary', null, text.gauges));
  const chartsList = make('ul');
  chartsList.id = 'gisapp-gauge-chart-list';
  chartsBox.append(chartsList);
  root.append(summary, filterWrap, announce, list, chartsBox);
  container.append(root);

  filter.addEventListener('change', () => {
    unacknowledgedOnly = filter.checked;
    loadAlerts();
  });

  const levelText = (a) => (a.alert_level ? format(text.alert_level, {n: a.alert_level}) : '');

  function renderAlert(a) {
    const li = make('li', 'gisapp-gauge-alert');
    li.dataset.alertId = String(a.id);
    li.dataset.acknowledged = a.acknowledged_at ? 'true' : 'false';
    li.dataset.deviceId = a.device_id;
    if (a.alert_level) li.dataset.alertLevel = String(a.alert_level);
    const value = `${gaugeNumber(a.value, digitsOf(a.measure))} ${unitOf(a.measure)}`;
    const head = make('p', 'gisapp-gauge-alert-line');
    const time = make('time', null, at(a.at));
    time.dateTime = a.at;
    head.append(time, ` ${format(text.alert_line, {device: a.device_name, measure: measureName(a.measure),
      from: a.level_from || text.below, to: a.level_to || text.below, value})}`);
    li.append(head);
    if (a.alert_level) li.append(make('span', `gisapp-gauge-level gisapp-gauge-level-${a.alert_level}`, levelText(a)));
    li.append(make('span', 'gisapp-gauge-ack-state', a.acknowledged_at
      ? format(text.acknowledged, {who: a.acknowledged_by, at: at(a.acknowledged_at)}) : text.not_acknowledged));
    const actions = make('div', 'gisapp-gauge-actions');
    if (!a.acknowledged_at && canAck) {
      const ack = make('button', 'gisapp-gauge-ack', text.acknowledge);
      ack.type = 'button';
      ack.dataset.key = `ack-${a.id}`;
      ack.setAttribute('aria-label', format(text.acknowledge_label, {device: a.device_name, to: a.level_to || text.below}));
      ack.addEventListener('click', () => acknowledge(a, ack));
      actions.append(ack);
    }
    const chart = make('button', 'gisapp-gauge-open-chart', text.chart);
    chart.type = 'button';
    chart.dataset.key = `chart-${a.id}`;
    chart.setAttribute('aria-label', format(text.chart_label, {device: a.device_name}));
    chart.addEventListener('click', () => openChart(a.device_id, a.device_name, chart));
    actions.append(chart);
    li.append(actions);
    return li;
  }

  const loadAlerts = oneAtATime(async () => {
    try {
      const doc = await getJSON(`/api/gauges/alerts?limit=${LIMIT}${unacknowledgedOnly ? '&unacknowledged=true' : ''}`);
      const alerts = doc.alerts || [];
      let keep = list.contains(document.activeElement) ? document.activeElement.dataset.key : null;
      keep = keep || focusAfter;
      focusAfter = null;
      list.replaceChildren(...alerts.map(renderAlert));
      if (!alerts.length) list.append(make('li', 'gisapp-gauge-empty', text.empty));
      const open = typeof doc.unacknowledged === 'number' ? doc.unacknowledged : alerts.filter((a) => !a.acknowledged_at).length;
      summary.textContent = format(text.summary, {n: open});
      root.dataset.count = String(alerts.length);
      root.dataset.unacknowledged = String(open);
      root.dataset.state = 'ready';
      const newest = alerts.length ? Math.max(...alerts.map((a) => a.id)) : null;
      if (newestSeen !== null && newest !== null && newest > newestSeen) {
        const fresh = alerts.find((a) => a.id === newest);
        announce.textContent = format(text.new_alert, {device: fresh.device_name,
          to: `${fresh.level_to || text.below} ${levelText(fresh)}`});
      }
      if (newest !== null && (newestSeen === null || newest > newestSeen)) newestSeen = newest;
      if (keep) {  // a redraw must not throw the keyboard user's focus away (an acknowledged alert has
        // no 確認 button any more: its chart button takes the focus)
        const again = list.querySelector(`[data-key="${keep}"]`) ||
          list.querySelector(`[data-key="${keep.replace(/^ack-/, 'chart-')}"]`);
        if (again) again.focus();
      }
    } catch (error) {
      root.dataset.state = 'error';
      announce.textContent = format(text.load_error, {status: error.status || '—'});
    }
  });

  async function acknowledge(a, ackButton) {
    focusAfter = `chart-${a.id}`;
    ackButton.disabled = true;
    try {
      const result = await sendResult('POST', `/api/gauges/alerts/${encodeURIComponent(a.id)}/acknowledge`);
      if (result.ok) announce.textContent = format(text.ack_done, {device: a.device_name});
      else if (result.status === 409) {
        announce.textContent = format(text.ack_conflict, {who: (result.data.error?.acknowledged_by) || '—'});
      } else if (result.status === 403) announce.textContent = text.ack_forbidden;
      else announce.textContent = format(text.ack_error, {status: result.status});
      loadAlerts();
    } catch (_error) {
      ackButton.disabled = false;
      announce.textContent = format(text.ack_error, {status: '—'});
    }
  }

  getJSONOnce('/api/me').then((me) => { canAck = isOperator(me); }, () => { canAck = false; }).then(loadAlerts);

  return {
    /** A gauge appeared on the map: list its chart. */
    attach(p) {
      const id = String(p.device_id);
      names[id] = p.name || id;
      const b = make('button', 'gisapp-gauge-open-chart', names[id]);
      b.type = 'button';
      b.setAttribute('aria-label', format(text.chart_label, {device: names[id]}));
      b.dataset.deviceId = id;
      b.addEventListener('click', () => openChart(id, names[id], b));
      chartsList.append(make('li'));
      chartsList.lastChild.append(b);
    },
    openChart: (id, name, from) => openChart(id, name || names[id] || id, from),
    reload: loadAlerts,
  };
}
