/* Small DOM helpers shared by every page module. Text always goes in as text, never as HTML. */

let cachedData = null;

/** The page's data block (<script type="application/json" id="page-data">, frontend/render.py):
 * {lang, offline, text: {common, <page sections>}, …page data}. */
export function pageData() {
  if (cachedData === null) {
    const block = document.getElementById('page-data');
    cachedData = block ? JSON.parse(block.textContent) : {lang: 'ja', text: {common: {}}};
  }
  return cachedData;
}

/** Create an element: el('p', {class: 'x', lang: 'en'}, 'text', child…). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Fill "{name}" placeholders (the same as the server's |fmt filter). */
export function format(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (whole, key) =>
    Object.hasOwn(values, key) ? String(values[key]) : whole);
}

/** A CSS class fragment from data (slugs, ids): anything unusual becomes "_". */
export function classSafe(text) {
  return String(text).replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Run an async loader one at a time; a call made meanwhile runs it once more afterwards. */
export function oneAtATime(loader) {
  let running = false;
  let again = false;
  async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await loader();
    } catch (error) {
      console.error(error);
    } finally {
      running = false;
      if (again) {
        again = false;
        run();
      }
    }
  }
  return run;
}

/** A notice area: show(kind, lines) with lines [{text, lang?}], clear(). */
export function noticeBox(notice) {
  return {
    show(kind, lines) {
      notice.replaceChildren(...lines.map((line) => el('p', {lang: line.lang || null}, line.text)));
      notice.dataset.kind = kind;
      notice.hidden = false;
    },
    clear() {
      notice.hidden = true;
      notice.replaceChildren();
      delete notice.dataset.kind;
    },
  };
}

/** Say something to screen readers through a polite live region (created once per page). */
export function announce(message) {
  let region = document.getElementById('gisapp-announcer');
  if (!region) {
    region = el('p', {id: 'gisapp-announcer', class: 'gisapp-visually-hidden', role: 'status', 'aria-live': 'polite'});
    document.body.append(region);
  }
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, 50);
}

/** Local time "HH:MM" (or "M/D HH:MM" when not today) in Asia/Tokyo, for "last update" lines. */
export function clockTime(iso, lang) {
  if (!iso) return null;
  const date = new Date(iso);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  const options = {hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Tokyo'};
  if (!sameDay) Object.assign(options, {month: 'numeric', day: 'numeric'});
  return date.toLocaleString(lang === 'en' ? 'en-GB' : 'ja-JP', options);
}
