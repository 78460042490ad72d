/* Form errors, the same way on every form: each problem is shown by its field (aria-invalid, the
 * message linked by aria-describedby), several are listed in a summary at the top whose links move to
 * the field, and focus goes to the one field or to the summary — never left on <body>.
 * A field is found by data-field="<the server's field name>" (members.0.name …) inside the form. */

import {errorLines} from './api.js';
import {el} from './dom.js';

/** Remove every error mark of `form` and hide `summary`. */
export function clearErrors(form, summary) {
  for (const node of form.querySelectorAll('[aria-invalid="true"]')) {
    node.removeAttribute('aria-invalid');
    const own = node.dataset.errorId;
    if (own) {
      const described = (node.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== own);
      if (described.length) node.setAttribute('aria-describedby', described.join(' '));
      else node.removeAttribute('aria-describedby');
      delete node.dataset.errorId;
    }
  }
  for (const message of form.querySelectorAll('.gisapp-field-error')) message.remove();
  if (summary) {
    summary.hidden = true;
    summary.replaceChildren();
  }
}

let counter = 0;

/** Show problems [{field, text, lang?}] on `form`; `title` heads the summary. Returns the element that
 * got focus. */
export function showErrors(form, summary, problems, title) {
  clearErrors(form, summary);
  const placed = [];
  const loose = [];
  for (const problem of problems) {
    const target = problem.field ? form.querySelector(`[data-field="${CSS.escape(problem.field)}"]`) : null;
    if (!target) {
      loose.push(problem);
      continue;
    }
    if (!target.id) target.id = `gisapp-field-${++counter}`;
    const id = `${target.id}-error`;
    const message = el('p', {class: 'gisapp-field-error', id, lang: problem.lang || null}, problem.text);
    if (target.tagName === 'FIELDSET') target.append(message);
    else target.after(message);
    target.setAttribute('aria-invalid', 'true');
    target.dataset.errorId = id;
    const described = (target.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    target.setAttribute('aria-describedby', [...described, id].join(' '));
    placed.push({problem, target});
  }
  const focusable = (target) => (target.tagName === 'FIELDSET'
    ? target.querySelector('input, select, textarea, button') || target : target);
  if (placed.length === 1 && !loose.length) {
    const node = focusable(placed[0].target);
    node.focus();
    return node;
  }
  const items = [
    ...placed.map(({problem, target}) => el('li', {}, el('a', {href: `#${focusable(target).id || target.id}`, lang: problem.lang || null,
      onclick: (event) => {
        event.preventDefault();
        focusable(target).focus();
      }}, problem.text))),
    ...loose.map((problem) => el('li', {lang: problem.lang || null}, problem.text)),
  ];
  summary.replaceChildren(el('p', {}, el('strong', {}, title)), el('ul', {}, items));
  summary.hidden = false;
  summary.focus();
  return summary;
}

/** The problems of an ApiError as [{field, text, lang}]: every field the server named (error.fields),
 * else its one message with its field, in the page's language; without a message from the server,
 * what went wrong (offline, busy, failed) from `common` (the catalogue's common section), else
 * `fallback`. */
export function apiProblems(error, lang, fallback, common = null) {
  const body = error?.body?.error || {};
  const english = lang === 'en';
  if (Array.isArray(body.fields) && body.fields.length) {
    return body.fields.map((f) => ({field: f.field, text: english ? f.message_en : f.message_ja, lang: english ? 'en' : 'ja'}));
  }
  const lines = error?.lines ? error.lines(lang) : [];
  if (!lines.length) {
    if (common) return errorLines(error, common, lang).map((line) => ({field: null, text: line.text, lang: line.lang}));
    return [{field: null, text: fallback}];
  }
  return [{field: error.field || null, text: lines[0].text, lang: lines[0].lang}];
}
