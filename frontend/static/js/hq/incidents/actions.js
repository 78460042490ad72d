/* What the incident panel's buttons do: change the status (If-Match: the version shown; a 409 says
 * who was first and what the state is now), dispatch a unit or team, move an assignment on.
 * After each the panel is redrawn with focus on its heading, and the result is announced (the notice
 * is role=alert) — focus never falls to <body>. */

import {format} from '../../lib/dom.js';
import {sendResult} from '../util.js';

function busy(b, on) {
  b.disabled = on;
  b.setAttribute('aria-busy', on ? 'true' : 'false');
}

function failed(c, b, error) {
  console.error(error);
  busy(b, false);
  c.notices.show('error', [{text: format(c.text.failed, {status: error.status || '—'})}]);
}

export async function changeStatus(c, inc, to, b) {
  const {text} = c;
  busy(b, true);
  try {
    const result = await sendResult('PATCH', `/api/incidents/${inc.id}`, {status: to}, {'If-Match': `"${inc.version}"`});
    if (result.ok) {
      c.notices.show('ok', [{text: format(text.updated, {title: result.data.title, status: c.statusWord(result.data.status)})}]);
    } else if (result.status === 409) {
      const current = (result.data.error?.current) || {};
      const lines = [{lang: c.lang, text: text.conflict}, {lang: text.conflict_other.lang, text: text.conflict_other.text}];
      if (current.status) {
        lines.push({text: format(text.conflict_current, {status: c.statusWord(current.status), v: current.version})});
      }
      c.notices.show('conflict', lines);
    } else {
      c.notices.show('error', c.notices.errorLines(result));
    }
    c.panel.refresh(true);
    c.loadIncidents();
  } catch (error) {
    failed(c, b, error);
  }
}

export async function dispatchTo(c, inc, body, name, b) {
  busy(b, true);
  try {
    const result = await sendResult('POST', `/api/incidents/${inc.id}/assignments`, body);
    if (result.ok) {
      c.notices.show('ok', [{text: format(c.text.dispatched, {unit: name})}]);
    } else {
      const lines = c.notices.errorLines(result);
      const holder = result.data.error && c.shown[result.data.error.incident_id];
      if (result.status === 409 && holder) lines.push({text: holder.title});  // the holder, by name
      c.notices.show(result.status === 409 ? 'conflict' : 'error', lines);
    }
    c.panel.refresh(true);
    c.loadIncidents();
  } catch (error) {
    failed(c, b, error);
  }
}

export async function setAssignment(c, a, state, b) {
  busy(b, true);
  try {
    const result = await sendResult('PATCH', `/api/assignments/${a.id}`, {state});
    if (!result.ok) c.notices.show('error', c.notices.errorLines(result));
    c.panel.refresh(true);
  } catch (error) {
    failed(c, b, error);
  }
}
