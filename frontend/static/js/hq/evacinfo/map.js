/* HQ map 避難情報: what the orders and suggestions look like on the map — the orders' areas shaded in
 * their level's colour with a border pattern per level and labels in words, the open suggestions' areas
 * outlined, the legend, and fitting the map to an order or suggestion (panel.js hands in `ctx`).
 * Colour is never alone: the label says 「警戒レベル4 避難指示」, the pattern differs by level, the legend
 * shows both.
 */
import {make} from '../util.js';

const LEVELS = [3, 4, 5];
const AREA_LABEL_MIN_PX = 140;    // narrower areas share one label per order (labels would overlap)
// A border pattern per level, so the shading differs by more than colour (WCAG 1.4.1).
const DASH = {3: '10 6', 4: null, 5: '3 5'};

export function evacinfoMap(ctx) {
  const map = ctx.map;
  const text = ctx.text;
  const root = ctx.root;
  const areaByCode = ctx.areaByCode;
  const levelInfo = ctx.levelInfo;
  const levelText = ctx.levelText;
  const hazardText = ctx.hazardText;
  const areaNames = ctx.areaNames;
  let orders = [];
  let suggestions = [];

  const shadeLayer = L.layerGroup().addTo(map);       // orders in force: always shown, not a switchable layer
  const suggestLayer = L.layerGroup().addTo(map);     // open suggestions' areas, dashed outline

  const Legend = L.Control.extend({
    options: {position: 'topright'},
    onAdd: () => {
      const box = L.DomUtil.create('section', 'gisapp-ei-legend');
      box.id = 'gisapp-ei-legend';
      box.setAttribute('aria-label', text.legend);
      L.DomEvent.disableClickPropagation(box);
      return box;
    }
  });
  const legend = new Legend().addTo(map);
  map.on('zoomend', () => { drawOrders(); });
  function swatch(className, style) {
    const s = make('span', `gisapp-ei-swatch ${className}`);
    s.setAttribute('aria-hidden', 'true');
    Object.keys(style).forEach((k) => { s.style[k] = style[k]; });
    return s;
  }
  function renderLegend() {  // the levels of the orders shown, and suggestions if any
    const box = legend.getContainer();
    box.textContent = '';
    const shown = LEVELS.filter((n) => orders.some((o) => o.level === n));
    box.hidden = !shown.length && !suggestions.length;
    box.appendChild(make('h3', null, text.legend));
    const ul = make('ul');
    shown.forEach((n) => {
      const info = levelInfo[n];
      const li = make('li');
      li.setAttribute('data-level', String(n));
      li.appendChild(swatch(`gisapp-ei-swatch-${n}`, {backgroundColor: info.colour, borderColor: info.colour}));
      li.appendChild(make('span', null, levelText(info)));
      ul.appendChild(li);
    });
    if (suggestions.length) {
      const li = make('li');
      li.appendChild(swatch('gisapp-ei-swatch-suggested', {}));
      li.appendChild(make('span', null, text.legend_suggestion));
      ul.appendChild(li);
    }
    box.appendChild(ul);
  }

  /** 「警戒レベル4 避難指示」 on the level's colour, at the centre of `layer`. */
  function centreLabel(layer, item) {
    const tag = make('span', 'gisapp-ei-label-text', levelText(item));
    tag.style.backgroundColor = item.colour;
    tag.style.color = item.text_colour || '#000';
    return L.marker(layer.getBounds().getCenter(), {
      icon: L.divIcon({className: 'gisapp-ei-label', html: tag, iconSize: null}),
      interactive: false, keyboard: false
    });
  }

  function drawOrders() {
    shadeLayer.clearLayers();
    orders.forEach((o) => {
      if (!o.geometry) return;
      const style = {color: o.colour, weight: 3, dashArray: DASH[o.level], fillColor: o.colour, fillOpacity: 0.3,
                   className: 'gisapp-ei-shade'};
      const shape = L.geoJSON(o.geometry, {style: style, interactive: true});
      const label = `${levelText(o)}（${hazardText(o)}）${areaNames(o)}`;
      shape.bindTooltip(make('span', null, label), {sticky: true});
      shape.addTo(shadeLayer);
      shape.eachLayer((part) => {
        const el = part.getElement?.();
        if (!el) return;
        el.setAttribute('data-order-id', String(o.id));
        el.setAttribute('data-level', String(o.level));
      });
      // The number and the words on the map itself: one label per area when the areas are wide enough
      // on screen for one, else one for the order (zoomed out, labels would cover each other).
      let parts = (o.area_codes || []).map((code) => areaByCode[code]).filter(Boolean)
        .map((area) => ({code: area.code, shape: L.geoJSON(area.feature)}));
      const wide = parts.length && parts.every((p) => {
        const b = p.shape.getBounds();
        return map.latLngToContainerPoint(b.getNorthEast()).x - map.latLngToContainerPoint(b.getSouthWest()).x
          >= AREA_LABEL_MIN_PX;
      });
      if (!wide) parts = [{code: null, shape: shape}];
      parts.forEach((p) => {
        const el = centreLabel(p.shape, o).addTo(shadeLayer).getElement();
        el.setAttribute('data-level', String(o.level));
        el.setAttribute('data-order-id', String(o.id));
        if (p.code) el.setAttribute('data-area-code', p.code);
      });
    });
  }

  function drawSuggestions(highlight) {
    suggestLayer.clearLayers();
    suggestions.forEach((s) => {
      (s.area_codes || []).forEach((code) => {
        const area = areaByCode[code];
        if (!area) return;
        const fresh = highlight?.[s.id];
        const shape = L.geoJSON(area.feature, {style: {color: '#1a1a1a', weight: fresh ? 4 : 2.5, dashArray: '6 6',
                                                     fill: false, className: 'gisapp-ei-suggested'},
                                             interactive: false});
        shape.addTo(suggestLayer);
        shape.eachLayer((part) => {
          const el = part.getElement?.();
          if (!el) return;
          el.setAttribute('data-suggestion-id', String(s.id));
          el.setAttribute('data-area-code', code);
          if (fresh) el.classList.add('gisapp-ei-fresh');
        });
      });
    });
  }

  /** How much of the map the side panels cover (this panel, the incident panel): fitBounds keeps the
   * areas in the part a person can see. Side panels on desktop, top and bottom ones on phones. */
  function visibleMapPadding() {
    const m = map.getContainer().getBoundingClientRect();
    const pad = {left: 0, right: 0, top: 0, bottom: 0};
    [root, document.getElementById('gisapp-incidents')].forEach((panel) => {
      if (!panel?.getClientRects().length) return;
      const r = panel.getBoundingClientRect();
      if (r.height > m.height * 0.6) {
        if (r.left <= m.left + 1) pad.left = Math.max(pad.left, r.right - m.left);
        else pad.right = Math.max(pad.right, m.right - r.left);
      } else if (r.top <= m.top + 1) {
        pad.top = Math.max(pad.top, r.bottom - m.top);
      } else {
        pad.bottom = Math.max(pad.bottom, m.bottom - r.top);
      }
    });
    return pad;
  }

  function showOnMap(item) {
    const group = L.featureGroup();
    if (item.geometry) L.geoJSON(item.geometry).addTo(group);
    (item.area_codes || []).forEach((c) => { if (areaByCode[c]) L.geoJSON(areaByCode[c].feature).addTo(group); });
    if (!group.getLayers().length) return;
    const pad = visibleMapPadding();
    map.fitBounds(group.getBounds(), {paddingTopLeft: [pad.left + 30, pad.top + 30],
                                       paddingBottomRight: [pad.right + 30, pad.bottom + 30], maxZoom: 16});
  }

  return {
    /** Draw the orders in force and the open suggestions (`fresh`: id -> arrival, drawn thicker). */
    draw: (newOrders, newSuggestions, fresh) => {
      orders = newOrders;
      suggestions = newSuggestions;
      drawOrders();
      drawSuggestions(fresh);
      renderLegend();
    },
    showOnMap: showOnMap
  };
}
