/* The printable roster (避難行動要支援者名簿): a small map of the residences numbered by priority,
 * and the print button. Only places and priority numbers reach the page data; nothing from a row is
 * written as HTML. The map has our own basemap when the tiles fail or the instance is offline. */

import {format, pageData} from '../lib/dom.js';
import {createMap, letterMarker} from '../lib/map.js';

const data = pageData();
const text = data.text.roster;

const printButton = document.getElementById('roster-print');
if (printButton) printButton.addEventListener('click', () => window.print());

const element = document.getElementById('roster-map');
if (element && window.L && data.points.length) {
  const map = createMap(element, {zoom: 14, offline: data.offline, text: data.text.common});
  const bounds = [];
  for (const point of data.points) {
    // Background for the table below (which holds the same rows): not a tab stop.
    letterMarker([point.lat, point.lon], {
      letter: String(point.priority), shape: 'circle', colour: '#a4262c',
      label: format(text.marker, {n: point.priority}), interactive: false, size: 26,
      className: 'roster-marker',
    }).addTo(map);
    bounds.push([point.lat, point.lon]);
  }
  map.fitBounds(bounds, {padding: [20, 20], maxZoom: 17});
  window.gisapp = {map};
}
