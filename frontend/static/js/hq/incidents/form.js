/* A new incident (a phone call, what staff saw): category, title, priority, source, address,
 * description, and the place picked on the map or the map's centre. Tests: #gisapp-incident-new,
 * #gisapp-new-place[data-lat][data-lon]. */

import {format} from '../../lib/dom.js';
import {button, field, make, sendResult} from '../util.js';

function input(id, type) {
  const node = make(type === 'textarea' ? 'textarea' : 'input');
  if (type !== 'textarea') node.type = type;
  node.id = id;
  return node;
}

export function buildNewForm(c) {
  const {text, map} = c;
  const box = make('details', 'gisapp-inc-new');
  box.id = 'gisapp-incident-new';
  box.append(make('summary', null, text.new_incident));
  const form = make('form');
  form.noValidate = true;
  const category = make('select');
  category.id = 'gisapp-new-category';
  category.required = true;
  const title = input('gisapp-new-title', 'text');
  title.required = true;
  title.maxLength = 200;
  const priority = make('select');
  priority.id = 'gisapp-new-priority';
  for (const p of [1, 2, 3, 4, 5]) {
    const option = make('option', null, format(text.priority_value, {p}));
    option.value = String(p);
    priority.append(option);
  }
  priority.value = '3';
  const source = make('select');
  source.id = 'gisapp-new-source';
  for (const src of ['phone', 'staff']) {
    const option = make('option', null, text.sources[src]);
    option.value = src;
    source.append(option);
  }
  const address = input('gisapp-new-address', 'text');
  address.maxLength = 300;
  const description = input('gisapp-new-description', 'textarea');
  description.maxLength = 4000;
  description.rows = 3;
  const place = make('p', 'gisapp-inc-new-place', text.place_none);
  place.id = 'gisapp-new-place';
  place.setAttribute('aria-live', 'polite');
  const pick = button(text.pick_on_map, 'gisapp-inc-button');
  pick.id = 'gisapp-new-pick';
  const centre = button(text.use_map_centre, 'gisapp-inc-button');
  centre.id = 'gisapp-new-centre';
  const submit = make('button', 'gisapp-inc-button gisapp-inc-primary', text.register);
  submit.type = 'submit';
  submit.id = 'gisapp-new-submit';
  form.append(field(text.category, category), field(text.title, title), field(text.priority, priority),
    field(text.source, source), field(text.address, address), field(text.description, description), place, pick, centre, submit);
  box.append(form);

  let point = null;
  let pointMarker = null;
  let picking = false;
  function setPlace(latlng) {
    point = latlng;
    if (pointMarker) map.removeLayer(pointMarker);
    pointMarker = L.circleMarker(latlng, {radius: 9, color: '#0b3d91', weight: 3, dashArray: '4 3', fillOpacity: 0.2}).addTo(map);
    place.textContent = format(text.place_chosen, {lat: latlng.lat.toFixed(5), lon: latlng.lng.toFixed(5)});
    place.dataset.lat = String(latlng.lat);
    place.dataset.lon = String(latlng.lng);
  }
  pick.addEventListener('click', () => {
    picking = true;
    map.getContainer().classList.add('gisapp-picking');
    place.textContent = text.place_click;
  });
  centre.addEventListener('click', () => setPlace(map.getCenter()));
  map.on('click', (event) => {
    if (!picking) return;
    picking = false;
    map.getContainer().classList.remove('gisapp-picking');
    setPlace(event.latlng);
    title.focus();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (c.disasterId === null) {
      c.notices.show('error', [{text: text.no_disaster}]);
      return;
    }
    const missing = [];
    if (!title.value.trim()) missing.push(text.title);
    if (!point) missing.push(text.place);
    title.setAttribute('aria-invalid', title.value.trim() ? 'false' : 'true');
    if (missing.length) {
      c.notices.show('error', [{text: format(text.missing, {fields: missing.join('・')})}]);
      (title.value.trim() ? pick : title).focus();
      return;
    }
    submit.disabled = true;
    try {
      const result = await sendResult('POST', `/api/disasters/${c.disasterId}/incidents`, {
        category: category.value, title: title.value.trim(), priority: Number(priority.value), source: source.value,
        address: address.value.trim(), description: description.value.trim(),
        lon: Number(point.lng.toFixed(7)), lat: Number(point.lat.toFixed(7)),
      });
      submit.disabled = false;
      if (!result.ok) {
        c.notices.show('error', c.notices.errorLines(result));
        return;
      }
      form.reset();
      priority.value = '3';
      point = null;
      if (pointMarker) map.removeLayer(pointMarker);
      pointMarker = null;
      place.textContent = text.place_none;
      box.open = false;
      c.loadIncidents();
      c.openPanel(result.data.id);  // (it clears the notice area: the confirmation goes after it)
      c.notices.show('ok', [{text: format(text.registered, {title: result.data.title})}]);
    } catch (error) {
      console.error(error);
      submit.disabled = false;
      c.notices.show('error', [{text: format(text.failed, {status: '—'})}]);
    }
  });

  return {
    element: box,
    setCategories(categories) {
      category.replaceChildren(...categories.map((cat) => {
        const option = make('option', null, c.label(cat, 'name'));
        option.value = cat.code;
        return option;
      }));
    },
  };
}
