/* Camera scanning, progressive: BarcodeDetector where the browser has it, else the vendored jsQR
 * (a classic script, loaded only when the camera is first switched on). The same code held in front
 * of the camera is one scan (the server also answers "already inside"). */

function loadScript(src) {
  return new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = resolve;
    document.head.append(script);
  });
}

async function detector(jsqrUrl) {
  if ('BarcodeDetector' in window) {
    const d = new window.BarcodeDetector({formats: ['qr_code']});
    return async (video) => {
      const codes = await d.detect(video);
      return codes.length ? codes[0].rawValue : null;
    };
  }
  if (!window.jsQR) await loadScript(jsqrUrl);
  if (!window.jsQR) return null;
  const canvas = document.createElement('canvas');
  return async (video) => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(video, 0, 0);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(image.data, image.width, image.height);
    return code ? code.data : null;
  };
}

/** Start reading codes from the camera into `video`; onCode(value) per new code. Resolves to a stop()
 * function, or null when the browser cannot scan. */
export async function startCamera(video, jsqrUrl, onCode) {
  if (!navigator.mediaDevices?.getUserMedia) return null;
  const detect = await detector(jsqrUrl);
  if (!detect) return null;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}});
  } catch {
    return null;
  }
  let running = true;
  let lastValue = '';
  let lastAt = 0;
  video.srcObject = stream;
  video.hidden = false;
  video.play();
  (async function tick() {
    while (running) {
      if (video.readyState >= 2) {
        try {
          const value = await detect(video);
          if (value && (value !== lastValue || Date.now() - lastAt > 3000)) {
            lastValue = value;
            lastAt = Date.now();
            onCode(value);
          }
        } catch { /* a frame that could not be read */ }
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }());
  return () => {
    running = false;
    for (const track of stream.getTracks()) track.stop();
    video.hidden = true;
  };
}
