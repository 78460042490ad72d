/* Shelter check-in kiosk (避難所受付): staff choose the shelter, then scan household QR codes — a handheld
 * scanner types the token and Enter into the focused field, or the camera reads it (BarcodeDetector
 * where the browser has it, else the vendored jsQR) — and record entries (入所) or exits (退所); walk-ins
 * are recorded by number.
 *
 * Offline: every scan becomes an event with a client event id (crypto.randomUUID) in a queue kept in
 * localStorage, sent in order; an event is dropped from the queue only once the server answered it
 * (any HTTP status), so a kiosk that loses its connection sends its events later, and the server's
 * UNIQUE client_event_id makes a resend count once. Replayed on 'online' and every few seconds.
 *
 * The kiosk receives and shows counts only (世帯 4名（要配慮 1・ペット 1）), never a name.
 * Browser tests can wait for: #evac-shelter option, #evac-scan, #evac-feedback[data-result],
 * #evac-pending[data-count], body[data-online].
 */
(function () {
  'use strict';

  var config = JSON.parse(document.getElementById('evac-config').textContent);
  var t = config.text;
  var app = document.getElementById('evac-app');
  var QUEUE_KEY = 'gisapp.kiosk.queue';
  var SHELTER_KEY = 'gisapp.kiosk.shelter';
  var KIOSK_KEY = 'gisapp.kiosk.id';
  var RETRY_MS = 5000;

  // From common.js (loaded first): textContent-only element builder and {key} templates.
  var el = window.gisapp.el;
  var format = window.gisapp.format;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; 127.0.0.1 is one, a plain-HTTP LAN address is not.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  var kioskId = localStorage.getItem(KIOSK_KEY);
  if (!kioskId) {
    kioskId = 'kiosk-' + uuid().slice(0, 8);
    localStorage.setItem(KIOSK_KEY, kioskId);
  }

  // ------------------------------------------------------------------ the page
  var top = el('div', 'evac-kiosk-top');
  var shelterLabel = el('label', null, t.shelter);
  var shelter = el('select');
  shelter.id = 'evac-shelter';
  shelterLabel.htmlFor = 'evac-shelter';
  top.appendChild(shelterLabel);
  top.appendChild(shelter);
  var line = el('span', 'evac-online');
  line.id = 'evac-online';
  top.appendChild(line);
  var pending = el('span', 'evac-pending');
  pending.id = 'evac-pending';
  top.appendChild(pending);
  app.appendChild(top);

  var modes = el('fieldset', 'evac-modes');
  modes.appendChild(el('legend', null, t.mode));
  ['entry', 'exit'].forEach(function (kind) {
    var label = el('label', 'evac-mode evac-mode-' + kind);
    var radio = document.createElement('input');
    radio.type = 'radio';
    radio.name = 'kind';
    radio.value = kind;
    radio.id = 'evac-mode-' + kind;
    radio.checked = kind === 'entry';
    label.appendChild(radio);
    label.appendChild(document.createTextNode(' ' + t[kind]));
    modes.appendChild(label);
  });
  app.appendChild(modes);

  var scanForm = el('form', 'evac-scan-form');
  var scanLabel = el('label', null, t.scan_label);
  var scanInput = el('input', 'evac-scan');
  scanInput.id = 'evac-scan';
  scanInput.autocomplete = 'off';
  scanInput.autofocus = true;
  scanLabel.htmlFor = 'evac-scan';
  scanForm.appendChild(scanLabel);
  scanForm.appendChild(scanInput);
  app.appendChild(scanForm);

  var feedback = el('p', 'evac-feedback', '');
  feedback.id = 'evac-feedback';
  feedback.setAttribute('role', 'status');
  feedback.setAttribute('aria-live', 'assertive');
  app.appendChild(feedback);

  var occupancyLine = el('p', 'evac-occupancy', '');
  occupancyLine.id = 'evac-occupancy';
  app.appendChild(occupancyLine);

  var walkForm = el('form', 'evac-walk-form');
  var walkLabel = el('label', null, t.walk_in);
  var walkInput = el('input', 'evac-walk');
  walkInput.type = 'number';
  walkInput.min = '1';
  walkInput.max = '500';
  walkInput.value = '1';
  walkInput.id = 'evac-walk';
  walkLabel.htmlFor = 'evac-walk';
  var walkButton = el('button', 'evac-button', t.walk_in_add);
  walkButton.type = 'submit';
  walkButton.id = 'evac-walk-add';
  walkForm.appendChild(walkLabel);
  walkForm.appendChild(walkInput);
  walkForm.appendChild(walkButton);
  app.appendChild(walkForm);

  var camera = el('button', 'evac-button-secondary', t.camera_start);
  camera.type = 'button';
  camera.id = 'evac-camera';
  app.appendChild(camera);
  var video = el('video', 'evac-video');
  video.setAttribute('playsinline', '');
  video.muted = true;
  video.hidden = true;
  app.appendChild(video);

  // ------------------------------------------------------------------ state
  var disasterId = null;

  function kind() {
    return document.getElementById('evac-mode-exit').checked ? 'exit' : 'entry';
  }

  function show(result, message) {
    feedback.setAttribute('data-result', result);
    feedback.textContent = message;
  }

  function loadQueue() {
    try {
      return JSON.parse(localStorage.getItem(QUEUE_KEY) || '[]');
    } catch (e) {
      return [];
    }
  }

  function saveQueue(queue) {
    localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
    pending.setAttribute('data-count', String(queue.length));
    pending.textContent = queue.length ? format(t.pending, {n: queue.length}) : '';
  }

  function setOnline(online) {
    document.body.setAttribute('data-online', online ? 'true' : 'false');
    line.textContent = online ? t.online : t.offline;
  }

  function loadShelters() {
    return fetch('/api/kiosk/shelters', {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (response) { return response.json(); })
      .then(function (body) {
        disasterId = body.disaster_id;
        while (shelter.firstChild) shelter.removeChild(shelter.firstChild);
        if (!body.shelters.length) {
          shelter.appendChild(el('option', null, t.no_shelters)).value = '';
          return;
        }
        body.shelters.forEach(function (s) {
          var option = el('option', null, s.name);
          option.value = String(s.shelter_id);
          shelter.appendChild(option);
        });
        var saved = localStorage.getItem(SHELTER_KEY);
        if (saved && shelter.querySelector('option[value="' + saved.replace(/[^0-9]/g, '') + '"]')) {
          shelter.value = saved;
        }
        document.body.setAttribute('data-shelters', String(body.shelters.length));
      });
  }

  shelter.addEventListener('change', function () {
    localStorage.setItem(SHELTER_KEY, shelter.value);
    scanInput.focus();
  });

  function describe(answer) {
    var values = {persons: answer.persons, care: answer.needs_care || 0, pets: answer.pets || 0};
    if (answer.result === 'already_inside') return format(t.already_inside, values);
    if (answer.walk_in) return format(answer.result === 'entered' ? t.walk_entered : t.walk_exited, values);
    return format(answer.result === 'entered' ? t.entered : t.exited, values);
  }

  // ------------------------------------------------------------------ the queue
  var sending = false;

  function flush() {
    if (sending) return;
    var queue = loadQueue();
    if (!queue.length) return;
    sending = true;
    var event = queue[0];
    var url = '/api/disasters/' + event.disaster_id + '/shelters/' + event.shelter_id + '/checkins';
    var body = {client_event_id: event.client_event_id, kind: event.kind, kiosk_id: kioskId,
                device_time: event.device_time};
    if (event.token !== undefined) body.token = event.token;
    if (event.persons !== undefined) body.persons = event.persons;
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json'},
      body: JSON.stringify(body)
    }).then(function (response) {
      setOnline(true);
      return response.json().catch(function () { return {}; }).then(function (answer) {
        // Answered: done with this event, whatever the answer.
        saveQueue(loadQueue().filter(function (e) { return e.client_event_id !== event.client_event_id; }));
        if (response.ok) {
          show(answer.result, describe(answer));
          var level = config.lang === 'en' ? answer.level_en : answer.level_ja;
          occupancyLine.textContent = format(t.occupancy, {occupancy: answer.occupancy,
                                                          capacity: answer.capacity, level: level});
        } else if (response.status === 401) {
          window.location.href = '/login?next=/kiosk';
        } else {
          var e = answer.error || {};
          show('error', format(t.error, {message: config.lang === 'en' ? e.message_en : e.message_ja}));
        }
      });
    }).catch(function () {
      setOnline(false);
      show('queued', format(t.queued, {n: loadQueue().length}));
    }).then(function () {
      sending = false;
      if (document.body.getAttribute('data-online') === 'true' && loadQueue().length) flush();
    });
  }

  function record(fields) {
    if (!shelter.value || disasterId === null) return;
    var event = Object.assign({
      client_event_id: uuid(),
      kind: kind(),
      shelter_id: parseInt(shelter.value, 10),
      disaster_id: disasterId,
      device_time: new Date().toISOString()
    }, fields);
    var queue = loadQueue();
    queue.push(event);
    saveQueue(queue);
    flush();
  }

  scanForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var value = scanInput.value.trim();
    scanInput.value = '';
    if (value) record({token: value});
    scanInput.focus();
  });

  walkForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var n = parseInt(walkInput.value, 10);
    if (n >= 1 && n <= 500) record({persons: n});
    walkInput.value = '1';
    scanInput.focus();
  });

  window.addEventListener('online', function () { setOnline(true); flush(); });
  window.addEventListener('offline', function () { setOnline(false); });
  setInterval(flush, RETRY_MS);

  // ------------------------------------------------------------------ the camera (progressive)
  var stream = null;
  var lastValue = '';
  var lastAt = 0;

  function detector() {
    if ('BarcodeDetector' in window) {
      var d = new window.BarcodeDetector({formats: ['qr_code']});
      return function (source) {
        return d.detect(source).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
      };
    }
    if (window.jsQR) {
      var canvas = document.createElement('canvas');
      return function (source) {
        canvas.width = source.videoWidth;
        canvas.height = source.videoHeight;
        var ctx = canvas.getContext('2d');
        ctx.drawImage(source, 0, 0);
        var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(image.data, image.width, image.height);
        return Promise.resolve(code ? code.data : null);
      };
    }
    return null;
  }

  function loadJsQr() {
    if ('BarcodeDetector' in window || window.jsQR) return Promise.resolve();
    return new Promise(function (resolve) {
      var script = document.createElement('script');
      script.src = '/static/vendor/jsqr/jsQR.js';
      script.onload = resolve;
      script.onerror = resolve;
      document.head.appendChild(script);
    });
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.hidden = true;
    camera.textContent = t.camera_start;
  }

  camera.addEventListener('click', function () {
    if (stream) {
      stopCamera();
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      show('error', t.camera_unavailable);
      return;
    }
    loadJsQr().then(function () {
      var detect = detector();
      if (!detect) {
        show('error', t.camera_unavailable);
        return;
      }
      navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}}).then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        camera.textContent = t.camera_stop;
        video.play();
        (function tick() {
          if (!stream) return;
          var next = function () { setTimeout(tick, 250); };
          if (video.readyState < 2) return next();
          detect(video).then(function (value) {
            // The same code held in front of the camera is one scan (the server also says already inside).
            if (value && (value !== lastValue || Date.now() - lastAt > 3000)) {
              lastValue = value;
              lastAt = Date.now();
              record({token: value});
            }
          }).catch(function () { /* a frame that could not be read */ }).then(next);
        }());
      }).catch(function () {
        show('error', t.camera_unavailable);
      });
    });
  });

  setOnline(navigator.onLine);
  saveQueue(loadQueue());
  loadShelters().then(flush);
  scanInput.focus();
}());
