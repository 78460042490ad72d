/* Map widgets shared by the citizen map and the GIS viewer: colours, popups, the legend, an accessible
 * layer list (real checkboxes with labels, collapsible by a button) and the "my location" button.
 * Plain DOM; data only ever reaches the page through textContent.
 */
(function () {
  'use strict';

  var gisapp = window.gisapp;
  // Dark enough for 3:1 against the GSI basemap and the offline background (WCAG 1.4.11).
  gisapp.PALETTE = ['#c0392b', '#1f5fa8', '#1e7b34', '#7b3fa0', '#b35900', '#6b4a2b', '#b0276f', '#0e7c86'];
  // Properties shown as the popup heading, in order of preference (shelters: name, roads: route_name).
  var TITLE_KEYS = ['name', 'route_name', 'title'];
  // Same breakpoint as gisapp.css: phones get the layer list folded away so the map stays visible.
  var NARROW = '(max-width: 600px)';

  gisapp.isNarrow = function () {
    return window.matchMedia(NARROW).matches;
  };

  gisapp.layerTitle = function (layer, lang) {
    var preferred = lang === 'en' ? [layer.title_en, layer.title_ja] : [layer.title_ja, layer.title_en];
    return preferred[0] || preferred[1] || layer.slug;
  };

  gisapp.geometryKind = function (geometryType) {
    var type = String(geometryType || '').toLowerCase();
    if (type.indexOf('point') !== -1) return 'point';
    if (type.indexOf('line') !== -1) return 'line';
    return 'polygon';
  };

  /** An empty GeoJSON overlay for one catalogue entry: SVG paths and circle markers carrying the
   * class gisapp-layer-{slug}, a popup per feature. Not added to the map. */
  gisapp.thematicOverlay = function (layer, colour, title) {
    var kind = gisapp.geometryKind(layer.geometry_type);
    var style = {
      className: 'gisapp-layer-' + gisapp.classSafe(layer.slug),
      color: colour,
      weight: kind === 'line' ? 3 : 2,
      fillColor: colour,
      fillOpacity: kind === 'point' ? 0.85 : 0.25
    };
    return L.geoJSON(null, {
      style: function () { return style; },
      // SVG circle markers rather than image markers: they carry className, need no icon files.
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, L.extend({radius: 7}, style));
      },
      onEachFeature: function (feature, featureLayer) {
        featureLayer.bindPopup(function () { return gisapp.popupContent(feature.properties, title); });
      }
    });
  };

  /** Popup as DOM nodes: a heading, then every property as a table row. */
  gisapp.popupContent = function (properties, layerTitle) {
    properties = properties || {};
    var root = gisapp.el('div', 'gisapp-popup');
    var heading = layerTitle;
    for (var i = 0; i < TITLE_KEYS.length; i++) {
      if (properties[TITLE_KEYS[i]]) {
        heading = properties[TITLE_KEYS[i]];
        break;
      }
    }
    root.appendChild(gisapp.el('h2', null, heading));
    var table = gisapp.el('table');
    Object.keys(properties).forEach(function (key) {
      var value = properties[key];
      if (value === null || value === undefined || value === '') return;
      var row = gisapp.el('tr');
      var th = gisapp.el('th', null, key);
      th.scope = 'row';
      row.appendChild(th);
      row.appendChild(gisapp.el('td', null, typeof value === 'object' ? JSON.stringify(value) : value));
      table.appendChild(row);
    });
    root.appendChild(table);
    return root;
  };

  function swatch(colour, kind) {
    var node = gisapp.el('span', 'gisapp-legend-swatch gisapp-' + kind);
    node.style.backgroundColor = colour;
    node.setAttribute('aria-hidden', 'true');
    return node;
  }

  function keepMapEventsOut(node) {
    L.DomEvent.disableClickPropagation(node);
    L.DomEvent.disableScrollPropagation(node);
    // Leaflet turns two quick taps anywhere in the map container into a double-tap zoom, even taps on
    // two different controls ("レイヤー" then "現在地"); that zoom would swallow the locate view change.
    L.DomEvent.on(node, 'click', L.DomEvent.stopPropagation);
  }

  /** A Leaflet control listing each layer with its colour and shape (citizen map). */
  gisapp.legend = function (text) {
    var list;
    var legend = L.control({position: 'bottomright'});
    legend.onAdd = function () {
      var box = gisapp.el('section', 'gisapp-legend');
      box.id = 'gisapp-legend';
      box.setAttribute('aria-labelledby', 'gisapp-legend-title');
      var heading = gisapp.el('h2', null, text.legend);
      heading.id = 'gisapp-legend-title';
      box.appendChild(heading);
      list = gisapp.el('ul');
      box.appendChild(list);
      keepMapEventsOut(box);
      return box;
    };
    legend.addItem = function (title, colour, kind) {
      var item = gisapp.el('li');
      item.appendChild(swatch(colour, kind));
      item.appendChild(document.createTextNode(title));
      list.appendChild(item);
      return item;
    };
    return legend;
  };

  /** The layer list: a button that folds it (aria-expanded), then groups of labelled checkboxes.
   * Folded by default on narrow screens; Escape folds it again and returns focus to the button.
   *   var panel = gisapp.layerPanel(map, text);
   *   var group = panel.addGroup('公開レイヤー');   // or addGroup(null): no heading
   *   var entry = panel.addItem(group, {slug, label, colour, kind, badge: {level, text}, checked});
   *   entry.checkbox.addEventListener('change', ...) */
  gisapp.layerPanel = function (map, text) {
    var control = L.control({position: 'topright'});
    var box, toggle, body;
    control.onAdd = function () {
      box = gisapp.el('section', 'gisapp-layer-panel');
      box.id = 'gisapp-layer-panel';
      box.setAttribute('aria-label', text.layers);
      toggle = gisapp.el('button', 'gisapp-panel-toggle');
      toggle.type = 'button';
      toggle.id = 'gisapp-layer-toggle';
      toggle.setAttribute('aria-controls', 'gisapp-layer-list');
      toggle.appendChild(gisapp.el('span', 'gisapp-panel-icon', '☰')).setAttribute('aria-hidden', 'true');
      toggle.appendChild(gisapp.el('span', null, text.layers));
      body = gisapp.el('div', 'gisapp-layer-list');
      body.id = 'gisapp-layer-list';
      box.appendChild(toggle);
      box.appendChild(body);
      setOpen(!gisapp.isNarrow());
      toggle.addEventListener('click', function () { setOpen(body.hidden); });
      box.addEventListener('keydown', function (event) {
        if (event.key === 'Escape' && !body.hidden) {
          setOpen(false);
          toggle.focus();
        }
      });
      keepMapEventsOut(box);
      return box;
    };
    function setOpen(open) {
      body.hidden = !open;
      toggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    }
    control.setOpen = setOpen;
    control.addGroup = function (title) {
      var group = gisapp.el('fieldset', 'gisapp-layer-group');
      if (title) group.appendChild(gisapp.el('legend', null, title));
      else group.classList.add('gisapp-layer-group-plain');
      var list = gisapp.el('ul');
      group.appendChild(list);
      body.appendChild(group);
      return list;
    };
    control.addItem = function (list, entry) {
      var item = gisapp.el('li', 'gisapp-layer-item');
      var label = gisapp.el('label');
      var checkbox = document.createElement('input');
      checkbox.type = 'checkbox';
      checkbox.id = 'gisapp-layer-toggle-' + gisapp.classSafe(entry.slug);
      checkbox.value = entry.slug;
      checkbox.checked = Boolean(entry.checked);
      label.htmlFor = checkbox.id;
      label.appendChild(checkbox);
      label.appendChild(swatch(entry.colour, entry.kind));
      label.appendChild(gisapp.el('span', 'gisapp-layer-name', entry.label));
      if (entry.badge) {
        label.appendChild(gisapp.el('span', 'gisapp-badge gisapp-badge-' + entry.badge.level, entry.badge.text));
      }
      item.appendChild(label);
      list.appendChild(item);
      return {item: item, checkbox: checkbox};
    };
    control.addTo(map);
    return control;
  };

  /** "現在地 / My location": the browser's Geolocation API only (no external service). Shows a dot
   * with its accuracy circle and centres the map; messages go to an aria-live line under the button. */
  gisapp.locateControl = function (map, text) {
    var control = L.control({position: 'topleft'});
    var shown = L.layerGroup().addTo(map);
    var button, message;
    control.onAdd = function () {
      var box = gisapp.el('div', 'gisapp-locate-box leaflet-bar');
      button = gisapp.el('button', 'gisapp-locate-button');
      button.type = 'button';
      button.id = 'gisapp-locate';
      button.appendChild(gisapp.el('span', 'gisapp-locate-icon', '◎')).setAttribute('aria-hidden', 'true');
      button.appendChild(gisapp.el('span', null, text.locate));
      message = gisapp.el('p', 'gisapp-locate-message');
      message.id = 'gisapp-locate-message';
      message.setAttribute('role', 'status');
      message.setAttribute('aria-live', 'polite');
      box.appendChild(button);
      box.appendChild(message);
      button.addEventListener('click', locate);
      keepMapEventsOut(box);
      return box;
    };
    function say(state, words) {
      message.setAttribute('data-state', state);
      message.textContent = words;
    }
    function locate() {
      if (!navigator.geolocation) {
        say('error', text.locate_unsupported);
        return;
      }
      button.setAttribute('aria-busy', 'true');
      say('locating', text.locating);
      navigator.geolocation.getCurrentPosition(function (position) {
        button.removeAttribute('aria-busy');
        var latlng = [position.coords.latitude, position.coords.longitude];
        var accuracy = Math.max(0, Math.round(position.coords.accuracy || 0));
        shown.clearLayers();
        L.circle(latlng, {
          radius: accuracy, className: 'gisapp-my-location-accuracy', interactive: false,
          color: '#1a56c4', weight: 1, fillColor: '#1a56c4', fillOpacity: 0.12
        }).addTo(shown);
        L.circleMarker(latlng, {
          radius: 9, className: 'gisapp-my-location',
          color: '#ffffff', weight: 3, fillColor: '#1a56c4', fillOpacity: 1
        }).bindTooltip(text.my_location).addTo(shown);
        map.setView(latlng, Math.max(map.getZoom(), 16));
        say('located', gisapp.format(text.located, {m: accuracy}));
        // For whoever on the page asks "is this place concerned?" (the evacuation banner); stays here.
        map.fire('gisapp-located', {latlng: L.latLng(latlng), accuracy: accuracy});
      }, function (error) {
        button.removeAttribute('aria-busy');
        var words = {1: text.locate_denied, 3: text.locate_timeout}[error.code] || text.locate_unavailable;
        say('error', words);
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
    }
    control.addTo(map);
    return control;
  };
})();
