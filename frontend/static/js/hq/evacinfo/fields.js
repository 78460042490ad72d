/* The 避難情報 forms' labelled field, with an optional hint tied by aria-describedby. */

import {make} from '../util.js';

export function field(labelText, control, hint) {
  const wrap = make('div', 'gisapp-inc-field');
  const lab = make('label', null, labelText);
  lab.htmlFor = control.id;
  wrap.appendChild(lab);
  if (hint) {
    const h = make('span', 'gisapp-ei-hint', hint);
    h.id = `${control.id}-hint`;
    control.setAttribute('aria-describedby', h.id);
    wrap.appendChild(h);
  }
  wrap.appendChild(control);
  return wrap;
}
