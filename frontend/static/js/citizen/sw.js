/* The citizen page's offline copy (served at /sw.js, scope /): the network first, always; what it
 * answered is kept, and given back when the network or the server is gone. Kept: the page (/ with its
 * query), its JSON (/api/public/here), its styles and scripts (/static/…, /symbols.css). A JSON answer
 * given from the copy says so ("offline_copy": true), and the page then shows the time of its answers.
 * Nothing personal is kept beyond this phone: the copy lives in this browser only. */

const CACHE = 'gisapp-citizen-v1';
const NETWORK_WAIT_MS = 6000; // a network that hangs counts as gone (a phone in a crowd)

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function kept(url, request) {
  if (request.method !== 'GET' || url.origin !== self.location.origin) return false;
  if (request.mode === 'navigate') return url.pathname === '/';
  return url.pathname === '/api/public/here' || url.pathname.startsWith('/static/') || url.pathname === '/symbols.css';
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('network timeout')), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (error) => { clearTimeout(timer); reject(error); });
  });
}

async function fromCopy(request, url) {
  const cache = await caches.open(CACHE);
  let found = await cache.match(request);
  if (!found && request.mode === 'navigate') found = await cache.match('/');  // any copy of the page
  if (!found && url.pathname === '/api/public/here') {
    // the last answer for any place beats none
    const keys = await cache.keys();
    const any = keys.find((k) => new URL(k.url).pathname === '/api/public/here');
    if (any) found = await cache.match(any);
  }
  if (!found) return null;
  if (request.mode === 'navigate') {
    // The page says it is a copy (its script then shows the time of its answers and keeps asking).
    const html = (await found.text()).replace('<body ', '<body data-offline-copy="true" ');
    const headers = new Headers(found.headers);
    headers.delete('Content-Length');
    headers.delete('Content-Encoding');
    return new Response(html, {status: 200, headers});
  }
  if (url.pathname === '/api/public/here') {
    const body = await found.json();
    body.offline_copy = true;
    return new Response(JSON.stringify(body), {headers: {'Content-Type': 'application/json'}});
  }
  return found;
}

/** Keep the answer; for the JSON and the static files only the newest per path (a position answer is
 * not kept beside older ones, and a redeploy's old files do not pile up). */
async function store(request, response) {
  const cache = await caches.open(CACHE);
  const url = new URL(request.url);
  if (url.pathname === '/api/public/here' || url.pathname.startsWith('/static/')) {
    for (const key of await cache.keys()) {
      const old = new URL(key.url);
      if (old.pathname === url.pathname && old.href !== url.href) await cache.delete(key);
    }
  }
  await cache.put(request, response);
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (!kept(url, event.request)) return;
  event.respondWith((async () => {
    try {
      const response = await withTimeout(fetch(event.request), NETWORK_WAIT_MS);
      if (response.ok) {
        const copy = response.clone();
        event.waitUntil(store(event.request, copy));
        return response;
      }
      if (response.status >= 500) {
        const copy = await fromCopy(event.request, url);
        if (copy) return copy;
      }
      return response;
    } catch (error) {
      const copy = await fromCopy(event.request, url);
      if (copy) return copy;
      throw error;
    }
  })());
});
