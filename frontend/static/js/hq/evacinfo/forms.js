/* HQ map 避難情報: the forms — issue (発令), change level, change areas (non-modal: areas are chosen in a
 * keyboard-operable list or by clicking them on the map) and the confirm dialogs for 解除 and 見送り
 * (modal <dialog>, labelled, Escape closes, focus returns to the button that opened it: dialogs.js).
 * Used by panel.js, which hands in its state and helpers as `ctx`.
 *
 * A change names the version shown (expected_version); a 409 keeps the form open with the fresh state
 * and the conflict notice, and the next submit names the fresh version: a person decides again.
 * Browser tests can wait for: #gisapp-ei-form[data-mode], #gisapp-ei-chosen[data-n],
 *   .gisapp-ei-current[data-version], #gisapp-ei-form-notice[data-kind], dialog#gisapp-ei-dialog
 */
import {getJSON} from '../../lib/api.js';
import {format} from '../../lib/dom.js';
import {make} from '../util.js';
import {areaChooser} from './areas.js';
import {evacinfoDialogs} from './dialogs.js';
import {field} from './fields.js';

// The levels and hazards an order may take come from the server (page data rules: evac_issue_levels,
// evac_hazards); their words come with the answers (describe), else the code shows.

export function evacinfoForms(ctx) {
  const LEVELS = ctx.rules.evac_issue_levels;
  const HAZARDS = ctx.rules.evac_hazards;
  const text = ctx.text;
  const _map = ctx.map;
  const formBox = ctx.formBox;
  const levelInfo = ctx.levelInfo;
  const hazardInfo = ctx.hazardInfo;
  const _areaByCode = ctx.areaByCode;
  const levelText = ctx.levelText;
  const hazardText = ctx.hazardText;
  const areaNames = ctx.areaNames;
  const words = ctx.words;
  const chip = ctx.chip;
  const learn = ctx.learn;
  const send = ctx.send;
  const button = ctx.button;
  const showNotice = ctx.showNotice;
  const clearNotice = ctx.clearNotice;
  const errorLines = ctx.errorLines;
  const load = ctx.load;
  const afterLoad = ctx.afterLoad;
  const focusAfter = ctx.focusAfter;
  let formState = null;   // {mode: issue|level|areas, order?, suggestion?, from, version}
  let formRefs = {};
  let chooser = null;     // areas.js, while a form with areas is open

  function openForm(mode, what, from) {
    closeForm(false);
    clearNotice();
    const o = what.order || null;
    const s = what.suggestion || null;
    formState = {mode: mode, order: o, suggestion: s, from: from || null, version: o ? o.version : null};
    formRefs = {};
    formBox.textContent = '';
    formBox.hidden = false;
    formBox.setAttribute('data-mode', mode);
    formBox.setAttribute('role', 'dialog');  // non-modal: the map stays usable for choosing areas
    formBox.setAttribute('aria-modal', 'false');
    const h = make('h3', null, mode === 'level' ? text.form_level : mode === 'areas' ? text.form_areas
                                    : s ? text.form_issue_from : text.form_issue);
    h.id = 'gisapp-ei-form-title';
    h.tabIndex = -1;
    formBox.setAttribute('aria-labelledby', h.id);
    formBox.appendChild(h);
    const form = make('form');
    form.noValidate = true;
    formBox.appendChild(form);
    if (o) {
      const current = make('p', 'gisapp-ei-current');
      formRefs.current = current;
      form.appendChild(current);
      showFormOrder(o);
      const meanwhile = make('p', 'gisapp-ei-meanwhile');
      meanwhile.setAttribute('role', 'status');
      meanwhile.hidden = true;
      formRefs.meanwhile = meanwhile;
      form.appendChild(meanwhile);
    }
    if (s) {
      const because = make('p', 'gisapp-ei-reason', words(s, 'reason'));
      form.appendChild(because);
    }

    if (mode !== 'areas') {  // level: issue and change level
      const levels = make('fieldset', 'gisapp-ei-levels');
      levels.appendChild(make('legend', null, text.level));
      formRefs.levels = {};
      LEVELS.forEach((n) => {
        const r = make('input');
        r.type = 'radio';
        r.name = 'gisapp-ei-level';
        r.id = `gisapp-ei-level-${n}`;
        r.value = String(n);
        r.checked = (o ? o.level : s ? s.level : 4) === n;
        formRefs.levels[n] = r;
        const lab = make('label', 'gisapp-inc-check gisapp-ei-level-choice');
        lab.appendChild(r);
        lab.appendChild(chip({level: n, name_ja: levelInfo[n]?.name_ja, name_en: levelInfo[n]?.name_en,
                              colour: levelInfo[n]?.colour, text_colour: levelInfo[n]?.text_colour}));
        levels.appendChild(lab);
      });
      form.appendChild(levels);
    }
    if (mode === 'issue') {
      const hazard = make('select');
      hazard.id = 'gisapp-ei-hazard';
      (Object.keys(hazardInfo).length ? Object.keys(hazardInfo) : HAZARDS).forEach((hz) => {
        const info = hazardInfo[hz];
        const opt = make('option', null, info ? words(info, 'hazard') : hz);
        opt.value = hz;
        hazard.appendChild(opt);
      });
      hazard.value = s ? s.hazard : 'landslide';
      formRefs.hazard = hazard;
      form.appendChild(field(text.hazard, hazard));
    }
    if (mode !== 'level') {  // areas: a filterable checkbox list, and the map
      chooser = areaChooser(ctx, o ? o.area_codes : s ? s.area_codes : []);
      form.appendChild(chooser.element);
    }
    const reason = make('textarea');
    reason.id = 'gisapp-ei-reason';
    reason.rows = 3;
    reason.maxLength = 1000;
    reason.required = true;
    reason.setAttribute('aria-required', 'true');
    if (s) reason.value = s.reason_ja || '';
    formRefs.reason = reason;
    form.appendChild(field(text.reason, reason, text.reason_hint));
    const formNotice = make('div', 'gisapp-ei-notice');
    formNotice.id = 'gisapp-ei-form-notice';
    formNotice.setAttribute('role', 'alert');
    formNotice.hidden = true;
    formRefs.notice = formNotice;
    form.appendChild(formNotice);
    const submit = make('button', 'gisapp-inc-button gisapp-inc-primary',
                           mode === 'issue' ? text.submit_issue : text.submit_change);
    submit.type = 'submit';
    submit.id = 'gisapp-ei-submit';
    formRefs.submit = submit;
    form.appendChild(submit);
    const back = button(text.cancel_form);
    back.id = 'gisapp-ei-form-close';
    back.addEventListener('click', () => { closeForm(true); });
    form.appendChild(back);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      submitForm();
    });
    h.focus();
  }

  /** The order as the form acts on it: what is shown is always the version the change will name. */
  function showFormOrder(o) {
    if (!formRefs.current) return;
    formRefs.current.textContent = format(text.form_current,
      {level: levelText(o), hazard: hazardText(o), areas: areaNames(o), v: o.version});
    formRefs.current.setAttribute('data-version', String(o.version));
  }

  /** A reload while the form is open: if someone changed the order meanwhile, say so, but keep the
   * version shown (the person decided on it; sending gets the 409 and the fresh state). */
  function noticeChangedMeanwhile() {
    if (!formState?.order || !formRefs.meanwhile) return;
    const st = formState;
    const now = ctx.orders().filter((x) => x.id === st.order.id)[0];
    const changed = !now || now.version !== st.version;
    formRefs.meanwhile.textContent = changed
      ? format(text.changed_meanwhile, {v: now ? now.version : '—'}) : '';
    formRefs.meanwhile.hidden = !changed;
  }

  function closeForm(restoreFocus) {
    if (!formState) return;
    const from = formState.from;
    formState = null;
    formRefs = {};
    formBox.hidden = true;
    formBox.textContent = '';
    if (chooser) chooser.close();
    chooser = null;
    if (restoreFocus) focusAfter(from);
  }
  formBox.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeForm(true);
    }
  });

  function formProblem(lines) {
    formRefs.notice.textContent = '';
    lines.forEach((line) => {
      const p = make('p', null, line.text);
      if (line.lang) p.lang = line.lang;
      formRefs.notice.appendChild(p);
    });
    formRefs.notice.hidden = false;
  }

  function submitForm() {
    const st = formState;
    const reason = formRefs.reason.value.trim();
    let level = null;
    if (formRefs.levels) {
      LEVELS.forEach((n) => { if (formRefs.levels[n].checked) level = n; });
    }
    const codes = st.mode === 'level' ? null : chooser.codes();
    const missing = [];
    if (formRefs.levels && level === null) missing.push(text.level);
    if (codes !== null && !codes.length) missing.push(text.areas);
    if (!reason) missing.push(text.reason);
    if (missing.length) {
      formProblem([{text: format(text.missing, {fields: missing.join('・')})}]);
      (reason ? (chooser?.firstBox() || formRefs.submit)
              : formRefs.reason).focus();
      return;
    }
    let request;
    if (st.mode === 'issue') {
      const bodyIssue = {level: level, hazard: formRefs.hazard.value, area_codes: codes, reason: reason};
      if (st.suggestion) bodyIssue.suggestion_id = st.suggestion.id;
      // No disaster_id: the server ties the order to the disaster in progress (the incident panel may be
      // showing a closed one, for review).
      request = send('POST', '/api/evacuation-info/orders', bodyIssue);
    } else {
      const change = {expected_version: st.version, reason: reason};
      if (st.mode === 'level') change.level = level;
      else change.area_codes = codes;
      request = send('PATCH', `/api/evacuation-info/orders/${st.order.id}`, change);
    }
    formRefs.submit.disabled = true;
    request.then((result) => {
      if (formState !== st) return;
      if (result.ok) {
        const o = result.data;
        learn(o);
        closeForm(false);
        showNotice('ok', [{text: format(st.mode === 'issue' ? text.issued_ok : text.changed_ok,
          {what: `${levelText(o)}（${hazardText(o)}）${areaNames(o)}`})}]);
        load();
        afterLoad((last) => {
          const heading = document.getElementById(`gisapp-ei-order-${o.id}`);
          if (heading || last) focusAfter(heading);
          return !!heading;
        });
      } else if (result.status === 409 && st.order) {
        // Someone else changed it: show the fresh state; the next submit names the fresh version.
        formRefs.submit.disabled = false;
        const lines = [{text: text.conflict}].concat(errorLines(result));
        formProblem(lines);
        formRefs.notice.setAttribute('data-kind', 'conflict');
        getJSON(`/api/evacuation-info/orders/${st.order.id}`).then((fresh) => {
          if (formState !== st) return;
          learn(fresh);
          st.order = fresh;
          st.version = fresh.version;
          showFormOrder(fresh);
          noticeChangedMeanwhile();
          load();
          if (fresh.status === 'cancelled') formRefs.submit.disabled = true;
        });
      } else {
        formRefs.submit.disabled = false;
        formProblem(errorLines(result));
      }
    }).catch((error) => {
      console.error(error);
      if (formState === st) {
        formRefs.submit.disabled = false;
        formProblem([{text: format(text.failed, {status: '—'})}]);
      }
    });
  }

  const dialogs = evacinfoDialogs(ctx);

  return {
    openForm: openForm,
    confirmCancel: dialogs.confirmCancel,
    confirmDismiss: dialogs.confirmDismiss,
    /** After a reload: a change form shows the order's fresh state. */
    refresh: noticeChangedMeanwhile
  };
}
