/* 被害報 in the incident panel: the figures of 第4号様式 (labels from the server: page data
 * damage_fields, in the form's order), a reason (needed for a correction), 保存 (PUT with If-Match:
 * the version shown; a 409 shows the figures someone else saved), and the versions with who, when, why.
 *   GET /api/incidents/{id}/damage (ETag = version), GET …/damage/history, PUT …/damage
 * The section is one element kept across the panel's redraws (stream events redraw the panel; what is
 * being typed must survive them); it reloads only when another incident opens or after a save.
 * Tests: #gisapp-damage[data-incident-id][data-version][data-state], #gisapp-damage-history li[data-version]. */

import {getJSON} from '../../lib/api.js';
import {format} from '../../lib/dom.js';
import {button, make, sendResult, when} from '../util.js';

const DATE_FORMAT = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

export function buildDamage(c, fields) {
  const text = c.damageText;
  const box = make('details', 'gisapp-damage');
  box.id = 'gisapp-damage';
  const summary = make('summary', null, text.section);
  box.append(summary);
  const form = make('form', 'gisapp-damage-form');
  form.noValidate = true;
  const inputs = {};
  const status = make('p', 'gisapp-damage-status');
  status.id = 'gisapp-damage-status';
  status.setAttribute('role', 'status');
  const history = make('ol', 'gisapp-damage-history');
  history.id = 'gisapp-damage-history';
  let incidentId = null;
  let version = 0;

  // One fieldset per group of the form; housing rows as 棟・世帯・人 side by side.
  let fieldset = null;
  let group = null;
  for (const f of fields) {
    if (f.group !== group) {
      group = f.group;
      fieldset = make('fieldset', `gisapp-damage-group gisapp-damage-${f.group}`);
      fieldset.append(make('legend', null, f.group_label));
      form.append(fieldset);
    }
    const input = make('input', 'gisapp-damage-input');
    input.type = 'number';
    input.min = '0';
    input.step = '1';
    input.inputMode = 'numeric';
    input.id = `gisapp-damage-${f.name}`;
    input.name = f.name;
    input.value = '0';
    const label = make('label', null, `${f.row}（${f.unit}）`);
    label.htmlFor = input.id;
    const wrap = make('div', 'gisapp-damage-field');
    wrap.append(label, input);
    fieldset.append(wrap);
    inputs[f.name] = input;
  }
  const reason = make('input', 'gisapp-damage-reason');
  reason.type = 'text';
  reason.maxLength = 1000;
  reason.id = 'gisapp-damage-reason';
  const reasonLabel = make('label', null, text.reason);
  reasonLabel.htmlFor = reason.id;
  const save = button(text.save, 'gisapp-inc-button gisapp-damage-save');
  save.type = 'submit';
  save.id = 'gisapp-damage-save';
  form.append(reasonLabel, reason, save, status);
  box.append(form, make('h5', null, text.history), history);

  function fill(current) {
    version = current.version;
    box.dataset.version = String(version);
    for (const [name, input] of Object.entries(inputs)) {
      input.value = String(current.figures[name] ?? 0);
      input.removeAttribute('aria-invalid');
    }
    reason.value = '';
    const d = current.derived || {};
    summary.textContent = version === 0 ? text.section
      : format(text.section_with, {v: version, dead: current.figures.dead, injured: d.injured ?? 0,
        households: d.affected_households ?? 0});
  }

  function drawHistory(versions) {
    history.replaceChildren();
    const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
    for (const v of versions.slice().reverse()) {
      const changes = Object.entries(v.changed || {}).map(([name, ch]) => {
        const f = byName[name];
        return `${f ? `${f.row}（${f.unit}）` : name} ${ch.from}→${ch.to}`;
      });
      const li = make('li', null, [format(text.version, {v: v.version}), when(v.at, c.locale, DATE_FORMAT), v.actor,
        changes.join('、'), v.reason ? format(text.because, {reason: v.reason}) : ''].filter(Boolean).join(' ・ '));
      li.dataset.version = String(v.version);
      history.append(li);
    }
    if (!versions.length) history.append(make('li', null, text.none));
  }

  async function load(id) {
    incidentId = id;
    box.dataset.incidentId = String(id);
    box.dataset.state = 'loading';
    try {
      const [current, versions] = await Promise.all([getJSON(`/api/incidents/${id}/damage`),
        getJSON(`/api/incidents/${id}/damage/history`)]);
      if (id !== incidentId) return;
      fill(current);
      drawHistory(versions);
      box.dataset.state = 'ready';
    } catch (error) {
      console.error(error);
      box.dataset.state = 'error';
      status.textContent = format(text.load_error, {status: error.status || '—'});
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const figures = {};
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.value.trim() === '' ? 0 : Number(input.value);
      figures[name] = value;  // the server says which figure is not a whole number ≥ 0
      input.removeAttribute('aria-invalid');
    }
    save.disabled = true;
    try {
      const result = await sendResult('PUT', `/api/incidents/${incidentId}/damage`,
        {figures, reason: reason.value}, {'If-Match': `"${version}"`});
      if (result.ok) {
        status.textContent = format(text.saved, {v: result.data.version});
        await load(incidentId);
        status.textContent = format(text.saved, {v: result.data.version});
      } else if (result.status === 409) {
        const current = result.data.error?.current;
        status.textContent = format(text.conflict, {v: current ? current.version : '—'});
        if (current) fill(current);  // what is stored now; the operator re-enters the change
      } else {
        const error = result.data.error || {};
        const where = String(error.field || '').replace('figures.', '');
        if (inputs[where]) {
          inputs[where].setAttribute('aria-invalid', 'true');
          inputs[where].focus();
        } else if (where === 'reason') {
          reason.setAttribute('aria-invalid', 'true');
          reason.focus();
        }
        status.textContent = c.notices.errorLines(result).map((l) => l.text).join(' / ');
      }
    } catch (error) {
      console.error(error);
      status.textContent = format(text.load_error, {status: error.status || '—'});
    } finally {
      save.disabled = false;
    }
  });

  return {
    element: box,
    /** The panel opened an incident: load it afresh even if it is the one shown before. */
    forget() {
      incidentId = null;
    },
    /** The open incident's section: loads only when the incident changed. */
    show(id) {
      if (id !== incidentId) {
        box.open = false;
        status.textContent = '';
        load(id);
      }
    },
  };
}
