/** A gauge value for people: fixed decimals (mm: 1, m: 2), never 216.99999999999994. */
export function gaugeNumber(value, digits) {
  if (value === null || value === undefined || value === '' || !Number.isFinite(Number(value))) return '—';
  return Number(value).toFixed(digits);
}
export const digitsOf = (measure) => (measure === 'level_m' ? 2 : 1);
export const unitOf = (measure) => (measure === 'level_m' ? 'm' : 'mm');
