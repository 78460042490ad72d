/* The HQ map's legend (lib/map.js legend, foldable): every state the map draws, from the same
 * symbols the markers use — incidents, shelters, gauges, radio units, road closures — and the area shading. */

import {legend} from '../lib/map.js';
import {legendEntry} from './markers.js';

export function drawLegend({map, text, symbols, order}) {
  const all = (kind) => order[kind].map((state) => legendEntry(symbols[kind][state]));
  const group = (title) => ({letter: '', shape: 'none', colour: 'transparent', label: title, group: true});
  const entries = [
    group(text.hq.legend_incidents),
    ...all('incident'),
    group(text.hq_shelters.legend_shelters),
    ...all('shelter'),
    group(text.hq_gauges.legend_gauges),
    ...all('gauge'),
    group(text.hq.unit_list),
    ...all('unit'),
    group(text.hq.legend_closures),
    legendEntry(symbols.closure.closed, text.hq.closure_legend),
  ];
  // Folded at first: with every kind the map draws it would cover a third of the operator's working
  // surface (each marker also names its state when pointed at or focused). Opened, it stays open for
  // this browser until folded again.
  const control = legend(map, {title: text.hq.legend, entries, position: 'bottomright',
    open: readOpen()});
  const node = control.getContainer();
  node.id = 'gisapp-legend';
  node.addEventListener('toggle', () => writeOpen(node.open));  // the control is the <details>
  // Group headings: words, not swatches; the area shading: a swatch of its own.
  node.querySelectorAll('.gisapp-legend-list li').forEach((li, i) => {
    if (!entries[i].group) return;
    li.classList.add('gisapp-legend-group');
    li.querySelector('.gisapp-letter-marker').remove();
  });
  const area = document.createElement('li');
  const swatch = document.createElement('span');
  swatch.className = 'gisapp-legend-area';
  swatch.setAttribute('aria-hidden', 'true');
  const words = document.createElement('span');
  words.textContent = text.hq.area_legend;
  area.append(swatch, words);
  node.querySelector('.gisapp-legend-list').append(area);
  return control;
}

const LEGEND_KEY = 'gisapp.hq.legend';

function readOpen() {
  try {
    return window.localStorage.getItem(LEGEND_KEY) === 'open';
  } catch {
    return false;  // storage refused (private mode, policy): folded
  }
}

function writeOpen(open) {
  try {
    window.localStorage.setItem(LEGEND_KEY, open ? 'open' : 'folded');
  } catch {
    // storage refused: the choice lasts for this page only
  }
}
