/* HQ map incidents (災害対策本部の事案): a disaster selector, incident markers by status, the list
 * (the keyboard way, early in the tab order), counts, filters, the incident panel (status changes with
 * If-Match, dispatch, assignment states) and the new-incident form. The page's stream hands this
 * module the incident events.
 *
 * GET /api/disasters, /api/incident-categories, /api/disasters/{id}/incidents?status=&category=&from=&to=
 * No polling: the list is fetched on load, on a filter or disaster change, when the stream says an
 * incident of the shown disaster changed, and after a seq gap / reconnect (reload()).
 * Tests: #gisapp-incidents[data-state="ready"][data-disaster-id][data-count][data-loads],
 *   #gisapp-incident-notice[data-kind]. */

import {getJSON} from '../../lib/api.js';
import {format, oneAtATime} from '../../lib/dom.js';
import {field, make, panelNotice} from '../util.js';
import {buildCounts} from './counts.js';
import {buildFilters} from './filters.js';
import {buildNewForm} from './form.js';
import {buildList} from './list.js';
import {drawMarker} from './markers.js';
import {buildPanel} from './panel.js';

export function startIncidents({map, text, symbols, rules, lang, locale, container, damage}) {
  // The module's shared state and helpers, handed to its parts.
  const c = {
    map, text, rules, lang, locale, symbols: symbols.incident,
    damageText: damage?.text, damageFields: damage?.fields,  // 被害報 section of the panel (damage.js)
    disasterId: null, categories: [], shown: {}, markers: {}, openId: null, openIncident: null,
    statusWord: (s) => symbols.incident[s]?.label || s,
    label: (obj, base) => (lang === 'en' ? obj[`${base}_en`] : obj[`${base}_ja`]) || obj[`${base}_ja`] || obj[base] || '',
    categoryName: (code) => {
      const found = c.categories.find((cat) => cat.code === code);
      return found ? c.label(found, 'name') : code;
    },
  };
  const disasterListeners = [];
  let loads = 0;
  let newReports = 0;

  const root = make('aside', 'gisapp-incidents');
  root.id = 'gisapp-incidents';
  root.setAttribute('aria-labelledby', 'gisapp-incidents-title');
  root.dataset.state = 'loading';
  const title = make('h2', null, text.panel);
  title.id = 'gisapp-incidents-title';
  const disasterSelect = make('select');
  disasterSelect.id = 'gisapp-disaster';
  const notice = make('div', 'gisapp-inc-notice gisapp-notice');
  notice.id = 'gisapp-incident-notice';
  notice.setAttribute('role', 'alert');
  notice.hidden = true;
  const reportsLine = make('p', 'gisapp-inc-reports');
  reportsLine.id = 'gisapp-citizen-reports';
  reportsLine.setAttribute('role', 'status');
  reportsLine.hidden = true;
  // Other panels (shelter totals, gauge alerts, units) go here, after the incidents.
  const extras = make('div', 'gisapp-inc-extras');
  c.notices = panelNotice(notice, lang, text.failed);

  c.panel = buildPanel(c);
  c.openPanel = (id, from) => c.panel.open(id, from);
  const list = buildList(c);
  const counts = buildCounts(c);
  const filters = buildFilters(c);
  const newForm = buildNewForm(c);
  // Tab order: the disaster, the result notice, the open incident, the list; then the rest.
  root.append(title, field(text.disaster, disasterSelect), notice, reportsLine, c.panel.element, list.element,
    counts.element, filters.element, newForm.element, extras);
  container.append(root);

  c.loadIncidents = oneAtATime(async () => {
    if (c.disasterId === null) return;
    const wanted = c.disasterId;
    const f = filters.query();
    try {
      const collection = f.none ? {features: []}  // no status ticked: nothing to show, nothing to ask
        : await getJSON(`/api/disasters/${wanted}/incidents${f.query}`);
      if (wanted !== c.disasterId) return;  // the operator switched disasters meanwhile
      Object.values(c.markers).forEach((m) => { map.removeLayer(m); });
      c.markers = {};
      c.shown = {};
      const items = (collection.features || []).map((feature) => ({
        ...feature.properties, lon: feature.geometry.coordinates[0], lat: feature.geometry.coordinates[1]}));
      for (const item of items) {
        c.shown[item.id] = item;
        c.markers[item.id] = drawMarker(c, item);
      }
      counts.render(items);
      list.render(items);
      loads += 1;
      root.dataset.state = 'ready';
      root.dataset.count = String(items.length);
      root.dataset.loads = String(loads);
    } catch (error) {
      root.dataset.state = 'error';
      c.notices.show('error', [{text: format(text.load_error, {status: error.status || '—'})}]);
      throw error;
    }
  });

  function choose(id) {
    c.disasterId = id;
    root.dataset.disasterId = String(id);
    disasterListeners.forEach((callback) => { callback(id); });
  }
  disasterSelect.addEventListener('change', () => {
    choose(Number(disasterSelect.value));
    if (c.openId !== null) c.panel.close();
    c.loadIncidents();
  });

  async function start() {
    try {
      const [disasters, categories] = await Promise.all([getJSON('/api/disasters'), getJSON('/api/incident-categories')]);
      c.categories = categories;
      filters.setCategories(categories);
      newForm.setCategories(categories);
      disasterSelect.replaceChildren(...disasters.map((d) => {
        const option = make('option', null, d.name + (d.closed_at ? text.closed : ''));
        option.value = String(d.id);
        return option;
      }));
      // The list comes open first, newest first: the default is the latest open disaster.
      if (!disasters.length) {
        root.dataset.state = 'ready';
        root.dataset.count = '0';
        c.notices.show('info', [{text: text.no_disaster}]);
        counts.render([]);
        list.render([]);
        return;
      }
      disasterSelect.value = String(disasters[0].id);
      choose(disasters[0].id);
      c.loadIncidents();
    } catch (error) {
      console.error(error);
      root.dataset.state = 'error';
      c.notices.show('error', [{text: format(text.load_error, {status: error.status || '—'})}]);
    }
  }
  start();

  return {
    /** Where other panels put themselves (after the incident list, in tab order). */
    extras,
    /** An incident-related event from the stream (already seq-checked). */
    onEvent(type, message) {
      if (type === 'incident') {
        if (c.disasterId === null || message.disaster_id !== c.disasterId) {
          if (c.disasterId === null) start();  // the first disaster was just opened
          return;
        }
        c.loadIncidents();
        if (message.id === c.openId && (!c.openIncident || message.version !== c.openIncident.version)) c.panel.refresh(false);
      } else if (type === 'assignment' || type === 'road_closure') {
        c.panel.refresh(false);  // a unit became busy or free, or a road closed: units and distances changed
      } else if (type === 'citizen_report' && message.state === 'pending') {
        newReports += 1;
        reportsLine.textContent = format(text.citizen_reports, {n: newReports});
        reportsLine.hidden = false;
      }
    },
    /** Something may have been missed (seq gap, reconnect): fetch everything again. */
    reload() {
      c.loadIncidents();
      c.panel.refresh(false);
    },
    disasterId: () => c.disasterId,
    onDisasterChange: (callback) => disasterListeners.push(callback),
  };
}
