/* 被害報 totals on the HQ map: the shown disaster's city totals (人的被害, 住家被害 in 棟, り災世帯・者) and
 * links to the printable 消防庁 第4号様式 and its xlsx for the prefecture.
 *   GET /api/disasters/{id}/damage   (each incident's latest damage report; 取消 incidents left out)
 *   event "hq_log" of kind "damage" (a report saved anywhere) → refetch
 * Tests: #gisapp-damage-totals[data-state][data-disaster-id][data-dead][data-incidents]. */

import {getJSON} from '../lib/api.js';
import {format, oneAtATime} from '../lib/dom.js';
import {make} from './util.js';

// The figures shown here, in the form's order (the form page has them all).
const SHOWN = ['dead', 'missing', 'injured_serious', 'injured_minor', 'destroyed_buildings', 'half_buildings',
  'partial_buildings', 'flooded_above_buildings', 'flooded_below_buildings'];

export function startDamageTotals({text, fields, lang, incidents, container}) {
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  const root = make('section', 'gisapp-damage-totals');
  root.id = 'gisapp-damage-totals';
  root.dataset.state = 'loading';
  const h = make('h3', null, text.totals);
  h.id = 'gisapp-damage-totals-title';
  root.setAttribute('aria-labelledby', h.id);
  const list = make('dl', 'gisapp-damage-totals-list');
  const affected = make('p', 'gisapp-damage-affected');
  const links = make('p', 'gisapp-damage-links');
  const formLink = make('a', null, text.form4);
  formLink.id = 'gisapp-damage-form4';
  const fileLink = make('a', null, text.xlsx);
  fileLink.id = 'gisapp-damage-xlsx';
  links.append(formLink, make('span', null, ' ・ '), fileLink);
  root.append(h, list, affected, links);
  container.append(root);

  const load = oneAtATime(async () => {
    const disaster = incidents.disasterId();
    if (disaster === null) return;
    const query = lang === 'en' ? '&lang=en' : '';
    formLink.href = `/hq/damage/form4?disaster=${disaster}${query}`;
    fileLink.href = `/api/disasters/${disaster}/damage/form4.xlsx`;
    try {
      const doc = await getJSON(`/api/disasters/${disaster}/damage`);
      if (disaster !== incidents.disasterId()) return;
      list.replaceChildren();
      for (const name of SHOWN) {
        const f = byName[name];
        list.append(make('dt', null, f.group === 'housing' ? `${f.row}（${f.unit}）` : f.row),
          make('dd', null, String(doc.total[name])));
      }
      affected.textContent = format(text.affected, {households: doc.derived.affected_households,
        people: doc.derived.affected_people, incidents: doc.incidents});
      root.dataset.state = 'ready';
      root.dataset.disasterId = String(disaster);
      root.dataset.dead = String(doc.total.dead);
      root.dataset.incidents = String(doc.incidents);
    } catch (error) {
      root.dataset.state = 'error';
      affected.textContent = format(text.load_error, {status: error.status || '—'});
    }
  });

  incidents.onDisasterChange(() => load());
  return {
    onEvent(type, message) {
      if (type === 'hq_log' && message.kind === 'damage') load();
    },
    reload: load,
  };
}
