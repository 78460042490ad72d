/* Pre-registration (/register) and the resident's own page (/register/{token}).
 * - the form is in the HTML (templates/register.html); members come from its <template>;
 * - on /register, a successful POST replaces the form by the result at the top (QR code, check-in
 *   number, links to the own page and to /evacuation/{token}), focused and scrolled into view: the
 *   form is gone, so nothing can be registered twice by a second press;
 * - on /register/{token} the QR code is already first; the form is filled from the API and saves
 *   with PUT;
 * - errors are shown by their fields (lib/form.js), with a summary when there are several.
 * Test hooks: #register-result:not([hidden]), #register-status[data-state]. */

import {ApiError, getJSON, send} from '../lib/api.js';
import {el, format, pageData} from '../lib/dom.js';
import {apiProblems, clearErrors, showErrors} from '../lib/form.js';

const data = pageData();
const t = data.text.register;
const lang = data.lang;
const MAX_MEMBERS = 20;

const form = document.getElementById('register-form');
const summary = document.getElementById('register-summary');
const list = document.getElementById('register-member-list');
const template = document.getElementById('register-member-template');
const addButton = document.getElementById('register-add');
const submit = document.getElementById('register-submit');
const status = document.getElementById('register-status');
const result = document.getElementById('register-result');
let memberSerial = 0;

/** A random UUID (crypto.randomUUID needs a secure context; getRandomValues does not). */
function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
// This registration's own id: sent again (a second press, a retry), the server answers the first one.
const requestId = randomId();

/** Number the members (legend, remove label, data-field for the server's errors). */
function renumber() {
  [...list.children].forEach((box, i) => {
    const n = i + 1;
    box.querySelector('[data-role="legend"]').textContent = format(t.member, {n});
    const remove = box.querySelector('[data-role="remove"]');
    remove.textContent = format(t.remove_member, {n});
    remove.hidden = list.children.length === 1;
    for (const input of box.querySelectorAll('[data-name]')) input.dataset.field = `members.${i}.${input.dataset.name}`;
  });
  addButton.disabled = list.children.length >= MAX_MEMBERS;
}

function addMember(member = {}) {
  const box = template.content.firstElementChild.cloneNode(true);
  const serial = ++memberSerial;
  for (const input of box.querySelectorAll('[data-name]')) input.id = `register-member-${serial}-${input.dataset.name}`;
  for (const label of box.querySelectorAll('label[data-for]')) label.htmlFor = `register-member-${serial}-${label.dataset.for}`;
  box.querySelector('[data-name="name"]').value = member.name || '';
  box.querySelector('[data-name="birth_year"]').value = member.birth_year ? String(member.birth_year) : '';
  box.querySelector('[data-name="needs_care"]').checked = Boolean(member.needs_care);
  box.querySelector('[data-name="needs"]').value = member.needs || '';
  box.querySelector('[data-role="remove"]').addEventListener('click', () => {
    if (list.children.length <= 1) return;
    const next = box.nextElementSibling || box.previousElementSibling;
    box.remove();
    renumber();
    next.querySelector('[data-name="name"]').focus();  // not left on <body>
  });
  list.append(box);
  renumber();
  return box;
}

addButton.addEventListener('click', () => {
  if (list.children.length < MAX_MEMBERS) addMember().querySelector('[data-name="name"]').focus();
});

function collect() {
  const members = [...list.children].map((box) => {
    const year = box.querySelector('[data-name="birth_year"]').value;
    return {
      name: box.querySelector('[data-name="name"]').value.trim(),
      birth_year: year ? Number(year) : null,
      needs_care: box.querySelector('[data-name="needs_care"]').checked,
      needs: box.querySelector('[data-name="needs"]').value.trim(),
    };
  });
  return {
    representative_name: form.elements.representative_name.value.trim(),
    phone: form.elements.phone.value.trim(),
    address: form.elements.address.value.trim(),
    members,
    pets: Number.parseInt(form.elements.pets.value || '0', 10) || 0,
  };
}

/** The required fields, checked before sending (the server checks everything again). */
function missing(body) {
  const problems = [];
  if (!body.representative_name) problems.push({field: 'representative_name', text: t.required_name});
  body.members.forEach((member, i) => {
    if (!member.name) problems.push({field: `members.${i}.name`, text: format(t.required_member, {n: i + 1})});
  });
  return problems;
}

function setStatus(state, message) {
  status.dataset.state = state;
  status.textContent = message;
}

function showResult(links, fresh) {
  document.getElementById('register-qr').src = links.qr_svg;
  // Two lines of four groups, as the own page shows it (the kiosk takes it with or without spaces).
  const groups = links.token_display.split(' ');
  const lines = [groups.slice(0, 4).join(' '), groups.slice(4).join(' ')];
  document.getElementById('register-token').replaceChildren(
    el('span', {class: 'register-token-line'}, lines[0]), ' ', el('span', {class: 'register-token-line'}, lines[1]));
  const suffix = lang === 'ja' ? '' : `?lang=${lang}`;
  document.getElementById('register-page-link').href = links.url + suffix;
  document.getElementById('register-evacuation-link').href = links.evacuation_url + suffix;
  document.getElementById('register-qr-svg').href = links.qr_svg;
  document.getElementById('register-qr-png').href = links.qr_png;
  if (fresh) {
    document.getElementById('register-result-title').textContent = t.done;
    document.getElementById('register-done-text').hidden = false;
    document.getElementById('register-new').hidden = false;
  }
  result.hidden = false;
}

let sending = false;
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (sending) return;  // a second press while the first is on its way does nothing
  const body = collect();
  const problems = missing(body);
  if (problems.length) {
    setStatus('invalid', '');
    showErrors(form, summary, problems, format(t.summary, {n: problems.length}));
    return;
  }
  clearErrors(form, summary);
  sending = true;
  submit.disabled = true;
  setStatus('sending', t.sending);
  try {
    const links = data.token
      ? await send('PUT', `/api/register/${encodeURIComponent(data.token)}`, body)
      : await send('POST', '/api/register', {...body, request_id: requestId});
    if (data.token) {
      setStatus('done', t.saved);
      status.tabIndex = -1;
      status.focus();
    } else {
      // The form has done its work: it goes, the result takes its place at the top.
      form.remove();
      document.querySelector('.register-form-intro')?.remove();
      showResult(links, true);
      result.scrollIntoView({block: 'start'});
      result.focus();
      setStatus('done', '');
      document.body.dataset.registered = 'true';
    }
  } catch (error) {
    const found = apiProblems(error, lang, t.failed, data.text.common);
    setStatus('error', '');
    showErrors(form, summary, found, found.length > 1 ? format(t.summary, {n: found.length}) : t.failed);
  } finally {
    sending = false;
    if (document.body.contains(submit)) submit.disabled = false;
  }
});

async function loadOwn() {
  try {
    const own = await getJSON(`/api/register/${encodeURIComponent(data.token)}`);
    form.elements.representative_name.value = own.representative_name || '';
    form.elements.phone.value = own.phone || '';
    form.elements.address.value = own.address || '';
    form.elements.pets.value = own.pets || 0;
    list.replaceChildren();
    for (const member of own.members?.length ? own.members : [{}]) addMember(member);
    status.dataset.state = 'loaded';
  } catch (error) {
    const found = apiProblems(error, lang, t.failed, data.text.common);
    showErrors(form, summary, found, t.failed);
    if (!(error instanceof ApiError)) console.error(error);
  }
}

if (data.token) {
  addMember();
  loadOwn();
} else {
  addMember();
}
