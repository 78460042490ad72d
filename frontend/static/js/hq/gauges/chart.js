/* A gauge's 24-hour chart (vendored Chart.js, a classic script: window.Chart) in a modal <dialog>: a
 * title, a text summary of the latest values and the thresholds beside the canvas (a canvas is not
 * read by screen readers). Escape and the close button close it; focus returns to what opened it.
 * Tests: #gisapp-gauge-chart[data-state="ready"][data-device-id][data-points]. */

import {getJSON} from '../../lib/api.js';
import {format} from '../../lib/dom.js';
import {make, when} from '../util.js';
import {digitsOf, gaugeNumber, unitOf} from './numbers.js';

const WHEN = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};
const HM = {hour: '2-digit', minute: '2-digit', hour12: false};
// Water-level thresholds, lowest first: a colour and a dash pattern each, named in the legend, so a
// line is told apart without its colour.
const THRESHOLD_STYLE = {
  '水防団待機水位': {colour: '#2a7d73', dash: [2, 3]},
  '氾濫注意水位': {colour: '#8a6d00', dash: [8, 4]},
  '避難判断水位': {colour: '#c2570c', dash: [14, 4, 2, 4]},
  '氾濫危険水位': {colour: '#b3261e', dash: []},
};
const SERIES = {rain10: '#5b8fd1', rain60: '#c2570c', cont: '#6a1b9a', level: '#0b3d91'};

export function chartDialog(text, locale) {
  const measureName = (m) => text.measures[m] || m;
  const at = (value) => when(value, locale, WHEN);

  const dialog = make('dialog', 'gisapp-gauge-chart');
  dialog.id = 'gisapp-gauge-chart';
  dialog.setAttribute('aria-labelledby', 'gisapp-gauge-chart-title');
  dialog.setAttribute('aria-describedby', 'gisapp-gauge-chart-summary');
  const head = make('div', 'gisapp-gauge-chart-head');
  const title = make('h2');
  title.id = 'gisapp-gauge-chart-title';
  const closeButton = make('button', 'gisapp-gauge-close', text.close);
  closeButton.type = 'button';
  head.append(title, closeButton);
  const summary = make('p', 'gisapp-gauge-chart-summary');
  summary.id = 'gisapp-gauge-chart-summary';
  const levels = make('p', 'gisapp-gauge-chart-levels');
  const thresholds = make('ul', 'gisapp-gauge-thresholds');
  thresholds.setAttribute('aria-label', text.thresholds);
  const canvasWrap = make('div', 'gisapp-gauge-canvas');
  const canvas = make('canvas');
  canvas.setAttribute('role', 'img');
  canvasWrap.append(canvas);
  dialog.append(head, summary, levels, thresholds, canvasWrap);
  document.body.append(dialog);

  let chart = null;
  let opener = null;
  let request = 0;
  closeButton.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    request += 1;  // a late answer must not draw into a closed dialog
    if (chart) chart.destroy();
    chart = null;
    dialog.dataset.state = 'closed';
    if (opener && document.contains(opener)) opener.focus();
    opener = null;
  });

  function describe(doc) {
    const points = doc.points || [];
    const last = points[points.length - 1];
    if (!last) {
      summary.textContent = text.no_data;
    } else if (doc.kind === 'rain_gauge') {
      const max60 = points.reduce((m, p) => Math.max(m, Number(p.rain_60min) || 0), 0);
      summary.textContent = format(text.rain_summary, {at: at(last.at), r10: gaugeNumber(last.rain_10min, 1),
        r60: gaugeNumber(last.rain_60min, 1), cont: gaugeNumber(last.continuous, 1), max60: gaugeNumber(max60, 1)});
    } else {
      const max = points.reduce((m, p) => Math.max(m, Number(p.level)), -Infinity);
      summary.textContent = format(text.level_summary, {at: at(last.at), level: gaugeNumber(last.level, 2),
        max: gaugeNumber(max, 2)});
    }
    const current = Object.keys(doc.levels || {}).filter((m) => doc.levels[m])
      .map((m) => `${measureName(m)} ${doc.levels[m]}`);
    levels.textContent = format(text.current_levels, {levels: current.join('、') || text.no_level});
    for (const [measure, list] of Object.entries(doc.thresholds || {})) {
      for (const t of list) {
        thresholds.append(make('li', null, `${measureName(measure)} ${format(text.threshold_line,
          {name: t.name, value: `${gaugeNumber(t.value, digitsOf(measure))} ${unitOf(measure)}`})}`));
      }
    }
  }

  function draw(doc) {
    if (!window.Chart) return;  // the text above still says it all
    const points = doc.points || [];
    // A linear time axis in ms: the 24 hours to scale, a gap in the data shows, no date adapter needed.
    const since = Date.parse(doc.since);
    const until = Date.parse(doc.until);
    const xy = (key) => points.map((p) => ({x: Date.parse(p.at), y: p[key]}));
    const x = {type: 'linear', min: since, max: until, title: {display: true, text: text.axis_time},
      ticks: {stepSize: Math.max(1, Math.round((until - since) / 36e5 / 12)) * 36e5, maxRotation: 0,
        callback: (v) => new Date(v).toLocaleTimeString(locale, HM)}};
    let datasets;
    let scales;
    if (doc.kind === 'rain_gauge') {
      datasets = [
        {type: 'bar', label: text.rain_10, data: xy('rain_10min'), backgroundColor: SERIES.rain10, yAxisID: 'y',
          order: 3, digits: 1, barPercentage: 1, categoryPercentage: 0.9},
        {type: 'line', label: text.rain_60, data: xy('rain_60min'), borderColor: SERIES.rain60,
          backgroundColor: SERIES.rain60, borderWidth: 2, pointRadius: 0, yAxisID: 'y', order: 2, digits: 1},
        {type: 'line', label: text.rain_cont, data: xy('continuous'), borderColor: SERIES.cont,
          backgroundColor: SERIES.cont, borderWidth: 2, borderDash: [6, 3], pointRadius: 0, yAxisID: 'y2', order: 1,
          digits: 1},
      ];
      scales = {x, y: {beginAtZero: true, position: 'left', title: {display: true, text: `${text.rain_10} / ${text.rain_60}`}},
        y2: {beginAtZero: true, position: 'right', grid: {drawOnChartArea: false}, title: {display: true, text: text.rain_cont}}};
    } else {
      datasets = [{type: 'line', label: text.level, data: xy('level'), borderColor: SERIES.level,
        backgroundColor: SERIES.level, borderWidth: 3, pointRadius: 2, digits: 2}];
      for (const t of doc.thresholds?.level_m || []) {
        const style = THRESHOLD_STYLE[t.name] || {colour: '#555555', dash: [4, 4]};
        datasets.push({type: 'line', label: `${t.name} ${gaugeNumber(t.value, 2)} m`,
          data: [{x: since, y: t.value}, {x: until, y: t.value}], borderColor: style.colour,
          backgroundColor: style.colour, borderDash: style.dash, borderWidth: 2, pointRadius: 0, digits: 2});
      }
      scales = {x, y: {title: {display: true, text: text.level}}};
    }
    chart = new window.Chart(canvas, {
      data: {datasets},
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
        interaction: doc.kind === 'rain_gauge' ? {mode: 'index', intersect: false}
          : {mode: 'nearest', axis: 'x', intersect: false},
        scales,
        plugins: {
          legend: {position: 'bottom', labels: {boxHeight: 4}},
          tooltip: {callbacks: {
            title: (items) => (items.length ? at(new Date(items[0].parsed.x).toISOString()) : ''),
            label: (item) => `${item.dataset.label}: ${gaugeNumber(item.parsed.y, item.dataset.digits)}`,
          }},
        },
      },
    });
  }

  /** Open the chart of `deviceId` (named `name`); focus returns to `from` when it closes. */
  return async function openChart(deviceId, name, from) {
    opener = from || document.activeElement;
    const mine = ++request;
    if (chart) chart.destroy();
    chart = null;
    title.textContent = format(text.dialog_title, {device: name || deviceId});
    summary.textContent = text.loading;
    levels.textContent = '';
    thresholds.textContent = '';
    canvas.setAttribute('aria-label', format(text.canvas_label, {device: name || deviceId}));
    dialog.dataset.state = 'loading';
    dialog.dataset.deviceId = deviceId;
    if (!dialog.open) dialog.showModal();
    try {
      const doc = await getJSON(`/api/gauges/${encodeURIComponent(deviceId)}/series?hours=24`);
      if (mine !== request) return;
      describe(doc);
      draw(doc);
      dialog.dataset.points = String((doc.points || []).length);
      dialog.dataset.state = 'ready';
    } catch (error) {
      if (mine !== request) return;
      summary.textContent = format(text.chart_error, {status: error.status || '—'});
      dialog.dataset.state = 'error';
    }
  };
}
