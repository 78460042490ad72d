/* The kiosk's outbox: every scan becomes an event with a client event id, kept in localStorage and sent
 * in order. An event leaves the outbox only once the server answered it (any HTTP status but 503 and
 * 429, which say that a busy server did not look at it), so a kiosk that loses its connection, or
 * meets a server shedding load, sends its events later, and the server's UNIQUE client_event_id makes
 * a resend count once. Sent again on 'online' and every few seconds. */

import {ApiError, send} from '../lib/api.js';

const QUEUE_KEY = 'gisapp.kiosk.queue';
const KIOSK_KEY = 'gisapp.kiosk.id';
const RETRY_MS = 5000;

export function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; 127.0.0.1 is one, a plain-HTTP LAN address is not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** This device's kiosk id (kept across reloads). */
export function kioskId() {
  let id = localStorage.getItem(KIOSK_KEY);
  if (!id) {
    id = `kiosk-${uuid().slice(0, 8)}`;
    localStorage.setItem(KIOSK_KEY, id);
  }
  return id;
}

function load() {
  try {
    return JSON.parse(localStorage.getItem(QUEUE_KEY) || '[]');
  } catch {
    return [];
  }
}

/** The outbox. Callbacks: onCount(n) after every change, onAnswer(event, answer) for a recorded scan,
 * onRefused(event, ApiError) for a refusal, onOffline(n) when the network failed, onBusy(n) when the
 * server shed it (503/429: kept, sent again), onOnline(). */
export function outbox({onCount, onAnswer, onRefused, onOffline, onBusy, onOnline}) {
  const id = kioskId();
  let sending = false;

  function save(queue) {
    localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
    onCount(queue.length);
  }

  async function flush() {
    if (sending) return;
    const queue = load();
    if (!queue.length) return;
    sending = true;
    const event = queue[0];
    const url = `/api/disasters/${event.disaster_id}/shelters/${event.shelter_id}/checkins`;
    const body = {client_event_id: event.client_event_id, kind: event.kind, kiosk_id: id,
      device_time: event.device_time};
    if (event.token !== undefined) body.token = event.token;
    if (event.persons !== undefined) body.persons = event.persons;
    let again = false;
    try {
      const answer = await send('POST', url, body);
      save(load().filter((e) => e.client_event_id !== event.client_event_id));
      onOnline();
      onAnswer(event, answer);
      again = true;
    } catch (error) {
      if (error instanceof ApiError && (error.status === 503 || error.status === 429)) {
        // Shed by a busy server, after request()'s own waits: nothing was stored. Kept and sent
        // again on the next round, as a scan made offline is (the client event id counts it once).
        onBusy(load().length);
      } else if (error instanceof ApiError && error.status !== 0) {
        // Answered: done with this event, whatever the answer.
        save(load().filter((e) => e.client_event_id !== event.client_event_id));
        onOnline();
        onRefused(event, error);
        again = error.status !== 401;
      } else {
        onOffline(load().length);
      }
    } finally {
      sending = false;
    }
    if (again && load().length) flush();
  }

  /** Keep one event and send what waits; returns the event's client id. */
  function add(fields) {
    const event = {client_event_id: uuid(), device_time: new Date().toISOString(), ...fields};
    save([...load(), event]);
    flush();
    return event.client_event_id;
  }

  window.addEventListener('online', () => { onOnline(); flush(); });
  window.addEventListener('offline', () => onOffline(load().length));
  setInterval(flush, RETRY_MS);
  save(load());
  return {add, flush};
}
