/* Device alerts on the HQ page (docs/mqtt.md, "Device alerts"): a link in the header to the dead-letter
 * screen, saying how many device alerts the last 24 hours brought (one per device, reason and 10 minutes,
 * as the HQ log has them). A device_alert event adds one and names the device and reason in the link's
 * text. Shown only to the roles that read dead letters (hq_operator, admin): others get a 403 and no link.
 *
 *   events "device_alert" (→ count one more)
 */

import {getJSON} from '../lib/api.js';
import {format} from '../lib/dom.js';

function start(config) {
  const text = config.text.hq;
  const link = document.getElementById('gisapp-device-alerts');
  const label = document.getElementById('gisapp-device-alerts-text');
  let count = 0;

  function show(latest) {
    link.dataset.count = String(count);
    const base = format(text.device_alerts, {n: count});
    label.textContent = latest ? `${base} ${format(text.device_alerts_latest, latest)}` : base;
    link.dataset.state = count > 0 ? 'alert' : 'none';
  }

  function load() {
    getJSON('/api/dead-letters/summary')
      .then((summary) => {
        count = summary.device_alerts.reduce((n, a) => n + a.windows, 0);
        link.hidden = false;
        show(null);
      })
      .catch(() => { link.hidden = true; });
  }

  return {
    onEvent: (_type, message) => {
      if (link.hidden) return;
      count += 1;
      show({device: message.device_id, reason: message.reason_code});
    },
    reload: load
  };
}

export const deviceAlertsPanel = {name: 'device-alerts', events: ['device_alert'], start};
