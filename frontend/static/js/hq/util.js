/* Small helpers shared by the HQ map's modules (static/js/hq/): elements in the panels' style, JSON
 * writes that resolve whatever the status (the caller decides what a 409 means), a panel's notice
 * area, dates in the page's locale. */

import {request} from '../lib/api.js';
import {el, format, noticeBox} from '../lib/dom.js';

/** An element with a class and a text: make('p', 'gisapp-x', 'text'). */
export function make(tag, className, text) {
  return el(tag, {class: className || null}, text === undefined || text === null ? null : String(text));
}

/** A type=button button. */
export function button(label, className) {
  const b = make('button', className, label);
  b.type = 'button';
  return b;
}

/** A labelled field: <div><label for>…</label>control</div>. */
export function field(label, control, className = 'gisapp-inc-field') {
  const wrap = make('div', className);
  const lab = make('label', null, label);
  lab.htmlFor = control.id;
  wrap.append(lab, control);
  return wrap;
}

/** Send JSON; resolves {status, ok, data, etag} whatever the status. Rejects only when the network
 * fails (ApiError status 0). */
export async function sendResult(method, url, body, headers = {}) {
  const init = {method, headers: {...headers}};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await request(url, init);
  const data = await response.json().catch(() => ({}));
  return {status: response.status, ok: response.ok, data: data || {}, etag: response.headers.get('ETag')};
}

/** A panel's notice area (lib/dom.js noticeBox) plus errorLines(result): a refused request's own
 * Japanese and English message, the page's language first, else `failed` with the status. */
export function panelNotice(notice, lang, failedTemplate) {
  const box = noticeBox(notice);
  return {
    show: box.show,
    clear: box.clear,
    errorLines(result) {
      const error = (result.data?.error) || {};
      const lines = [];
      if (error.message_ja) lines.push({lang: 'ja', text: error.message_ja});
      if (error.message_en) lines.push({lang: 'en', text: error.message_en});
      if (lang === 'en') lines.reverse();
      if (!lines.length) lines.push({text: format(failedTemplate, {status: result.status})});
      return lines;
    },
  };
}

/** A date and time in the page's locale ('—' for none). */
export function when(value, locale, options) {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString(locale, options);
}

/** The roles of the signed-in user: may they act as HQ (issue, acknowledge, write notes)? */
export function isOperator(me) {
  const roles = (me?.roles) || [];
  return roles.includes('hq_operator') || roles.includes('admin');
}
