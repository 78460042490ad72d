/* Incident markers: the status's letter and shape (symbols.incident), focusable, Enter / Space /
 * click open the incident panel. Tests: .gisapp-incident[data-incident-id][data-status]. */

import {format} from '../../lib/dom.js';
import {stateMarker} from '../markers.js';
import {make} from '../util.js';

/** A status as a chip: the symbol's letter in its shape and colour, then the word. */
export function statusChip(c, status) {
  const symbol = c.symbols[status] || {letter: '?', shape: 'circle', colour: '#5f6368', ink: '#fff'};
  const chip = make('span', `gisapp-inc-chip gisapp-status-${status}`);
  const swatch = make('span', `gisapp-letter-marker gisapp-shape-${symbol.shape}`);
  swatch.setAttribute('aria-hidden', 'true');
  swatch.style.setProperty('--marker-colour', symbol.colour);
  swatch.style.setProperty('--marker-ink', symbol.ink);
  swatch.append(make('span', 'gisapp-letter-marker-body', symbol.letter));
  chip.append(swatch, make('span', null, c.statusWord(status)));
  return chip;
}

export function drawMarker(c, item) {
  const name = format(c.text.open, {title: item.title, status: c.statusWord(item.status)});
  const marker = stateMarker([item.lat, item.lon], c.symbols[item.status], name, {
    focusable: true, className: `gisapp-incident gisapp-incident-${item.status}`,
    data: {incidentId: item.id, status: item.status, category: item.category},
    onActivate: (node) => c.openPanel(item.id, node),
  });
  marker.options.riseOnHover = true;
  marker.bindTooltip(make('span', 'gisapp-incident-tooltip',
    `${c.statusWord(item.status)} ・ ${c.categoryName(item.category)} ・ ${item.title}`), {direction: 'top', offset: [0, -14]});
  marker.addTo(c.map);
  return marker;
}
