/* The header's status line (templates/hq.html #gisapp-status): units, last update, connection.
 * It is an aria-live region, so the often-changing "last update" text is written at most every
 * TEXT_MIN_MS (screen readers would otherwise announce every position); count and connection changes
 * are written at once. data-state / data-units / data-last-seq are always current (tests wait on them). */

import {format} from '../lib/dom.js';

const TEXT_MIN_MS = 10000;
const TIME_FORMAT = {hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false};

export function statusLine(text) {
  const status = document.getElementById('gisapp-status');
  const countEl = document.getElementById('gisapp-unit-count');
  const updateEl = document.getElementById('gisapp-last-update');
  const connectionEl = document.getElementById('gisapp-connection');
  const state = {units: 0, lastSeq: null, lastUpdate: null, connection: 'connecting', problem: null};
  let writtenAt = 0;
  let pending = null;

  function write() {
    clearTimeout(pending);
    pending = null;
    writtenAt = Date.now();
    countEl.textContent = format(text.units, {n: state.units});
    const time = state.lastUpdate ? state.lastUpdate.toLocaleTimeString(text.locale, TIME_FORMAT) : text.never;
    updateEl.textContent = format(text.last_update, {time});
    connectionEl.textContent = state.problem || text[state.connection];
  }

  function render(urgent) {
    status.dataset.state = state.problem ? 'error' : state.connection;
    status.dataset.units = String(state.units);
    status.dataset.lastSeq = state.lastSeq === null ? '' : String(state.lastSeq);
    const wait = TEXT_MIN_MS - (Date.now() - writtenAt);
    if (urgent || wait <= 0) write();
    else if (!pending) pending = setTimeout(write, wait);
  }

  /** Change some of {units, lastSeq, lastUpdate, connection, problem}; urgent: write the text now. */
  return function update(changes, urgent = false) {
    Object.assign(state, changes);
    render(urgent);
  };
}
