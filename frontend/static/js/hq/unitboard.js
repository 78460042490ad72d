/* The unit board (無線機・班の状況): every radio unit and team with its duty state (待機・出動中・現着・
 * 帰署・休止), its communication state (通信中・通信途絶 since when), last position time, battery and
 * current incident; filter by duty, communication and words, sort; the HQ sets 待機・帰署・休止 (出動中
 * and 現着 follow the assignment); a unit's track of the last two hours drawn on the map on demand.
 * A panel of pages/hq.js (PANELS), folded under the radio unit list; native controls only (select,
 * button), so it is used with the keyboard like the rest of the page; focus survives a redraw.
 *
 *   GET  /api/units                    {units: [...], teams: [...]}
 *   POST /api/units/{id}/duty {state}  POST /api/teams/{id}/duty {state}
 *   GET  /api/units/{id}/track         a GeoJSON Feature (LineString / Point / no geometry)
 *   events unit_duty, assignment, device_* → refetch (coalesced); radio_position → the row's time
 * Browser tests can wait for: #gisapp-unitboard[data-state="ready"][data-units][data-teams],
 *   #gisapp-unitboard-list li[data-device-id][data-duty][data-comm][data-symbol],
 *   #gisapp-unitboard-teams li[data-team-id][data-duty], path.gisapp-unit-track[data-device-id]
 */
import {getJSON} from '../lib/api.js';
import {format, oneAtATime} from '../lib/dom.js';
import {unitSymbolState} from './unitstate.js';
import {button, make, panelNotice, sendResult, when} from './util.js';

const TIME = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};
const COMM_ORDER = ['offline', 'silent', 'never', 'online'];  // the ones the HQ cannot reach first
const RELOAD_EVENTS = ['unit_duty', 'assignment', 'device_offline', 'device_silent', 'device_online'];

function labelled(control, id, words) {
  control.id = id;
  const wrap = make('div', 'gisapp-unitboard-field');
  const lab = make('label', null, words);
  lab.htmlFor = id;
  wrap.append(lab, control);
  return wrap;
}

function choice(options) {
  const select = make('select');
  for (const [value, words] of options) {
    const option = make('option', null, words);
    option.value = value;
    select.append(option);
  }
  return select;
}

function start(config) {
  const {map, lang, locale, rules, symbols} = config;
  const text = config.text.hq_units;
  const at = (value) => when(value, locale, TIME);
  let board = {units: [], teams: []};
  let refocus = null;  // the control acted on: a disabled button loses the focus, the redraw gives it back
  const tracks = new Map();  // device_id -> the Leaflet layer drawn

  const root = make('details', 'gisapp-unitboard');
  root.id = 'gisapp-unitboard';
  root.dataset.state = 'loading';
  const summary = make('summary', null, text.panel);
  summary.id = 'gisapp-unitboard-summary';
  root.append(summary);

  const search = make('input');
  search.type = 'search';
  search.autocomplete = 'off';
  const dutyFilter = choice([['', text.all], ...rules.duty_states.map((s) => [s, text.duty_states[s]])]);
  const commFilter = choice([['', text.all], ['reachable', text.comm_reachable], ['out', text.comm_out]]);
  const sortBy = choice(['name', 'duty', 'comm', 'position', 'battery'].map((k) => [k, text.sort_by[k]]));
  const controls = make('div', 'gisapp-unitboard-controls');
  controls.append(labelled(search, 'gisapp-unitboard-search', text.filter_text),
    labelled(dutyFilter, 'gisapp-unitboard-duty', text.filter_duty),
    labelled(commFilter, 'gisapp-unitboard-comm', text.filter_comm),
    labelled(sortBy, 'gisapp-unitboard-sort', text.sort));
  const notice = make('div', 'gisapp-unitboard-notice');
  notice.id = 'gisapp-unitboard-notice';
  notice.setAttribute('role', 'status');
  notice.hidden = true;
  const notices = panelNotice(notice, lang, text.failed);
  const unitsHeading = make('h4', null, text.units_heading);
  unitsHeading.id = 'gisapp-unitboard-units-title';
  const list = make('ul', 'gisapp-unitboard-list');
  list.id = 'gisapp-unitboard-list';
  list.setAttribute('aria-labelledby', unitsHeading.id);
  const teamsHeading = make('h4', null, text.teams_heading);
  teamsHeading.id = 'gisapp-unitboard-teams-title';
  const teamList = make('ul', 'gisapp-unitboard-list');
  teamList.id = 'gisapp-unitboard-teams';
  teamList.setAttribute('aria-labelledby', teamsHeading.id);
  root.append(controls, notice, unitsHeading, list, teamsHeading, teamList);

  const after = document.getElementById('gisapp-units');  // under the radio unit list
  if (after) after.after(root);
  else config.container.append(root);

  for (const control of [search, dutyFilter, commFilter, sortBy]) control.addEventListener('input', render);

  /* ------------------------------------------------------------------ rows */
  const commWords = (u) => {
    const state = u.comm_state || 'never';
    const since = state === 'silent' ? format(text.silent_since, {at: at(u.silent_since || u.last_seen)})
      : state === 'offline' ? format(text.offline_since, {at: at(u.last_will_at)})
        : state === 'online' ? format(text.online_seen, {at: at(u.last_seen)}) : '';
    return `${text.comm_states[state]}${since ? `（${since}）` : ''}`;
  };

  function chip(symbol) {
    const s = make('span', `gisapp-letter-marker gisapp-shape-${symbol.shape}`);
    s.setAttribute('aria-hidden', 'true');
    s.style.setProperty('--marker-colour', symbol.colour);
    s.style.setProperty('--marker-ink', symbol.ink);
    s.append(make('span', 'gisapp-letter-marker-body', symbol.letter));
    return s;
  }

  function dutyControls(kind, id, name, duty, holding) {
    const wrap = make('div', 'gisapp-unitboard-actions');
    if (holding) return wrap;  // 出動中・現着 follow the assignment: nothing to set here
    const select = choice(rules.duty_set_by_hq.map((s) => [s, text.duty_states[s]]));
    select.value = rules.duty_set_by_hq.includes(duty) ? duty : 'standby';
    select.setAttribute('aria-label', format(text.set_duty_label, {name}));
    select.dataset.action = 'duty-choice';
    select.dataset[kind] = id;
    const set = button(text.set_duty, 'gisapp-inc-button gisapp-unitboard-set');
    set.setAttribute('aria-label', format(text.set_duty_button, {name}));
    set.dataset.action = 'duty-set';
    set.dataset[kind] = id;
    set.addEventListener('click', () => setDuty(kind, id, name, select.value, set));
    wrap.append(select, set);
    return wrap;
  }

  function unitRow(u) {
    const li = make('li', 'gisapp-unitboard-row');
    const symbolState = unitSymbolState(u.comm_state, u.duty_state, rules);
    Object.assign(li.dataset, {deviceId: u.device_id, duty: u.duty_state, comm: u.comm_state || 'never',
      symbol: symbolState});
    const head = make('p', 'gisapp-unitboard-head');
    head.append(chip(symbols.unit[symbolState]), make('strong', null, u.name),
      make('span', 'gisapp-unitboard-callsign', u.device_id));
    if (u.team_name) head.append(make('span', null, format(text.team_of, {team: u.team_name})));
    const states = make('p', 'gisapp-unitboard-states');
    states.append(make('span', 'gisapp-unitboard-duty', `${text.duty}：${text.duty_states[u.duty_state]}`),
      make('span', 'gisapp-unitboard-comm', `${text.comm}：${commWords(u)}`));
    const facts = make('p', 'gisapp-unitboard-facts');
    const position = make('span', 'gisapp-unitboard-position',
      `${text.position}：${u.position_ts ? at(u.position_ts) : text.no_position}`);
    const battery = u.battery_pct === null || u.battery_pct === undefined ? text.unknown
      : format(text.battery_value, {pct: u.battery_pct});
    facts.append(position, make('span', null, `${text.battery}：${battery}`));
    if (u.incident_id) {
      facts.append(make('span', 'gisapp-unitboard-incident',
        format(text.incident_value, {id: u.incident_id, title: u.incident_title || ''})));
    }
    const actions = dutyControls('deviceId', u.device_id, u.name, u.duty_state, !!u.assignment_id);
    if (u.position_ts) {
      const shown = tracks.has(u.device_id);
      const t = button(shown ? text.track_hide : text.track, 'gisapp-inc-button gisapp-unitboard-track');
      t.setAttribute('aria-pressed', shown ? 'true' : 'false');
      t.setAttribute('aria-label', format(text.track_label, {name: u.name}));
      t.dataset.action = 'track';
      t.dataset.deviceId = u.device_id;
      t.addEventListener('click', () => toggleTrack(u, t));
      actions.append(t);
    }
    li.append(head, states, facts, actions);
    return li;
  }

  function teamRow(t) {
    const li = make('li', 'gisapp-unitboard-row');
    Object.assign(li.dataset, {teamId: t.team_id, duty: t.duty_state, comm: t.comm_state || 'never'});
    const head = make('p', 'gisapp-unitboard-head');
    head.append(make('strong', null, t.name), make('span', 'gisapp-unitboard-callsign', t.team_id));
    if (t.radio_unit_id) head.append(make('span', null, format(text.radio_of, {radio: t.radio_name || t.radio_unit_id})));
    const states = make('p', 'gisapp-unitboard-states');
    states.append(make('span', 'gisapp-unitboard-duty', `${text.duty}：${text.duty_states[t.duty_state]}`));
    if (t.radio_unit_id) states.append(make('span', 'gisapp-unitboard-comm', `${text.comm}：${text.comm_states[t.comm_state || 'never']}`));
    if (t.incident_id) {
      states.append(make('span', 'gisapp-unitboard-incident',
        format(text.incident_value, {id: t.incident_id, title: t.incident_title || ''})));
    }
    li.append(head, states, dutyControls('teamId', t.team_id, t.name, t.duty_state, !!t.assignment_id));
    return li;
  }

  /* --------------------------------------------------------- filter, sort */
  function shown(rows, isUnit) {
    const words = search.value.trim().toLowerCase();
    const duty = dutyFilter.value;
    const comm = commFilter.value;
    const out = rows.filter((r) => {
      if (duty && r.duty_state !== duty) return false;
      if (comm) {
        const off = rules.not_reporting.includes(r.comm_state);
        if ((comm === 'out') !== off) return false;
      }
      if (!words) return true;
      return [r.name, r.device_id, r.team_id, r.team_name, r.radio_name].some((v) => v && String(v).toLowerCase().includes(words));
    });
    const key = sortBy.value;
    const byName = (a, b) => String(a.name).localeCompare(String(b.name), 'ja') || String(a.device_id || a.team_id).localeCompare(String(b.device_id || b.team_id));
    const rank = {
      duty: (r) => rules.duty_states.indexOf(r.duty_state),
      comm: (r) => COMM_ORDER.indexOf(r.comm_state || 'never'),
      position: (r) => (isUnit && r.position_ts ? -Date.parse(r.position_ts) : Infinity),
      battery: (r) => (isUnit && r.battery_pct !== null && r.battery_pct !== undefined ? r.battery_pct : Infinity),
    }[key];
    return out.sort((a, b) => (rank ? rank(a) - rank(b) : 0) || byName(a, b));
  }

  /** A selector finding the focused control again after a redraw (null: focus is elsewhere). */
  function focusKey() {
    const active = document.activeElement;
    if (!active || !root.contains(active) || !active.dataset.action) return null;
    const id = active.dataset.deviceId ? `[data-device-id="${CSS.escape(active.dataset.deviceId)}"]`
      : `[data-team-id="${CSS.escape(active.dataset.teamId || '')}"]`;
    return `[data-action="${active.dataset.action}"]${id}`;
  }

  function render() {
    const kept = focusKey() || refocus;
    refocus = null;
    const units = shown([...board.units], true);
    const teams = shown([...board.teams], false);
    list.replaceChildren(...units.map(unitRow));
    if (!units.length) list.append(make('li', 'gisapp-unitboard-empty', text.none));
    teamList.replaceChildren(...teams.map(teamRow));
    if (!teams.length) teamList.append(make('li', 'gisapp-unitboard-empty', text.no_teams));
    const out = board.units.filter((u) => rules.not_reporting.includes(u.comm_state)).length;
    summary.textContent = format(text.summary, {units: board.units.length, teams: board.teams.length, out});
    root.dataset.units = String(units.length);
    root.dataset.teams = String(teams.length);
    if (kept) root.querySelector(kept)?.focus({preventScroll: true});
  }

  const load = oneAtATime(async () => {
    try {
      board = await getJSON('/api/units');
      root.dataset.state = 'ready';
      render();
    } catch (error) {
      root.dataset.state = 'error';
      notices.show('error', [{text: format(text.load_error, {status: error.status || '—'})}]);
    }
  });
  let pending = null;
  function reloadSoon() {  // a burst of events (a dispatch writes several) → one fetch
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      load();
    }, 250);
  }

  /* --------------------------------------------------------------- actions */
  async function setDuty(kind, id, name, state, b) {
    refocus = focusKey();
    b.disabled = true;
    const url = kind === 'deviceId' ? `/api/units/${encodeURIComponent(id)}/duty` : `/api/teams/${encodeURIComponent(id)}/duty`;
    try {
      const result = await sendResult('POST', url, {state});
      if (result.ok) notices.show('ok', [{text: format(text.duty_set, {name, state: text.duty_states[state]})}]);
      else notices.show(result.status === 409 ? 'conflict' : 'error', notices.errorLines(result));
    } catch (error) {
      notices.show('error', [{text: format(text.failed, {status: error.status || '—'})}]);
    } finally {
      b.disabled = false;
      await load();
    }
  }

  async function toggleTrack(u, b) {
    const id = u.device_id;
    if (tracks.has(id)) {
      tracks.get(id).remove();
      tracks.delete(id);
      render();  // the button says so (the row may have been redrawn meanwhile: not `b`)
      notices.show('ok', [{text: format(text.track_hidden, {name: u.name})}]);
      return;
    }
    refocus = focusKey();
    b.disabled = true;
    try {
      const feature = await getJSON(`/api/units/${encodeURIComponent(id)}/track`);
      const p = feature.properties || {};
      if (!feature.geometry) {
        notices.show('ok', [{text: format(text.track_none, {name: u.name})}]);
        return;
      }
      const coords = feature.geometry.type === 'Point' ? [feature.geometry.coordinates] : feature.geometry.coordinates;
      const latlngs = coords.map(([lon, lat]) => [lat, lon]);
      const layer = L.polyline(latlngs, {className: 'gisapp-unit-track', color: '#a33a00', weight: 4,
        dashArray: '8 6', interactive: true});
      layer.bindTooltip(format(text.track_tip, {name: u.name, from: at(p.first_ts), to: at(p.last_ts)}), {sticky: true});
      layer.addTo(map);
      const path = layer.getElement();
      if (path) {
        path.dataset.deviceId = id;
        path.dataset.vertices = String(p.vertices);
        path.dataset.positions = String(p.positions);
      }
      tracks.set(id, layer);
      map.fitBounds(L.latLngBounds(latlngs).pad(0.2), {maxZoom: 16});
      notices.show('ok', [{text: format(text.track_shown, {name: u.name, n: p.positions, from: at(p.first_ts), to: at(p.last_ts)})}]);
    } catch (error) {
      notices.show('error', [{text: format(text.track_failed, {status: error.status || '—'})}]);
    } finally {
      b.disabled = false;
      render();  // pressed or not, and the focus back on it
    }
  }

  return {
    onEvent(type, message) {
      if (type !== 'radio_position') {
        reloadSoon();
        return;
      }
      const unit = board.units.find((u) => u.device_id === String(message.device_id));
      if (!unit || (unit.position_ts && Date.parse(message.device_ts) <= Date.parse(unit.position_ts))) return;
      unit.position_ts = message.device_ts;
      const row = list.querySelector(`li[data-device-id="${CSS.escape(unit.device_id)}"] .gisapp-unitboard-position`);
      if (row) row.textContent = `${text.position}：${at(unit.position_ts)}`;
    },
    reload: load,
  };
}

export const unitBoardPanel = {events: [...RELOAD_EVENTS, 'radio_position'], start};
