/* How a radio unit is drawn (frontend/symbols.py "unit"): out of contact first — a unit the HQ cannot
 * reach is faded whatever its duty — then its duty state (待機・帰署 free, 出動中・現着 busy, 休止).
 * A unit whose duty is not known yet is drawn as on standby (no duty event: standby). */

/** The unit symbol's state from the device state (/api/devices/status) and the duty (/api/units). */
export function unitSymbolState(comm, duty, rules) {
  if (rules.not_reporting.includes(comm)) return comm;
  return rules.duty_states.includes(duty) ? duty : 'standby';
}
