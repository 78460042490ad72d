/* 印刷用地図 (PDF): the link to GET /api/maps/situation.pdf for the map as it is shown — its bounds, the
 * disaster, the time (none: now, on the live HQ map; the chosen T on the replay page) — on the paper
 * chosen beside it ("A3/landscape"). The href is rebuilt when the map moves, the paper or the disaster
 * changes and once more on click, so what prints is what the operator sees. Hidden while there is no
 * disaster to print. */

/** link: <a>, paper: <select> of "A3/landscape"…, disasterId(): id or null, at(): ISO time or null. */
export function printLink({map, link, paper, disasterId, at = () => null, lang = 'ja'}) {
  function update() {
    const id = disasterId();
    const none = id === null || id === undefined;
    link.hidden = none;
    if (paper) paper.hidden = none;
    if (none) return;
    const b = map.getBounds();
    const [size, orientation] = (paper?.value || 'A3/landscape').split('/');
    const params = new URLSearchParams({
      disaster: String(id),
      bbox: [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(','),
      paper: size,
      orientation,
    });
    const t = at();
    if (t) params.set('at', t);
    if (lang === 'en') params.set('lang', 'en');
    link.href = `/api/maps/situation.pdf?${params}`;
  }
  map.on('moveend', update);
  paper?.addEventListener('change', update);
  link.addEventListener('click', update); // runs before the browser follows the link
  update();
  return {update};
}
