/* HQ map: the クロノロジー panel (the HQ log) and the JMA feed's status line. Registered as a panel
 * of the HQ page (pages/hq.js PANELS); placed inside the 避難情報 panel (evacinfo/panel.js logSlot).
 * The open instructions (./instructions.js) go in its #gisapp-instr-slot; the whole record, its
 * filters, CSV and the handover view are the page /hq/chronology.
 *
 *   GET  /api/chronology?limit=200 | ?after=<id>  {entries: [{id, at, kind, level, summary_ja, summary_en,
 *                                                  actor, actor_name, incident_id, …}]}
 *   POST /api/chronology {text, incident_id?}      a note by the signed-in hq_operator/admin (others: no form)
 *   GET  /api/jma/status                       feeds {url, ok_at, error, stale}; a 404 shows nothing
 *   events "hq_log" (→ fetch the entries after the newest shown), "jma_feed" / "jma_telegram" (→ status)
 *
 * Newest first: at the HQ the log is glanced at between calls, and what just happened must be in
 * view without scrolling; a new entry appears where the eye already is. (The printed クロノロジー, a
 * record, reads oldest first: that is an export's concern.)
 * Browser tests can wait for: #gisapp-hqlog[data-state="ready"][data-count],
 *   #gisapp-hqlog-list li[data-log-id][data-kind][data-incident-id], #gisapp-jma-status[data-state]
 */
import {getJSON, getJSONOnce, request} from '../lib/api.js';
import {classSafe, format, oneAtATime} from '../lib/dom.js';
import {isOperator, make, sendResult} from './util.js';

const LIMIT = 200;  // shown at most; older ones are on the page /hq/chronology
const TIME_FORMAT = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

function start(config) {
  const text = config.text.hq_log;
  const eiText = config.text.hq_evacinfo;
  const lang = config.lang;
  const entries = {};   // id -> entry
  let newest = 0;
  let count = 0;

  function when(value) {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? String(value || '—') : d.toLocaleString(config.locale, TIME_FORMAT);
  }

  /* ---------------------------------------------------------------- skeleton */
  const root = make('section', 'gisapp-hqlog');
  root.id = 'gisapp-hqlog';
  root.setAttribute('data-state', 'loading');
  const h = make('h3', null, text.panel);
  h.id = 'gisapp-hqlog-title';
  h.tabIndex = -1;
  root.setAttribute('aria-labelledby', h.id);
  root.appendChild(h);
  root.appendChild(make('p', 'gisapp-ei-hint', text.order));
  const full = make('a', 'gisapp-hqlog-full', text.full_page);
  full.href = lang === 'en' ? '/hq/chronology?lang=en' : '/hq/chronology';
  full.id = 'gisapp-hqlog-full';
  root.appendChild(full);
  const instrSlot = make('div');  // ./instructions.js puts the open instructions here
  instrSlot.id = 'gisapp-instr-slot';
  root.appendChild(instrSlot);

  const form = make('form', 'gisapp-hqlog-form');
  form.noValidate = true;
  const note = make('textarea');
  note.id = 'gisapp-hqlog-text';
  note.rows = 2;
  note.maxLength = 2000;
  const lab = make('label', null, text.note_label);
  lab.htmlFor = note.id;
  form.appendChild(lab);
  form.appendChild(note);
  const about = make('input', 'gisapp-hqlog-incident');
  about.id = 'gisapp-hqlog-incident';
  about.inputMode = 'numeric';
  about.maxLength = 12;
  about.autocomplete = 'off';
  const aboutLab = make('label', null, text.incident_label);
  aboutLab.htmlFor = about.id;
  form.appendChild(aboutLab);
  form.appendChild(about);
  const add = make('button', 'gisapp-inc-button', text.note_submit);
  add.type = 'submit';
  add.id = 'gisapp-hqlog-add';
  form.appendChild(add);
  const formStatus = make('p', 'gisapp-hqlog-status');
  formStatus.id = 'gisapp-hqlog-status';
  formStatus.setAttribute('role', 'status');
  form.appendChild(formStatus);
  form.hidden = true;  // notes are written by hq_operator/admin (the server says so too)
  root.appendChild(form);

  const list = make('ol', 'gisapp-hqlog-list');
  list.id = 'gisapp-hqlog-list';
  list.reversed = true;  // numbered as written, newest (highest) on top
  root.appendChild(list);

  const slot = document.getElementById('gisapp-hqlog-slot');
  if (slot) {
    slot.appendChild(root);
  } else {  // no 避難情報 panel: a panel of its own
    const aside = make('aside', 'gisapp-evacinfo');
    aside.appendChild(root);
    config.container.appendChild(aside);
  }

  /* ---------------------------------------------------------------- entries */
  function row(e) {
    const li = make('li', `gisapp-hqlog-entry gisapp-hqlog-${classSafe(e.kind)}`);
    li.setAttribute('data-log-id', String(e.id));
    li.setAttribute('data-kind', e.kind);
    if (e.incident_id) li.setAttribute('data-incident-id', String(e.incident_id));
    if (e.level) li.setAttribute('data-level', String(e.level));
    const time = make('time', 'gisapp-hqlog-time', when(e.at));
    time.dateTime = e.at || '';
    li.appendChild(time);
    li.appendChild(make('span', 'gisapp-hqlog-kind', (text.kinds[e.kind] || e.kind) +
      (e.level ? ` ${format(eiText.level_n, {n: e.level})}` : '')));
    const summary = (lang === 'en' ? e.summary_en : e.summary_ja) || e.summary_ja || e.summary_en || '';
    const s = make('span', 'gisapp-hqlog-summary', summary);
    if (lang === 'en' && !e.summary_en) s.lang = 'ja';
    li.appendChild(s);
    const who = e.actor_name || e.actor;
    if (who && e.actor !== 'system') li.appendChild(make('span', 'gisapp-hqlog-actor', who));
    return li;
  }

  function add_(batch) {
    batch.sort((a, b) => a.id - b.id).forEach((e) => {
      if (entries[e.id]) return;
      entries[e.id] = e;
      newest = Math.max(newest, e.id);
      count += 1;
      const li = row(e);
      // Keep the list ordered by id, newest first, even if entries arrive out of order.
      let before = null;
      Array.prototype.some.call(list.children, (other) => {
        if (Number(other.getAttribute('data-log-id')) < e.id) {
          before = other;
          return true;
        }
        return false;
      });
      list.insertBefore(li, before);
    });
    while (list.children.length > LIMIT) list.removeChild(list.lastChild);
    const empty = list.querySelector('.gisapp-hqlog-empty');
    if (count && empty) empty.remove();
    if (!count && !empty) list.appendChild(make('li', 'gisapp-hqlog-empty', text.empty));
    root.setAttribute('data-state', 'ready');
    root.setAttribute('data-count', String(count));
    root.setAttribute('data-newest', String(newest));
  }

  const load = oneAtATime(() => {
    const url = newest ? `/api/chronology?after=${newest}&limit=${LIMIT}` : `/api/chronology?limit=${LIMIT}`;
    return getJSON(url).then((doc) => {
      add_(doc.entries || []);
    }).catch((error) => {
      root.setAttribute('data-state', 'error');
      formStatus.textContent = format(text.failed, {status: error.status || '—'});
      throw error;
    });
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = note.value.trim();
    if (!value) {
      formStatus.textContent = text.note_empty;
      note.focus();
      return;
    }
    const incident = about.value.trim().replace(/^#/, '');
    if (incident && !/^\d{1,12}$/.test(incident)) {
      formStatus.textContent = text.incident_bad;
      about.focus();
      return;
    }
    add.disabled = true;
    sendResult('POST', '/api/chronology', incident ? {text: value, incident_id: Number(incident)} : {text: value})
      .then((result) => {
        add.disabled = false;
        if (!result.ok) {
          const err = result.data.error || {};
          formStatus.textContent = (lang === 'en' ? err.message_en : err.message_ja) ||
            format(text.failed, {status: result.status});
          return;
        }
        note.value = '';
        about.value = '';
        formStatus.textContent = text.note_ok;
        if (result.data?.id) add_([result.data]);
        load();
        note.focus();  // ready for the next note
      })
      .catch(() => {
        add.disabled = false;
        formStatus.textContent = format(text.failed, {status: '—'});
      });
  });

  /* ---------------------------------------------------------------- JMA feed status */
  const jmaLine = document.getElementById('gisapp-jma-status');
  let jmaMissing = false;
  const loadJma = oneAtATime(() => {
    if (!jmaLine || jmaMissing) return Promise.resolve();
    return request('/api/jma/status')
      .then((response) => {
        if (response.status === 404) {  // no JMA module on this server: say nothing
          jmaMissing = true;
          jmaLine.hidden = true;
          return null;
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return response.json();
      })
      .then((doc) => {
        if (!doc) return;
        const feeds = doc.feeds || [];
        const parts = [];
        let state = 'ok';
        if (feeds.length) {  // none configured: telegrams arrive as files (gisapp jma import)
          const bad = feeds.filter((f) => f.error);
          const stale = feeds.filter((f) => f.stale);
          const last = feeds.map((f) => f.ok_at).filter(Boolean).sort().pop();
          state = bad.length ? 'error' : stale.length ? 'stale' : 'ok';
          parts.push(state === 'error'
            ? format(eiText.jma_error, {error: bad.map((f) => f.error).join(' / ')})
            : format(state === 'stale' ? eiText.jma_stale : eiText.jma_ok,
                            {at: last ? when(last) : eiText.jma_never}));
        }
        // What is in force for our areas, most severe first: 土砂災害警戒情報（伊勢原市）…
        const seen = {};
        const inForce = (doc.conditions || []).slice().sort((a, b) => (b.alert_level || 0) - (a.alert_level || 0)).map((c) => c.kind_name + (c.area_name ? `（${c.area_name}）` : '')).filter((k) => {
          if (seen[k]) return false;
          seen[k] = true;
          return true;
        });
        if (inForce.length) {
          parts.push(format(eiText.jma_in_force, {kinds: inForce.slice(0, 6).join('、') +
            (inForce.length > 6 ? '…' : '')}));
        }
        jmaLine.textContent = '';
        parts.forEach((part, i) => {
          const feedPart = i === 0 && feeds.length;
          const span = make('span', feedPart ? 'gisapp-ei-jma-feed' : 'gisapp-ei-jma-inforce', part);
          if (!feedPart && lang === 'en') span.lang = 'ja';  // JMA's kind and area names are Japanese data
          jmaLine.appendChild(span);
        });
        jmaLine.setAttribute('data-state', state);
        jmaLine.setAttribute('data-conditions', String(inForce.length));
        jmaLine.hidden = !parts.length;
      })
      .catch((error) => { console.warn('jma status', error); });
  });

  getJSONOnce('/api/me').then((me) => {
    form.hidden = !isOperator(me);
  }).catch(() => { form.hidden = true; });
  // No load here: pages/hq.js calls reload() once its stream is open (stream first, then snapshot).

  return {
    onEvent: (type) => {
      if (type === 'hq_log') load();
      else loadJma();
    },
    reload: () => {
      load();
      loadJma();
    }
  };
}

export const logPanel = {name: 'hqlog', events: ['hq_log', 'jma_feed', 'jma_telegram'], start: start};
