/* The citizen report form (/report).
 * - the place: 「現在地を使う」, a tap on the map, or (keyboard) Enter on the map for its centre;
 * - the map (lib/map.js createMap) falls back to our own basemap with a notice when the tiles fail;
 * - on a touch screen one finger scrolls the page: the map moves with two fingers, or with one after
 *   「地図を1本指で動かす」 (Leaflet dragging is off until then);
 * - errors by their fields (lib/form.js); the result replaces the form and takes the focus.
 * Test hook: window.gisapp = {map}. */

import {send} from '../lib/api.js';
import {format, pageData} from '../lib/dom.js';
import {apiProblems, clearErrors, showErrors} from '../lib/form.js';
import {createMap} from '../lib/map.js';

const data = pageData();
const t = data.text.report;
const lang = data.lang;
const MAX_PHOTO = 10 * 1024 * 1024;

const form = document.getElementById('report-form');
const summary = document.getElementById('report-summary');
const lon = document.getElementById('report-lon');
const lat = document.getElementById('report-lat');
const where = document.getElementById('report-location-text');
const progress = document.getElementById('report-progress');
const submit = document.getElementById('report-submit');
const mapNode = document.getElementById('report-map');
const moveButton = document.getElementById('report-map-move');
const touch = window.matchMedia('(pointer: coarse)').matches || navigator.maxTouchPoints > 0;

const map = createMap(mapNode, {zoom: 15, offline: data.offline, text: data.text.common});
map.keyboard.enable();
let marker = null;

if (touch) {
  // One finger scrolls the page (touch-action pan-y in forms.css); two fingers pan and zoom.
  map.dragging.disable();
  document.getElementById('report-map-hint').hidden = false;
  moveButton.hidden = false;
  moveButton.addEventListener('click', () => {
    const active = !map.dragging.enabled();
    if (active) map.dragging.enable();
    else map.dragging.disable();
    mapNode.classList.toggle('report-map-active', active);
    moveButton.setAttribute('aria-pressed', String(active));
    moveButton.textContent = active ? t.map_move_done : t.map_move;
  });
}

const areaSelect = document.getElementById('report-area');

function choose(latlng, area = null) {
  lat.value = latlng.lat.toFixed(6);
  lon.value = latlng.lng.toFixed(6);
  if (marker) marker.setLatLng(latlng);
  else marker = L.marker(latlng, {title: t.marker, alt: t.marker, keyboard: false}).addTo(map);
  where.textContent = area ? format(t.selected_area, {area}) : format(t.selected, {lat: lat.value, lon: lon.value});
  if (!area && areaSelect) areaSelect.value = '';
  if (mapNode.getAttribute('aria-invalid') === 'true') clearErrors(form, summary);
}

map.on('click', (event) => choose(event.latlng));
// Without the position and without the map: the area's point (the description says where in it).
areaSelect?.addEventListener('change', () => {
  const option = areaSelect.selectedOptions[0];
  if (!areaSelect.value) return;
  const latlng = L.latLng(Number(option.dataset.lat), Number(option.dataset.lon));
  map.setView(latlng, 16);
  choose(latlng, option.textContent);
});
mapNode.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && event.target === mapNode) {
    event.preventDefault();
    choose(map.getCenter());
  }
});

document.getElementById('report-locate').addEventListener('click', () => {
  if (!navigator.geolocation) {
    where.textContent = t.locate_failed;
    return;
  }
  where.textContent = t.locating;
  navigator.geolocation.getCurrentPosition((position) => {
    const latlng = L.latLng(position.coords.latitude, position.coords.longitude);
    map.setView(latlng, 17);
    choose(latlng);
  }, () => {
    where.textContent = t.locate_failed;
  }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
});

function check() {
  const problems = [];
  if (!form.elements.category.value) problems.push({field: 'category', text: t.no_category});
  if (!lon.value || !lat.value) problems.push({field: 'location', text: t.no_location});
  if (form.elements.description.value.length > 2000) problems.push({field: 'description', text: t.too_long});
  const photo = form.elements.photo.files[0];
  if (photo && photo.size > MAX_PHOTO) problems.push({field: 'photo', text: t.photo_too_large});
  return problems;
}

let sending = false;
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (sending) return;
  const problems = check();
  if (problems.length) {
    progress.textContent = '';
    showErrors(form, summary, problems, format(t.summary, {n: problems.length}));
    return;
  }
  clearErrors(form, summary);
  sending = true;
  submit.disabled = true;
  progress.textContent = t.sending;
  try {
    const body = await send('POST', '/api/reports', new FormData(form));
    const link = document.getElementById('report-status-link');
    const href = body.status_url + (lang === 'ja' ? '' : `?lang=${lang}`);
    link.href = href;
    link.textContent = new URL(href, window.location.href).href;
    form.remove();
    progress.textContent = '';
    const done = document.getElementById('report-done');
    done.hidden = false;
    done.scrollIntoView({block: 'start'});
    done.focus();
  } catch (error) {
    progress.textContent = '';
    const found = apiProblems(error, lang, t.failed, data.text.common);
    showErrors(form, summary, found, found.length > 1 ? format(t.summary, {n: found.length}) : t.failed);
  } finally {
    sending = false;
    if (document.body.contains(submit)) submit.disabled = false;
  }
});

window.gisapp = {map};
