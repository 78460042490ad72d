/* Road closures (通行止め) on the HQ map (lib/closures.js): GET /api/road-closures (in force now, the
 * road layers the operator may see), fetched at start, on each road_closure event of the stream and
 * after a gap. A failure goes to the console; the map keeps the last drawing. */

import {getJSON} from '../lib/api.js';
import {closureLayer} from '../lib/closures.js';
import {format} from '../lib/dom.js';

export function startClosures({map, text, symbols}) {
  const layer = closureLayer(map, {
    symbol: symbols.closure.closed,
    label: (c) => format(text.closure_label, {route: c.route_name || c.route_no || '', reason: c.reason || ''}),
  });
  let loading = 0;
  async function reload() {
    const mine = ++loading;
    try {
      const closures = await getJSON('/api/road-closures');
      if (mine === loading) layer.draw(closures);  // a late answer does not overwrite a newer one
    } catch (error) {
      if (error.status === 401 || error.status === 403) return;  // a role that may not read them
      console.error(format(text.closures_error, {status: error.status || '?'}), error);
    }
  }
  return {reload, onEvent: reload};
}
