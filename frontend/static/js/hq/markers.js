/* Markers of the HQ map, drawn from the server's symbols (frontend/symbols.py, page data): a letter
 * and a shape as well as a colour, and an accessible name.
 * - stateMarker(..., {focusable: true}): a tab stop with role=button (it does something: opens a
 *   panel or a chart);
 * - focusable false: not a tab stop (radio units, shelters: the lists are the keyboard way to them),
 *   still named for screen readers (role=img) and hovered for its tooltip. */

import {letterMarker} from '../lib/map.js';

function paint(node, symbol, label, focusable) {
  node.style.setProperty('--marker-colour', symbol.colour);
  node.style.setProperty('--marker-ink', symbol.ink);
  node.className = node.className.replace(/\bgisapp-shape-\S+/, `gisapp-shape-${symbol.shape}`);
  const body = node.querySelector('.gisapp-letter-marker-body');
  if (body) body.textContent = symbol.letter || '';
  node.setAttribute('aria-label', label);
  node.setAttribute('role', focusable ? 'button' : 'img');
  if (!focusable) node.removeAttribute('tabindex');
  node.removeAttribute('aria-hidden');
  if (focusable) node.setAttribute('title', label);
  else node.removeAttribute('title');
}

/** A marker for `symbol` ({shape, colour, ink, letter}) named `label`. options: focusable,
 * className, data (data-* attributes), onActivate (click / Enter / Space), size. */
export function stateMarker(latlng, symbol, label, options = {}) {
  const focusable = !!options.focusable;
  const marker = letterMarker(latlng, {...symbol, label, className: options.className || '',
    interactive: true, size: options.size || 28});
  marker.options.keyboard = focusable;  // before it is added: Leaflet sets tabindex from it
  marker.gisappLabel = label;
  marker.gisappSymbol = symbol;
  marker.on('add', () => {
    const node = marker.getElement();
    if (!node) return;
    paint(node, marker.gisappSymbol, marker.gisappLabel, focusable);
    for (const [key, value] of Object.entries(options.data || {})) node.dataset[key] = String(value);
  });
  if (options.onActivate) {
    marker.on('click', () => options.onActivate(marker.getElement()));
    marker.on('add', () => {
      const node = marker.getElement();
      node.addEventListener('keydown', (event) => {
        if (event.key !== 'Enter' && event.key !== ' ') return;
        event.preventDefault();
        options.onActivate(node);
      });
    });
  }
  return marker;
}

/** Change a marker's state and name in place (its element, focus and listeners are kept). */
export function restyle(marker, symbol, label) {
  marker.gisappSymbol = symbol;
  marker.gisappLabel = label;
  const node = marker.getElement();
  if (node) paint(node, symbol, label, marker.options.keyboard);
}

/** A legend swatch entry from a symbol. */
export function legendEntry(symbol, label) {
  return {letter: symbol.letter, shape: symbol.shape, colour: symbol.colour, ink: symbol.ink, label: label || symbol.label};
}
