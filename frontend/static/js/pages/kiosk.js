/* Shelter check-in kiosk (避難所受付, /kiosk).
 *
 * Staff choose the shelter and confirm it with 「この避難所で受付」: changing the <select> alone switches
 * nothing and moves no focus (WCAG 3.2.2). The confirmed shelter is this device's setting and survives a
 * reload while that shelter stays open; nothing is pre-selected otherwise. Then a handheld scanner
 * types the token and Enter into the focused field (or a person types it, or the camera reads it), and
 * entries (入所) or exits (退所) are recorded; walk-ins by number. Results are said in a live region;
 * an error names its field in Japanese and English, marks it aria-invalid and puts focus on it.
 * The kiosk receives and shows counts only (世帯 4名（要配慮 1・ペット 1）), never a name. Some members of
 * a household may enter or leave (部分入所・退所): the optional number goes with that one scan.
 *
 * Tests wait for #evac-shelter option, #evac-current[data-shelter], #evac-feedback[data-result],
 * #evac-pending[data-count], body[data-online]. */

import {errorLines, getJSON} from '../lib/api.js';
import {announce, el, format, pageData} from '../lib/dom.js';
import {startCamera} from '../kiosk/camera.js';
import {outbox} from '../kiosk/queue.js';

const SHELTER_KEY = 'gisapp.kiosk.shelter';

const data = pageData();
const {lang} = data;
const t = data.text.kiosk;
const common = data.text.common;
const $ = (id) => document.getElementById(id);

const shelterForm = $('evac-shelter-form');
const shelter = $('evac-shelter');
const current = $('evac-current');
const feedback = $('evac-feedback');
const occupancy = $('evac-occupancy');
const scanForm = $('evac-scan-form');
const scanInput = $('evac-scan');
const walkForm = $('evac-walk-form');
const walkInput = $('evac-walk');
const camera = $('evac-camera');
const membersInput = $('evac-members');
const fields = {shelter, scan: scanInput, walk_in: walkInput, members: membersInput};

let disasterId = null;
let active = null; // {id, name}: the confirmed shelter
let lastAdded = null; // the scan just made here (its answer may move focus; older queued ones do not)

const kind = () => ($('evac-mode-exit').checked ? 'exit' : 'entry');

// ------------------------------------------------------------------ messages
function show(result, lines) {
  feedback.replaceChildren(...lines.map((line) => el('p', {lang: line.lang || null}, line.text)));
  feedback.dataset.result = result;
}

function clearInvalid() {
  for (const field of Object.values(fields)) {
    field.removeAttribute('aria-invalid');
    field.removeAttribute('aria-errormessage');
  }
}

/** An error about `field` ('shelter' | 'scan' | 'walk_in'): both languages, the page's first, naming
 * the field; the field marked invalid and focused. messages: {ja, en}. */
function fieldError(field, messages, {focus = true} = {}) {
  const order = lang === 'en' ? ['en', 'ja'] : ['ja', 'en'];
  show('error', order.filter((code) => messages[code]).map((code) => ({
    lang: code,
    text: format(code === 'en' ? '{field}: {message}' : '{field}：{message}',
      {field: data.fields[code][field], message: messages[code]}),
  })));
  clearInvalid();
  const control = fields[field];
  control.setAttribute('aria-invalid', 'true');
  control.setAttribute('aria-errormessage', 'evac-feedback');
  if (focus) control.focus();
}

const clientError = (field, key) => fieldError(field, {ja: data.errors.ja[key], en: data.errors.en[key]});

function describe(answer) {
  const values = {persons: answer.persons, care: answer.needs_care || 0, pets: answer.pets || 0};
  if (answer.result === 'already_inside') return format(t.already_inside, values);
  if (answer.walk_in) return format(answer.result === 'entered' ? t.walk_entered : t.walk_exited, values);
  const said = format(answer.result === 'entered' ? t.entered : t.exited, values);
  // Some members only (部分入所・退所): how many of the household are inside now.
  if (answer.inside === null || answer.inside === undefined || !answer.registered) return said;
  // Said only when part of the household is inside: not after all of it entered or all of it left.
  if (answer.inside === (answer.result === 'entered' ? answer.registered : 0)) return said;
  return `${said} ${format(t.household_inside, {inside: answer.inside, registered: answer.registered})}`;
}

function setOnline(online) {
  document.body.dataset.online = online ? 'true' : 'false';
  $('evac-online').textContent = online ? t.online : t.offline;
}

// ------------------------------------------------------------------ the outbox
const box = outbox({
  onCount(n) {
    const pending = $('evac-pending');
    pending.dataset.count = String(n);
    pending.textContent = n ? format(t.pending, {n}) : '';
  },
  onAnswer(_event, answer) {
    clearInvalid();
    show(answer.result, [{text: describe(answer)}]);
    occupancy.textContent = format(t.occupancy, {occupancy: answer.occupancy, capacity: answer.capacity,
      level: lang === 'en' ? answer.level_en : answer.level_ja});
  },
  onRefused(event, error) {
    if (error.status === 401) {
      show('error', [{text: t.login_again}]);
      window.location.href = `/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
      return;
    }
    const reason = error.body?.error?.reason;
    const field = reason === 'shelter_closed' ? 'shelter'
      : reason === 'too_many_persons' || (reason === 'invalid_persons' && event.token !== undefined) ? 'members'
        : event.token !== undefined ? 'scan' : 'walk_in';
    const own = {ja: error.messageJa, en: error.messageEn};
    if (!own.ja && !own.en) own[lang === 'en' ? 'en' : 'ja'] = errorLines(error, common, lang)[0].text;
    fieldError(field, own, {focus: event.client_event_id === lastAdded});
    if (reason === 'shelter_closed') loadShelters();
  },
  onOffline(n) {
    setOnline(false);
    show('queued', [{text: format(t.queued, {n})}]);
  },
  onBusy(n) {
    show('queued', [{text: format(t.busy_queued, {n})}]);
  },
  onOnline() { setOnline(true); },
});

function record(fields) {
  lastAdded = box.add({kind: kind(), shelter_id: active.id, disaster_id: disasterId, ...fields});
}

// ------------------------------------------------------------------ the shelter
/** The confirmed shelter, and a warning while the list shows another one not yet confirmed. */
function showCurrent() {
  current.dataset.shelter = active ? String(active.id) : '';
  const pending = shelter.value !== current.dataset.shelter;
  current.dataset.pending = pending ? 'true' : 'false';
  const lines = [active ? format(t.current, {name: active.name}) : t.current_none];
  if (pending) lines.push(t.unconfirmed);
  current.textContent = lines.join(' ');
}

async function loadShelters() {
  let body;
  try {
    body = await getJSON('/api/kiosk/shelters');
  } catch (error) {
    if (error.status === 401) window.location.href = '/login?next=/kiosk';
    show('error', [{text: format(t.shelters_error, {status: error.status || '?'})}]);
    return;
  }
  disasterId = body.disaster_id;
  const options = [el('option', {value: ''}, body.shelters.length ? t.choose : t.no_shelters)];
  for (const s of body.shelters) options.push(el('option', {value: String(s.shelter_id)}, s.name));
  shelter.replaceChildren(...options);
  document.body.dataset.shelters = String(body.shelters.length);
  // The shelter confirmed on this device before, if it is still open; else nothing chosen.
  const saved = JSON.parse(localStorage.getItem(SHELTER_KEY) || 'null');
  const found = saved && body.shelters.find((s) => String(s.shelter_id) === String(saved.id));
  if (found) {
    active = {id: found.shelter_id, name: found.name};
    shelter.value = String(found.shelter_id);
  } else {
    if (saved) show('error', [{text: format(t.shelter_gone, {name: saved.name || ''})}]);
    active = null;
    localStorage.removeItem(SHELTER_KEY);
  }
  showCurrent();
}

// Choosing in the list only says "not confirmed yet": no switch, no focus move (WCAG 3.2.2).
shelter.addEventListener('change', () => {
  shelter.removeAttribute('aria-invalid');
  showCurrent();
});

shelterForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const option = shelter.selectedOptions[0];
  if (!shelter.value || !option) {
    clientError('shelter', 'no_shelter');
    return;
  }
  active = {id: Number(shelter.value), name: option.textContent};
  localStorage.setItem(SHELTER_KEY, JSON.stringify(active));
  clearInvalid();
  showCurrent();
  announce(current.textContent);
  scanInput.focus(); // the next thing to do after an explicit confirmation: scan
});

// ------------------------------------------------------------------ scans and walk-ins
/** A scan may be recorded: a shelter is confirmed and the list shows that one (a change of shelter
 * left unconfirmed must not send check-ins to a shelter the screen no longer shows). */
function ready() {
  if (!active || disasterId === null) {
    clientError('shelter', 'no_shelter');
    return false;
  }
  if (shelter.value !== String(active.id)) {
    clientError('shelter', 'unconfirmed');
    return false;
  }
  return true;
}

scanForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = scanInput.value.trim();
  if (!value) {
    clientError('scan', 'empty_scan');
    return;
  }
  const members = membersInput.value.trim() === '' ? null : Number(membersInput.value);
  if (members !== null && (!Number.isInteger(members) || members < 1 || members > 20)) {
    clientError('members', 'members_range');
    return;
  }
  if (!ready()) return;
  scanInput.value = '';
  membersInput.value = ''; // a partial count is for this scan only
  scanInput.removeAttribute('aria-invalid');
  membersInput.removeAttribute('aria-invalid');
  record(members === null ? {token: value} : {token: value, persons: members});
  scanInput.focus(); // ready for the next code
});

walkForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const n = Number(walkInput.value);
  if (!Number.isInteger(n) || n < 1 || n > 500) {
    clientError('walk_in', 'walk_in_range');
    return;
  }
  if (!ready()) return;
  walkInput.removeAttribute('aria-invalid');
  record({persons: n});
  walkInput.value = '1';
  walkInput.focus();
});

scanInput.addEventListener('input', () => scanInput.removeAttribute('aria-invalid'));
membersInput.addEventListener('input', () => membersInput.removeAttribute('aria-invalid'));
walkInput.addEventListener('input', () => walkInput.removeAttribute('aria-invalid'));

// ------------------------------------------------------------------ the camera (progressive)
let stopCamera = null;
camera.addEventListener('click', async () => {
  if (stopCamera) {
    stopCamera();
    stopCamera = null;
    camera.textContent = t.camera_start;
    camera.setAttribute('aria-pressed', 'false');
    return;
  }
  const stop = await startCamera($('evac-video'), data.jsqr, (value) => {
    if (ready()) record({token: value});
  });
  if (!stop) {
    show('error', [{text: t.camera_unavailable}]);
    return;
  }
  stopCamera = stop;
  camera.textContent = t.camera_stop;
  camera.setAttribute('aria-pressed', 'true');
});

setOnline(navigator.onLine);
loadShelters().then(() => box.flush());
