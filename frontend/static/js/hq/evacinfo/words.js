/* HQ map 避難情報: how an order or a suggestion reads — the level's number and words (from the answers,
 * ops.evac_levels describe(), never from this file), the hazard, the areas' names, dates, the level chip
 * in the level's colour (always with its words). Shared by panel.js, lists.js, map.js and the forms. */

import {format} from '../../lib/dom.js';
import {make} from '../util.js';

const DATE_FORMAT = {month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false};

/** ctx: {text, lang, locale, levelInfo, hazardInfo, areaByCode} (the last three filled as answers come). */
export function evacWords({text, lang, locale, levelInfo, hazardInfo, areaByCode}) {
  function words(obj, base) {
    return (lang === 'en' ? obj[`${base}_en`] : obj[`${base}_ja`]) || obj[`${base}_ja`] || '';
  }
  function learn(item) {
    if (item.level && item.name_ja) levelInfo[item.level] = item;
    if (item.hazard && item.hazard_ja) hazardInfo[item.hazard] = item;
  }
  /** "警戒レベル4 避難指示": the number and the words, as the guideline writes them. */
  function levelText(item) {
    const info = item.name_ja ? item : levelInfo[item.level] || {};
    const name = words(info, 'name');
    return format(text.level_n, {n: item.level}) + (name ? ` ${name}` : '');
  }
  function hazardText(item) {
    const info = item.hazard_ja ? item : hazardInfo[item.hazard] || {};
    return words(info, 'hazard') || item.hazard;
  }
  function areaNames(item) {
    const names = item.area_names?.length ? item.area_names
      : (item.area_codes || []).map((c) => areaByCode[c] ? areaByCode[c].name : c);
    return names.join(lang === 'en' ? ', ' : '、');
  }
  function when(value) {
    if (!value) return '—';
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString(locale, DATE_FORMAT);
  }
  function chip(item) {
    const c = make('span', 'gisapp-ei-chip', levelText(item));
    c.setAttribute('data-level', String(item.level));
    if (item.colour) {
      c.style.backgroundColor = item.colour;
      c.style.color = item.text_colour || '#000';
    }
    return c;
  }

  return {words, learn, levelText, hazardText, areaNames, when, chip};
}
