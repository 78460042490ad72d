/* HQ map: open instructions (指示) with 完了, and the form that gives one. A panel of the HQ page
 * (pages/hq.js PANELS) placed in the クロノロジー panel's slot (./log.js #gisapp-instr-slot).
 *
 *   GET  /api/instructions                       {instructions: [{id, department_ja, body, due_at, overdue, …}]}
 *   GET  /api/departments                        whom an instruction can go to
 *   POST /api/instructions {department_id, text, due_at?, incident_id?}     hq_operator/admin (others: no form)
 *   POST /api/instructions/<id>/complete {result}  the HQ or the instructed department's staff (others: no button)
 *   POST /api/instructions/<id>/withdraw {reason}  取消 by the HQ, with the reason (required)
 *   events "hq_log" of kind "instruction" (→ reload the list)
 *
 * Overdue is said in words (期限超過) as well as shown, and is re-evaluated each minute from the due
 * time already loaded (no request: the stream says when the list itself changes).
 * Browser tests can wait for: #gisapp-instr[data-state="ready"][data-count],
 *   #gisapp-instr-list li[data-instruction-id][data-overdue]
 */
import {getJSON, getJSONOnce} from '../lib/api.js';
import {format, oneAtATime} from '../lib/dom.js';
import {button, field, isOperator, make, panelNotice, sendResult, when} from './util.js';

const TIME_FORMAT = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

function start(config) {
  const text = config.text.hq_log;
  const lang = config.lang;
  let me = null;
  let items = [];

  const root = make('section', 'gisapp-instr');
  root.id = 'gisapp-instr';
  root.setAttribute('data-state', 'loading');
  const h = make('h4', 'gisapp-instr-title', format(text.instr_title, {n: 0}));
  h.id = 'gisapp-instr-title';
  root.setAttribute('aria-labelledby', h.id);
  root.appendChild(h);
  const notice = make('div', 'gisapp-notice');
  notice.setAttribute('role', 'status');
  notice.hidden = true;
  root.appendChild(notice);
  const box = panelNotice(notice, lang, text.failed);
  const list = make('ul', 'gisapp-instr-list');
  list.id = 'gisapp-instr-list';
  root.appendChild(list);

  /* ---------------------------------------------------------------- the form (HQ only) */
  const details = make('details', 'gisapp-instr-new');
  details.hidden = true;
  details.appendChild(make('summary', null, text.instr_new));
  const form = make('form', 'gisapp-instr-form');
  form.noValidate = true;
  const dept = make('select');
  dept.id = 'gisapp-instr-dept';
  const body = make('textarea');
  body.id = 'gisapp-instr-text';
  body.rows = 2;
  body.maxLength = 2000;
  const due = make('input');
  due.id = 'gisapp-instr-due';
  due.type = 'datetime-local';
  const about = make('input');
  about.id = 'gisapp-instr-incident';
  about.inputMode = 'numeric';
  about.maxLength = 12;
  about.autocomplete = 'off';
  const submit = make('button', 'gisapp-inc-button', text.instr_submit);
  submit.type = 'submit';
  submit.id = 'gisapp-instr-add';
  form.append(field(text.instr_dept, dept), field(text.instr_text, body), field(text.instr_due, due),
    field(text.incident_label, about), submit);
  details.appendChild(form);
  root.appendChild(details);

  const slot = document.getElementById('gisapp-instr-slot');
  (slot || config.container).appendChild(root);

  function deptName(n) {
    return (lang === 'en' ? n.department_en : n.department_ja) || n.department_ja;
  }

  function overdue(n) {
    return Boolean(n.due_at) && new Date(n.due_at).getTime() < Date.now();
  }

  function mayComplete(n) {
    return Boolean(me) && (isOperator(me) || (me.department_id !== null && me.department_id === n.department_id));
  }

  /* ---------------------------------------------------------------- the list */
  // 完了 (a result, optional) or 取消 (a reason, required): one small form under the instruction.
  function closeForm(n, withdraw, opener) {
    const f = make('form', 'gisapp-instr-complete');
    f.noValidate = true;
    const result = make('input');
    result.id = `gisapp-instr-${withdraw ? 'reason' : 'result'}-${n.id}`;
    result.maxLength = 2000;
    const ok = make('button', 'gisapp-inc-button', withdraw ? text.instr_withdraw_confirm : text.instr_done_confirm);
    ok.type = 'submit';
    const cancel = button(text.instr_cancel, 'gisapp-inc-button');
    f.append(field(withdraw ? text.instr_reason : text.instr_result, result), ok, cancel);
    cancel.addEventListener('click', () => {
      f.remove();
      opener.focus();
    });
    f.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = result.value.trim();
      if (withdraw && !value) {
        box.show('error', [{text: text.instr_reason_missing}]);
        result.focus();
        return;
      }
      ok.disabled = true;
      const url = `/api/instructions/${n.id}/${withdraw ? 'withdraw' : 'complete'}`;
      sendResult('POST', url, withdraw ? {reason: value} : {result: value})
        .then((answer) => {
          ok.disabled = false;
          if (!answer.ok) {  // 409: done or withdrawn meanwhile; the message says by whom
            box.show('error', box.errorLines(answer));
            load();
            return;
          }
          box.show('ok', [{text: format(withdraw ? text.instr_withdrawn_ok : text.instr_done_ok,
            {body: n.body.slice(0, 40)})}]);
          load();
          h.focus();
        })
        .catch(() => {
          ok.disabled = false;
          box.show('error', [{text: format(text.failed, {status: '—'})}]);
        });
    });
    return f;
  }

  function open(li, n, withdraw, opener) {
    li.querySelector('.gisapp-instr-complete')?.remove();
    const f = closeForm(n, withdraw, opener);
    li.appendChild(f);
    f.querySelector('input').focus();
  }

  function row(n) {
    const li = make('li', 'gisapp-instr-item');
    li.setAttribute('data-instruction-id', String(n.id));
    const late = overdue(n);
    li.setAttribute('data-overdue', late ? 'true' : 'false');
    const head = make('p', 'gisapp-instr-head');
    const flag = make('strong', 'gisapp-instr-flag', text.instr_overdue);
    flag.hidden = !late;
    head.append(flag, make('span', 'gisapp-instr-due',
      n.due_at ? format(text.instr_due_at, {time: when(n.due_at, config.locale, TIME_FORMAT)}) : text.instr_no_due),
    make('span', 'gisapp-instr-dept', deptName(n)));
    li.appendChild(head);
    li.appendChild(make('p', 'gisapp-instr-body', n.body + (n.incident_id ? ` (#${n.incident_id})` : '')));
    li.appendChild(make('p', 'gisapp-instr-by', format(text.instr_by,
      {who: n.instructed_by_name, time: when(n.instructed_at, config.locale, TIME_FORMAT)})));
    if (mayComplete(n)) {
      const done = button(text.instr_done, 'gisapp-inc-button gisapp-instr-done');
      done.setAttribute('aria-label', format(text.instr_done_label, {body: n.body.slice(0, 40)}));
      li.appendChild(done);
      done.addEventListener('click', () => open(li, n, false, done));
    }
    if (me && isOperator(me)) {
      const withdraw = button(text.instr_withdraw, 'gisapp-inc-button gisapp-instr-withdraw');
      withdraw.setAttribute('aria-label', format(text.instr_withdraw_label, {body: n.body.slice(0, 40)}));
      li.appendChild(withdraw);
      withdraw.addEventListener('click', () => open(li, n, true, withdraw));
    }
    return li;
  }

  function draw() {
    list.textContent = '';
    items.forEach((n) => { list.appendChild(row(n)); });
    if (!items.length) list.appendChild(make('li', 'gisapp-instr-empty', text.instr_none));
    const late = items.filter(overdue).length;
    h.textContent = format(text.instr_title, {n: items.length}) + (late ? ` ${format(text.instr_overdue_n, {n: late})}` : '');
    root.setAttribute('data-state', 'ready');
    root.setAttribute('data-count', String(items.length));
    root.setAttribute('data-overdue', String(late));
  }

  // Only the overdue marks change with the clock: flip them in place (a redraw would drop an open 完了 form).
  function tick() {
    Array.prototype.forEach.call(list.querySelectorAll('li[data-instruction-id]'), (li) => {
      const n = items.find((x) => String(x.id) === li.getAttribute('data-instruction-id'));
      if (!n) return;
      const late = overdue(n);
      li.setAttribute('data-overdue', late ? 'true' : 'false');
      li.querySelector('.gisapp-instr-flag').hidden = !late;
    });
  }
  setInterval(tick, 60_000);

  const load = oneAtATime(() => getJSON('/api/instructions').then((doc) => {
    items = doc.instructions || [];
    draw();
  }).catch((error) => {
    root.setAttribute('data-state', 'error');
    box.show('error', [{text: format(text.failed, {status: error.status || '—'})}]);
    throw error;
  }));

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = body.value.trim();
    const incident = about.value.trim().replace(/^#/, '');
    if (!dept.value || !value) {
      box.show('error', [{text: text.instr_missing}]);
      (dept.value ? body : dept).focus();
      return;
    }
    if (incident && !/^\d{1,12}$/.test(incident)) {
      box.show('error', [{text: text.incident_bad}]);
      about.focus();
      return;
    }
    const payload = {department_id: Number(dept.value), text: value};
    if (due.value) payload.due_at = new Date(due.value).toISOString();  // typed in the browser's time zone
    if (incident) payload.incident_id = Number(incident);
    submit.disabled = true;
    sendResult('POST', '/api/instructions', payload).then((answer) => {
      submit.disabled = false;
      if (!answer.ok) {
        box.show('error', box.errorLines(answer));
        return;
      }
      body.value = '';
      due.value = '';
      about.value = '';
      box.show('ok', [{text: text.instr_ok}]);
      load();
      body.focus();
    }).catch(() => {
      submit.disabled = false;
      box.show('error', [{text: format(text.failed, {status: '—'})}]);
    });
  });

  getJSONOnce('/api/me').then((user) => {
    me = user;
    details.hidden = !isOperator(me);
    if (isOperator(me)) {
      getJSON('/api/departments').then((departments) => {
        dept.appendChild(make('option', null, text.instr_choose));
        dept.lastChild.value = '';
        departments.forEach((d) => {
          const option = make('option', null, lang === 'en' ? d.name_en : d.name_ja);
          option.value = String(d.id);
          dept.appendChild(option);
        });
      }).catch((error) => { console.warn('departments', error); });
    }
    draw();
  }).catch(() => { details.hidden = true; });

  return {
    onEvent: (type, message) => {
      if (type === 'hq_log' && message?.kind === 'instruction') load();
    },
    reload: load
  };
}

export const instructionsPanel = {name: 'instructions', events: ['hq_log'], start: start};
