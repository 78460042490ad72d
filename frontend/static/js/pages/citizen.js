/* The citizen's disaster-day page (/). The server has already rendered every answer; this module only
 * enhances: the phone's position (re-sorted by the server, /api/public/here?lat=&lon=), a refresh every
 * minute, "show on map" and the map itself (loaded on demand: citizen/map.js), the service worker that
 * keeps the last answers for when the network is gone (/sw.js).
 *
 * Test hooks: window.gisapp = {answer, map (once shown), refresh()}; #citizen-shelter-list[data-state]
 * = list | empty | failed; body[data-citizen] = ready | loading | failed | offline-copy. */

import {ApiError, errorLines, getJSON} from '../lib/api.js';
import {announce, noticeBox, pageData} from '../lib/dom.js';
import {orderNews, renderAnswer} from '../citizen/render.js';

const REFRESH_MS = 60000;
const RETRY_MS = [5000, 10000, 20000, 30000];
const OLD_MS = 45000; // a page older than this was kept somewhere (the offline copy): ask again at once

const data = pageData();
const text = data.text.citizen;
const common = data.text.common;
const status = noticeBox(document.getElementById('citizen-status'));
let query = data.here_query || '';
let answer = data.answer;
let failures = 0;
let timer = null;
let mapModule = null;

window.gisapp = {answer, map: null, refresh: () => refresh()};
document.body.dataset.citizen = answer.failed ? 'failed' : 'ready';

function hereUrl() {
  return query ? `/api/public/here?${query}` : '/api/public/here';
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(refresh, ms);
}

function show(next) {
  const news = orderNews(answer, next, data);
  answer = next;
  window.gisapp.answer = next;
  renderAnswer(next, data, {onMap: showOnMap});
  if (mapModule) mapModule.update(next);
  // a new or changed 避難情報 is said at once (role=alert); the rest of a refresh quietly
  if (news) document.getElementById('citizen-evac-announce').textContent = news;
}

/** Ask again; a failure says so (and that the answer on screen is from its time), never "empty". */
async function refresh() {
  document.body.dataset.citizen = 'loading';
  try {
    const next = await getJSON(hereUrl());
    failures = 0;
    show(next);
    if (next.offline_copy) {
      // the service worker answered from its copy: the network is gone
      document.body.dataset.citizen = 'offline-copy';
      status.show('error', [{text: format(text.as_of_offline, next.generated_at)}]);
      schedule(RETRY_MS[0]);
      return;
    }
    status.clear();
    document.body.dataset.citizen = 'ready';
    schedule(REFRESH_MS);
  } catch (error) {
    failures += 1;
    const wait = RETRY_MS[Math.min(failures - 1, RETRY_MS.length - 1)];
    const lines = error instanceof ApiError && error.status === 0
      ? [{text: format(text.as_of_offline, answer.generated_at)}]
      : [...(answer.failed ? [{text: text.shelters_failed}] : []), ...errorLines(error, common, data.lang),
        {text: common.retrying.replace('{seconds}', String(Math.round(wait / 1000)))}];
    if (answer.failed) {
      const list = document.getElementById('citizen-shelter-list');
      list.dataset.state = 'failed';
    }
    document.body.dataset.citizen = answer.failed ? 'failed' : 'offline-copy';
    status.show('error', lines);
    schedule(wait);
  }
}

function format(template, iso) {
  const date = iso ? new Date(iso) : null;
  const time = date ? date.toLocaleString(data.lang === 'en' ? 'en-GB' : 'ja-JP',
    {month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Tokyo'}) : '—';
  return template.replace('{time}', time);
}

/* ----------------------------------------------------------------------------- position */
const locate = document.getElementById('citizen-locate');

function useLocation(quiet) {
  if (!('geolocation' in navigator)) {
    if (!quiet) denied();
    return;
  }
  locate.setAttribute('aria-busy', 'true');
  document.getElementById('citizen-place-name').textContent = text.place_locating;
  navigator.geolocation.getCurrentPosition(
    (position) => {
      locate.removeAttribute('aria-busy');
      const {latitude, longitude} = position.coords;
      query = `lat=${latitude.toFixed(5)}&lon=${longitude.toFixed(5)}`;
      refresh().then(() => {
        announce(document.getElementById('citizen-shelters-title').textContent);
        if (!quiet) document.getElementById('citizen-shelters-title').focus();
      });
    },
    () => {
      locate.removeAttribute('aria-busy');
      renderAnswer(answer, data, {onMap: showOnMap});  // the place line as it was
      if (!quiet) denied();
    },
    {enableHighAccuracy: false, timeout: 15000, maximumAge: 120000},
  );
}

function denied() {
  status.show('error', [{text: text.place_denied}]);
  const details = document.querySelector('.citizen-place-choose');
  details.open = true;
  document.getElementById('citizen-area').focus();
}

locate.hidden = false;
locate.addEventListener('click', () => useLocation(false));
// A resident who allowed it before gets the nearest shelters without pressing anything.
if (navigator.permissions && !data.here_query) {
  navigator.permissions.query({name: 'geolocation'})
    .then((permission) => { if (permission.state === 'granted') useLocation(true); })
    .catch(() => {});
}

/* ----------------------------------------------------------------------------- the map, on demand */
const toggle = document.getElementById('citizen-map-toggle');
const box = document.getElementById('citizen-map-box');
toggle.hidden = false;

let mapLoading = null;

async function openMap() {
  box.hidden = false;
  toggle.setAttribute('aria-expanded', 'true');
  toggle.textContent = text.map_hide;
  if (mapLoading) return mapLoading;  // opened twice at once (a desktop's own opening and a tap): one map
  if (!mapModule) {
    mapLoading = import('../citizen/map.js')
      .then((module) => module.showMap(document.getElementById('citizen-map'), data, answer, hereUrl()))
      .then((shown) => {
        mapModule = shown;
        window.gisapp.map = shown.map;
        return shown;
      })
      .finally(() => {
        mapLoading = null;
      });
    return mapLoading;
  }
  mapModule.map.invalidateSize();
  return mapModule;
}

toggle.addEventListener('click', () => {
  if (box.hidden) {
    openMap().catch((error) => {
      console.error(error);
      status.show('error', [{text: text.map_failed}]);
    });
  } else {
    box.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    toggle.textContent = text.map_show;
    toggle.focus();
  }
});

async function showOnMap(shelterId) {
  const shown = await openMap();
  document.getElementById('citizen-map-section').scrollIntoView({block: 'start'});
  shown.focusShelter(shelterId);
}

renderAnswer(answer, data, {onMap: showOnMap, firstTime: true});
// A desktop has room for the map beside the answers: shown at once there.
if (window.matchMedia('(min-width: 60rem)').matches) openMap().catch((error) => console.error(error));

/* ----------------------------------------------------------------------------- pushed 避難情報 */
// The evacuation information's push ("changed, version N"): an issue or a 解除 is on screen within
// seconds, not at the next minute's refresh. The server may refuse (503, too many streams): polling stays.
if ('EventSource' in window) {
  const stream = new EventSource('/api/public/evacuation-info/stream');
  stream.addEventListener('version', (event) => {
    document.body.dataset.evacStream = 'open';
    const {version} = JSON.parse(event.data);
    if (version !== answer.evacuation.version) refresh();
  });
  stream.addEventListener('error', () => {
    if (stream.readyState === EventSource.CLOSED) document.body.dataset.evacStream = 'closed';
  });
}

/* ----------------------------------------------------------------------------- offline copy, refresh */
if ('serviceWorker' in navigator && data.sw) {
  navigator.serviceWorker.register(data.sw, {scope: '/'}).catch((error) => console.error(error));
}
// Ask at once when the page is an old copy (the service worker's, while the network is gone) or the
// server could not read its data; otherwise at the next refresh.
const age = Date.now() - new Date(answer.generated_at).getTime();
if (document.body.dataset.offlineCopy) {
  // the service worker gave its copy of the page: say so before anything else
  document.body.dataset.citizen = 'offline-copy';
  status.show('error', [{text: format(text.as_of_offline, answer.generated_at)}]);
}
schedule(answer.failed || document.body.dataset.offlineCopy || navigator.onLine === false || age > OLD_MS
  ? 0 : REFRESH_MS);
window.addEventListener('online', () => schedule(0));
