/* The HQ map's one event stream (/api/events). Every event carries the stream's seq: a gap means
 * something was missed, and so may a reconnect — both call onMissed() (every module refetches its
 * snapshot). The browser reconnects by itself while readyState is CONNECTING; if the server refused
 * the stream (CLOSED), a new one is opened with a growing delay. */

const RECONNECT_MAX_MS = 30000;

/** Open the stream: `types` the event names to listen to, onEvent(type, message), onMissed(),
 * onState('live' | 'reconnecting'), onSeq(seq). Returns {source()} (the current EventSource). */
export function openStream({types, onEvent, onMissed, onState, onSeq}) {
  let lastSeq = null;
  let reconnectDelay = 1000;
  let hadError = false;
  let current = null;

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (_error) {
      console.warn(`${event.type}: not JSON`, event.data);
      return null;
    }
  }

  function handle(event) {
    const message = parse(event);
    if (!message) return;
    if (typeof message.seq === 'number') {
      if (lastSeq !== null && message.seq !== lastSeq + 1) onMissed();
      lastSeq = message.seq;
      onSeq(lastSeq);
    }
    onEvent(event.type, message);
  }

  function connect() {
    const source = new EventSource('/api/events');
    current = source;
    types.forEach((type) => { source.addEventListener(type, handle); });
    source.addEventListener('open', () => {
      reconnectDelay = 1000;
      onState('live');
      if (hadError) onMissed();  // positions sent while we were away may be lost
      hadError = false;
    });
    source.addEventListener('error', () => {
      hadError = true;
      onState('reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(connect, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
      }
    });
    if (window.gisapp) window.gisapp.eventSource = source;  // lets a test close it
  }

  connect();
  return {source: () => current};
}
