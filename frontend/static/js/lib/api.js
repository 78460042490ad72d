/* The one module for talking to our API: fetch with the session cookie, the busy server's
 * Retry-After honoured, and errors decoded into ApiError carrying the server's own Japanese and
 * English message (and the field it names, for forms). Every page module uses this; nothing else
 * calls fetch() for JSON. */

const BUSY_TRIES = 4;

/** A refused or failed request. status 0 = the network (offline, DNS, connection reset). */
export class ApiError extends Error {
  constructor(status, body, url) {
    const error = body?.error || {};
    super(error.message_en || error.message_ja || `HTTP ${status} for ${url}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = error.code || null;
    this.messageJa = error.message_ja || null;
    this.messageEn = error.message_en || null;
    this.field = error.field || error.details?.field || null;
    this.details = error.details || null;
    this.body = body;
    this.url = url;
  }

  /** The server's message in the page's language first, as [{lang, text}] lines (empty if none). */
  lines(lang) {
    const lines = [];
    if (this.messageJa) lines.push({lang: 'ja', text: this.messageJa});
    if (this.messageEn) lines.push({lang: 'en', text: this.messageEn});
    if (lang === 'en') lines.reverse();
    return lines;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function decode(response, url) {
  const type = response.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, body, url);
  return body;
}

/** fetch() that waits and asks again when the server sheds load (503/429 with Retry-After), with a
 * random spread so that phones told "busy" together do not come back together. */
export async function request(url, options = {}, tries = 0) {
  let response;
  try {
    response = await fetch(url, {credentials: 'same-origin', ...options,
      headers: {Accept: 'application/json', ...(options.headers || {})}});
  } catch (networkError) {
    const error = new ApiError(0, null, url);
    error.cause = networkError;
    throw error;
  }
  const after = parseInt(response.headers.get('Retry-After') || '', 10);
  if ((response.status === 503 || response.status === 429) && after >= 0 && tries + 1 < BUSY_TRIES) {
    await sleep(Math.min(after, 30) * 1000 + Math.random() * 1000);
    return request(url, options, tries + 1);
  }
  return response;
}

/** GET a JSON document. Rejects with ApiError. */
export async function getJSON(url, options = {}) {
  return decode(await request(url, options), url);
}

/** POST/PATCH/PUT/DELETE with a JSON body (or FormData as it is). Rejects with ApiError. */
export async function send(method, url, body, options = {}) {
  const init = {method, ...options};
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = {'Content-Type': 'application/json', ...(options.headers || {})};
  }
  return decode(await request(url, init), url);
}

const onceCache = new Map();

/** getJSON shared by everyone on the page (the layer list wanted by the map and the basemap alike).
 * Failures are not kept. */
export function getJSONOnce(url) {
  if (!onceCache.has(url)) {
    onceCache.set(url, getJSON(url).catch((error) => {
      onceCache.delete(url);
      throw error;
    }));
  }
  return onceCache.get(url);
}

/** The words for an error as [{lang, text}]: the server's own message, else offline/busy/failed from
 * the page's catalogue (``common`` section). */
export function errorLines(error, text, lang) {
  if (error instanceof ApiError) {
    const own = error.lines(lang);
    if (own.length) return own;
    if (error.status === 0) return [{text: text.offline}];
    if (error.status === 503 || error.status === 429) return [{text: text.busy}];
    return [{text: text.failed.replace('{status}', String(error.status))}];
  }
  return [{text: text.failed.replace('{status}', '?')}];
}
