"""The citizen's disaster-day page on a throttled phone (issue 13): how soon the answers are on screen
and what the first view costs, against a plain list page of the same shelters in the same run.

- Its own stack (bench/_stack.py): PostGIS + Mosquitto, the demo (``gisapp demo load``) and the demo
  disaster in progress (the storm story: open shelters, incidents, 避難情報), then ``gisapp serve
  --public`` (response cache on, as deployed) as a child process.
- Chromium (Playwright) at 390x844, a new context per run (cold cache, no service worker yet), CDP
  ``Network.emulateNetworkConditions`` 1.6 Mbps down / 750 kbps up / 150 ms RTT and
  ``Emulation.setCPUThrottlingRate`` 4.
- Times: the page's ``elementtiming`` marks (the evacuation banner's text, the first shelter's name; the
  server renders both, so they paint with the first contentful paint), first contentful paint, load.
- Bytes (on the wire, ``encodedDataLength``) and requests of the first view: everything fetched until
  the load event and one quiet second after it.
- The peer: a plain HTML list of the same shelters (names and congestion, no script, no style), made by
  this script from the same answer and served by the same server as a static file.

Median of ``--runs`` (5). Run: ``PYTHONPATH=$PWD .venv/bin/python bench/citizen_page.py``.
"""

from __future__ import annotations

import argparse
import html
import os
import statistics
import sys
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).parent))
import _stack
from citizen_surge import App

from frontend.static_files import STATIC_DIR
from gisapp import demo, demo_story
from gisapp.db import app_engine

CHROMIUM = "/usr/bin/chromium"
PEER = "bench-plain-list.html"  # written under frontend/static for the run, removed afterwards
THROTTLE = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}

# Collected in the page: element timings (render time), first contentful paint, load.
_OBSERVE = """
window.__marks = {};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (!(e.identifier in window.__marks)) window.__marks[e.identifier] = e.renderTime || e.loadTime;
  }
}).observe({type: 'element', buffered: true});
"""
_READ = """() => {
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  return {marks: window.__marks || {}, fcp: paint ? paint.startTime : null,
          load: nav ? nav.loadEventEnd : null, ttfb: nav ? nav.responseStart : null};
}"""


def plain_list(answer: dict) -> str:
    items = "".join(
        f"<li elementtiming='citizen-shelters'>{html.escape(s['name'])}: {html.escape(s['level_ja'])} "
        f"{s['occupancy']}/{s['capacity'] or '?'}</li>"
        for s in answer["shelters"]
    )
    orders = (
        "".join(
            f"<p elementtiming='citizen-evac'>警戒レベル{o['level']} {html.escape(o['name_ja'])}</p>"
            for o in answer["evacuation"]["orders"]
        )
        or "<p elementtiming='citizen-evac'>発令中の避難情報はありません</p>"
    )
    return (
        "<!DOCTYPE html><html lang='ja'><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><title>避難所</title>"
        f"{orders}<ol>{items}</ol></html>"
    )


def visit(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  service_workers="block")  # fmt: skip
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", THROTTLE)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    sizes: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.add_init_script(_OBSERVE)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(1000)
    read = page.evaluate(_READ)
    context.close()
    marks = read["marks"]
    return {
        "evac": marks.get("citizen-evac", read["fcp"]),
        "shelters": marks.get("citizen-shelters", read["fcp"]),
        "fcp": read["fcp"],
        "load": read["load"],
        "ttfb": read["ttfb"],
        "bytes": sum(sizes.values()),
        "requests": len(sizes),
    }


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows if r[key] is not None)


def report(label: str, rows: list[dict]) -> None:
    print(
        f"{label:<34} banner {median(rows, 'evac') / 1000:5.2f} s  shelter list {median(rows, 'shelters') / 1000:5.2f} s"
        f"  FCP {median(rows, 'fcp') / 1000:5.2f} s  (HTML first byte {median(rows, 'ttfb') / 1000:4.2f} s)  load {median(rows, 'load') / 1000:5.2f} s"
        f"  {median(rows, 'bytes') / 1024:6.1f} KB  {median(rows, 'requests'):.0f} requests",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root, stack, settings = _stack.start("citizen-page-")
    peer_file = STATIC_DIR / PEER
    app = None
    try:
        engine = app_engine(settings)
        data_dir = root / "demo"
        data_dir.mkdir()
        demo.load(engine, data_dir)
        story = demo_story.load_story(engine, data_dir)
        print(f"demo disaster in progress: id {story.disaster_id}", flush=True)
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        app = App("citizen-page", _stack.free_port(), env, "--public")
        areas = httpx.get(app.url + "/", timeout=30)
        areas.raise_for_status()
        area = httpx.get(app.url + "/api/public/here", timeout=30).json()
        code = None
        with engine.connect() as conn:
            from gisapp.ops import citizen_view

            listed = citizen_view.areas(conn)
            code = listed[0]["code"] if listed else None
        answer = httpx.get(
            app.url + "/api/public/here", params={"area": code} if code else {}, timeout=30
        ).json()
        print(
            f"open shelters: {len(answer['shelters'])}, orders in force: {len(area['evacuation']['orders'])}, "
            f"incidents: {len(answer['incidents'])}, area: {code}",
            flush=True,
        )
        peer_file.write_text(plain_list(answer), encoding="utf-8")
        targets = [
            ("citizen page, chosen area", f"{app.url}/?area={code}" if code else f"{app.url}/"),
            ("citizen page, no place", f"{app.url}/"),
            ("peer: plain list page", f"{app.url}/static/{PEER}"),
        ]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            visit(browser, targets[0][1])  # warm the server's own cache, not the browser's
            print(
                f"\n390x844, 1.6 Mbps / 750 kbps / 150 ms RTT, CPU x4, cold cache, median of {args.runs}:",
                flush=True,
            )
            for label, url in targets:
                report(label, [visit(browser, url) for _ in range(args.runs)])
            browser.close()
    finally:
        peer_file.unlink(missing_ok=True)
        if app is not None:
            app.stop()
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
