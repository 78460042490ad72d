/* HQ map 避難情報: the confirm dialogs for 解除 (cancel an order) and 見送り (dismiss a suggestion) —
 * modal <dialog>, labelled, a reason required, Escape closes, focus returns to the button that opened it
 * (or, after the action, to the list's heading). Used by forms.js with the panel's `ctx`.
 * Tests: dialog#gisapp-ei-dialog. */

import {format} from '../../lib/dom.js';
import {make} from '../util.js';
import {field} from './fields.js';

export function evacinfoDialogs(ctx) {
  const text = ctx.text;
  const levelText = ctx.levelText;
  const hazardText = ctx.hazardText;
  const areaNames = ctx.areaNames;
  const send = ctx.send;
  const button = ctx.button;
  const showNotice = ctx.showNotice;
  const errorLines = ctx.errorLines;
  const load = ctx.load;
  const afterLoad = ctx.afterLoad;
  const focusAfter = ctx.focusAfter;

  /* ---------------------------------------------------------------- cancel and dismiss: modal dialogs */
  function modal(titleText, lead, what, submitText, onSubmit, from) {
    const dialog = make('dialog', 'gisapp-ei-dialog');
    dialog.id = 'gisapp-ei-dialog';
    const h = make('h3', null, titleText);
    h.id = 'gisapp-ei-dialog-title';
    dialog.setAttribute('aria-labelledby', h.id);
    dialog.appendChild(h);
    const p = make('p', null, lead);
    p.id = 'gisapp-ei-dialog-desc';
    dialog.setAttribute('aria-describedby', p.id);
    dialog.appendChild(p);
    dialog.appendChild(make('p', 'gisapp-ei-dialog-what', what));
    const form = make('form');
    form.noValidate = true;
    const reason = make('textarea');
    reason.id = 'gisapp-ei-dialog-reason';
    reason.rows = 3;
    reason.maxLength = 1000;
    reason.required = true;
    reason.setAttribute('aria-required', 'true');
    form.appendChild(field(text.reason, reason, text.reason_hint));
    const problem = make('div', 'gisapp-ei-notice');
    problem.setAttribute('role', 'alert');
    problem.hidden = true;
    form.appendChild(problem);
    const ok = make('button', 'gisapp-inc-button gisapp-ei-danger', submitText);
    ok.type = 'submit';
    ok.id = 'gisapp-ei-dialog-submit';
    form.appendChild(ok);
    const no = button(text.cancel_form);
    no.id = 'gisapp-ei-dialog-close';
    no.addEventListener('click', () => { dialog.close(); });
    form.appendChild(no);
    dialog.appendChild(form);
    function fail(lines) {
      problem.textContent = '';
      lines.forEach((line) => {
        const q = make('p', null, line.text);
        if (line.lang) q.lang = line.lang;
        problem.appendChild(q);
      });
      problem.hidden = false;
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = reason.value.trim();
      if (!value) {
        fail([{text: format(text.missing, {fields: text.reason})}]);
        reason.focus();
        return;
      }
      ok.disabled = true;
      onSubmit(value, dialog, fail, () => { ok.disabled = false; });
    });
    // Escape closes (the browser's cancel), and focus goes back to the button that opened it.
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (dialog.returnFocus !== false) focusAfter(from);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    reason.focus();
    return dialog;
  }

  function confirmCancel(o, from) {
    const what = levelText(o) + '（' + hazardText(o) + '）' + areaNames(o) + ' ・ ' +
      format(text.version, {v: o.version});
    modal(text.cancel_title, text.cancel_confirm, what, text.cancel_submit, (reason, dialog, fail, again) => {
      send('POST', `/api/evacuation-info/orders/${o.id}/cancel`, {expected_version: o.version, reason: reason})
        .then((result) => {
          if (result.ok) {
            dialog.returnFocus = false;
            dialog.close();
            showNotice('ok', [{text: format(text.cancelled_ok, {what: what})}]);
            load();
            afterLoad((last) => {
              const gone = !document.getElementById(`gisapp-ei-order-${o.id}`);
              if (gone || last) focusAfter(null, 'gisapp-ei-orders-title');
              return gone;
            });
          } else if (result.status === 409) {
            fail([{text: text.conflict}].concat(errorLines(result)));
                load();  // the list behind the dialog shows the fresh state; this dialog names the old version
          } else {
            fail(errorLines(result));
            again();
          }
        })
        .catch(() => { again(); fail([{text: format(text.failed, {status: '—'})}]); });
    }, from);
  }

  function confirmDismiss(s, from) {
    const what = `${levelText(s)}（${hazardText(s)}）${areaNames(s)}`;
    modal(text.dismiss_title, text.dismiss_confirm, what, text.dismiss_submit, (reason, dialog, fail, again) => {
      send('POST', `/api/evacuation-info/suggestions/${s.id}/dismiss`, {reason: reason})
        .then((result) => {
          if (result.ok) {
            dialog.returnFocus = false;
            dialog.close();
            showNotice('ok', [{text: text.dismissed_ok}]);
            load();
            afterLoad((last) => {
              const gone = !document.getElementById(`gisapp-ei-suggestion-${s.id}`);
              if (gone || last) focusAfter(null, 'gisapp-ei-suggestions-title');
              return gone;
            });
          } else {
            fail(errorLines(result));
            again();
          }
        })
        .catch(() => { again(); fail([{text: format(text.failed, {status: '—'})}]); });
    }, from);
  }

  return {confirmCancel: confirmCancel, confirmDismiss: confirmDismiss};
}
