/* The incident filters: status checkboxes, category, reported from / until. Every change reloads. */


import {button, field, make} from '../util.js';

export function buildFilters(c) {
  const {text, rules} = c;
  const box = make('fieldset', 'gisapp-inc-filters');
  box.append(make('legend', null, text.filters));
  const statusGroup = make('fieldset', 'gisapp-inc-status-filter');
  statusGroup.append(make('legend', null, text.filter_status));
  const statusBoxes = {};
  for (const s of rules.incident_statuses) {
    const input = make('input');
    input.type = 'checkbox';
    input.id = `gisapp-filter-status-${s}`;
    input.value = s;
    input.checked = true;
    statusBoxes[s] = input;
    const lab = make('label', 'gisapp-inc-check');
    lab.append(input, c.statusWord(s));
    statusGroup.append(lab);
  }
  box.append(statusGroup);
  const category = make('select');
  category.id = 'gisapp-filter-category';
  box.append(field(text.category, category));
  const from = make('input');
  from.type = 'datetime-local';
  from.id = 'gisapp-filter-from';
  box.append(field(text.from, from));
  const to = make('input');
  to.type = 'datetime-local';
  to.id = 'gisapp-filter-to';
  box.append(field(text.to, to));
  const clear = button(text.clear_filters, 'gisapp-inc-button');
  clear.id = 'gisapp-filter-clear';
  box.append(clear);

  for (const control of [...Object.values(statusBoxes), category, from, to]) {
    control.addEventListener('change', () => c.loadIncidents());
  }
  clear.addEventListener('click', () => {
    Object.values(statusBoxes).forEach((b) => { b.checked = true; });
    category.value = '';
    from.value = '';
    to.value = '';
    c.loadIncidents();
  });

  return {
    element: box,
    /** Fill the category choices ({code, name_ja, name_en}). */
    setCategories(categories) {
      category.replaceChildren(make('option', null, text.all_categories));
      category.lastChild.value = '';
      for (const cat of categories) {
        const option = make('option', null, c.label(cat, 'name'));
        option.value = cat.code;
        category.append(option);
      }
    },
    /** {none: no status ticked, query: '?status=…&category=…&from=…&to=…' or ''}. */
    query() {
      const params = new URLSearchParams();
      const checked = rules.incident_statuses.filter((s) => statusBoxes[s].checked);
      if (checked.length < rules.incident_statuses.length) checked.forEach((s) => { params.append('status', s); });
      if (category.value) params.append('category', category.value);
      for (const [input, name] of [[from, 'from'], [to, 'to']]) {
        const d = input.value ? new Date(input.value) : null;  // local time, as the operator typed it
        if (d && !Number.isNaN(d.getTime())) params.append(name, d.toISOString());
      }
      const query = params.toString();
      return {none: checked.length === 0, query: query ? `?${query}` : ''};
    },
  };
}

