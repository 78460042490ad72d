/* HQ map 避難情報: choosing the areas of an order — a filterable checkbox list (the keyboard way) and
 * the areas on the map, clickable while the form is open; both show the same choice.
 * Tests: #gisapp-ei-chosen[data-n], path.gisapp-ei-pick[data-area-code][data-chosen]. */

import {classSafe, format} from '../../lib/dom.js';
import {make} from '../util.js';
import {field} from './fields.js';

function pickStyle(on) {
  return on ? {color: '#0b3d91', weight: 4, fillColor: '#0b3d91', fillOpacity: 0.25, dashArray: null}
    : {color: '#0b3d91', weight: 1.5, fillColor: '#0b3d91', fillOpacity: 0.04, dashArray: '2 4'};
}

/** The chooser for one open form: `initial` the codes chosen at first. element: the fieldset;
 * codes(): the codes chosen, in the areas' order; firstBox(): the first checkbox (for focus);
 * close(): take the areas off the map. */
export function areaChooser(ctx, initial) {
  const {text, map} = ctx;
  const chosen = {};
  initial.forEach((c) => { chosen[c] = true; });
  const boxes = {};
  const shapes = {};
  const pickLayer = L.layerGroup();  // every area, clickable while the form is open

  const box = make('fieldset', 'gisapp-ei-areas');
  box.appendChild(make('legend', null, text.areas));
  const filter = make('input');
  filter.type = 'search';
  filter.id = 'gisapp-ei-area-filter';
  box.appendChild(field(text.area_filter, filter, text.area_pick_hint));
  const list = make('ul', 'gisapp-ei-area-list');
  list.id = 'gisapp-ei-area-list';
  for (const a of ctx.areas()) {
    const li = make('li');
    const input = make('input');
    input.type = 'checkbox';
    input.id = `gisapp-ei-area-${classSafe(a.code)}`;
    input.value = a.code;
    input.checked = !!chosen[a.code];
    input.addEventListener('change', () => { toggle(a.code, input.checked); });
    boxes[a.code] = input;
    const lab = make('label', 'gisapp-inc-check');
    lab.append(input, a.name);
    li.dataset.name = a.name;
    li.appendChild(lab);
    list.appendChild(li);
  }
  filter.addEventListener('input', () => {
    const q = filter.value.trim();
    for (const li of list.children) li.hidden = q !== '' && !li.dataset.name.includes(q);
  });
  box.appendChild(list);
  const said = make('p', 'gisapp-ei-chosen');
  said.id = 'gisapp-ei-chosen';
  said.setAttribute('aria-live', 'polite');
  box.appendChild(said);

  function codes() {
    return ctx.areas().map((a) => a.code).filter((c) => chosen[c])
      .concat(Object.keys(chosen).filter((c) => !ctx.areaByCode[c]));
  }
  function render() {
    const now = codes();
    said.textContent = now.length
      ? format(text.areas_chosen, {n: now.length, names: ctx.areaNames({area_codes: now})}) : text.areas_none;
    said.dataset.n = String(now.length);
  }
  function toggle(code, on) {
    const now = on === undefined ? !chosen[code] : on;
    if (now) chosen[code] = true;
    else delete chosen[code];
    if (boxes[code]) boxes[code].checked = now;
    if (shapes[code]) {
      shapes[code].setStyle(pickStyle(now));
      shapes[code].eachLayer((part) => {
        const node = part.getElement?.();
        if (node) node.dataset.chosen = now ? 'true' : 'false';
      });
    }
    render();
  }

  pickLayer.addTo(map);  // first: the shapes get their elements (and data-*) only on the map
  for (const a of ctx.areas()) {
    const shape = L.geoJSON(a.feature, {style: pickStyle(false), interactive: true});
    shape.bindTooltip(make('span', null, a.name), {sticky: true});
    shape.on('click', (event) => {
      L.DomEvent.stopPropagation(event);
      toggle(a.code);
    });
    shape.addTo(pickLayer);
    shape.eachLayer((part) => {
      const node = part.getElement?.();
      if (node) {
        node.dataset.areaCode = a.code;
        node.classList.add('gisapp-ei-pick');
      }
    });
    shapes[a.code] = shape;
  }
  Object.keys(chosen).forEach((c) => { toggle(c, true); });
  render();

  return {
    element: box,
    codes,
    firstBox: () => (ctx.areas().length ? boxes[ctx.areas()[0].code] : null),
    close: () => map.removeLayer(pickLayer),
  };
}
