"""Issuance → visible on the citizen-facing instance, with the citizen surge of issue 11 running.

One run on a fresh stack with the demo data, on this machine's loopback: the internal instance, the
public instance (``--public-workers`` processes) behind nginx (deploy/nginx, bench/_proxy.py; the
per-address limits raised, as every connection comes from 127.0.0.1), and meanwhile:

- ``wrk`` at ``--connections`` (default 500) over the citizen mix of bench/citizen_surge.py plus the
  evacuation JSON itself (every phone polls it too);
- ``--streams`` open push streams (default 200; idle pages holding ``/api/public/evacuation-info/stream``).

Then ``--rounds`` (≥ 30) times: an order is issued (4 避難指示, two areas) and, once seen, cancelled (解除).
For each, from just before the write until:

- **api (proxy)**: ``GET /api/public/evacuation-info`` through the proxy (the plain URL, polled every
  20 ms) lists it (for a cancel: no longer lists it); the proxy keeps an answer to the end of the second
  it stored it in, so this is the write plus up to a second;
- **api (app)**: the same straight from the public instance (its response cache, keyed by the change
  counter);
- **stream**: a push stream through the proxy announces the new version;
- **banner**: headless Chromium on the citizen map (through the proxy) shows it in the banner (for a
  cancel: shows it as 解除) — what a resident sees; ``--no-browser`` leaves it out.

The write: ``--issue api`` (default) logs in as the demo's hq operator and calls
``POST /api/evacuation-info/orders`` and ``…/{id}/cancel`` on the internal instance, as the HQ map does;
``--issue db`` calls the issuing domain directly (tests/evac_support.py, one transaction), leaving the
internal instance's HTTP out.
Figures are printed (p50 / p95 / max in ms), never asserted; the target is p95 ≤ 1 s.

    .venv/bin/python bench/evac_visibility.py [--rounds 30] [--connections 500] [--streams 200]
        [--public-workers 2] [--issue api|db] [--no-browser] [--no-load]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import _proxy  # bench/_proxy.py (puts the repository on sys.path)
import _stack  # bench/_stack.py
import citizen_surge  # bench/citizen_surge.py: the load mix and the process helpers
import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
JSON_PATH = "/api/public/evacuation-info"
STREAM_PATH = "/api/public/evacuation-info/stream"
AREAS = ["T-KAMI", "T-SHIMO"]
CHROMIUM = "/usr/bin/chromium"


# ------------------------------------------------------------------------------------- the write
class DirectWriter:
    """The rows an issuance writes, by tests/evac_support.py (until the issuing API is on main)."""

    def __init__(self, settings) -> None:
        from sqlalchemy import create_engine

        from tests import evac_support

        self.evac = evac_support
        url = settings.migration_database_url
        self.engine = create_engine(url, pool_size=2)
        evac_support.ensure_areas(self.engine)
        evac_support.clear(self.engine)

    def issue(self) -> int:
        return self.evac.issue(self.engine, 4, AREAS, reason="ベンチマーク / benchmark")

    def cancel(self, order_id: int) -> None:
        self.evac.cancel(self.engine, order_id)


class ApiWriter:
    """The internal instance's issuing API (gisapp/api/evacuation_info.py), as the HQ map calls it."""

    def __init__(self, settings, internal_url: str, users: dict) -> None:
        DirectWriter(settings)  # the bench's two areas exist, nothing is in force
        self.client = httpx.Client(base_url=internal_url, timeout=30)
        r = self.client.post("/api/auth/login", json={"username": "hq", "password": users["hq"]})
        r.raise_for_status()
        self.client.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        self.versions: dict[int, int] = {}

    def issue(self) -> int:
        body = {"level": 4, "hazard": "landslide", "area_codes": AREAS, "reason": "ベンチマーク / benchmark"}
        r = self.client.post("/api/evacuation-info/orders", json=body)
        r.raise_for_status()
        order = r.json()
        self.versions[order["id"]] = order["version"]
        return order["id"]

    def cancel(self, order_id: int) -> None:
        body = {"expected_version": self.versions.pop(order_id), "reason": "ベンチマーク 解除"}
        self.client.post(f"/api/evacuation-info/orders/{order_id}/cancel", json=body).raise_for_status()


# ----------------------------------------------------------------------------------- the watchers
class StreamWatch(threading.Thread):
    """One push stream through the proxy: the time each version was announced."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.seen: dict[int, float] = {}
        self.changed = threading.Condition()

    def run(self) -> None:
        while True:
            try:
                with httpx.Client(timeout=None) as c, c.stream("GET", self.base + STREAM_PATH) as s:
                    for line in s.iter_lines():
                        if line.startswith("data:"):
                            version = json.loads(line[5:])["version"]
                            with self.changed:
                                if version is not None and version not in self.seen:
                                    self.seen[version] = time.time()
                                self.changed.notify_all()
            except httpx.HTTPError:
                time.sleep(0.5)

    def wait_for(self, version: int, timeout: float = 30) -> float | None:
        with self.changed:
            self.changed.wait_for(lambda: version in self.seen, timeout)
            return self.seen.get(version)


def idle_streams(port: int, n: int) -> list[socket.socket]:
    """Pages holding the push stream open (raw sockets: their few bytes wait in the kernel's buffer)."""
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(
            f"GET {STREAM_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        out.append(s)
    return out


def api_until(client: httpx.Client, order_id: int, present: bool, timeout: float = 30) -> float | None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            r = client.get(JSON_PATH)
            if r.status_code == 200 and (order_id in [o["id"] for o in r.json()["orders"]]) == present:
                return time.time()
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    return None


class Banner:
    """The citizen page in headless Chromium (through the proxy), its banner watched from inside the
    page: a MutationObserver notes when each order first appears in each status (the page's clock is
    this machine's), so the browser is measured alongside the API, not after it."""

    OBSERVE = """() => {
      window.__evacSeen = {};
      const note = () => document.querySelectorAll('.citizen-order, .citizen-lifted').forEach((el) => {
        const key = el.dataset.orderId + ':' + el.dataset.status;
        if (!(key in window.__evacSeen)) window.__evacSeen[key] = Date.now();
      });
      new MutationObserver(note).observe(document.getElementById('citizen-evac'),
        {childList: true, subtree: true, attributes: true});
      note();
    }"""

    def __init__(self, base: str) -> None:
        from playwright.sync_api import sync_playwright

        self._p = sync_playwright().start()
        # Only our own server is reachable (the GSI tiles fail at once). Not by Playwright's routing: its
        # handlers run only while this script is inside a Playwright call, which would hold the page's
        # requests while the API pollers run.
        self.browser = self._p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        context = self.browser.new_context(viewport={"width": 390, "height": 780})
        self.page = context.new_page()
        self.page.goto(base + "/")
        self.page.wait_for_selector("body[data-evac-stream='open']", timeout=60_000)
        self.page.evaluate(self.OBSERVE)

    def until(self, order_id: int, status: str, timeout: float = 30) -> float | None:
        key = f"{order_id}:{status}"
        try:
            self.page.wait_for_function(f"() => '{key}' in window.__evacSeen", timeout=timeout * 1000)
        except Exception:
            return None
        return self.page.evaluate(f"() => window.__evacSeen['{key}']") / 1000

    def close(self) -> None:
        self.browser.close()
        self._p.stop()


# ------------------------------------------------------------------------------------------- run
def figures(label: str, samples: list[float | None]) -> str:
    got = sorted(s for s in samples if s is not None)
    missed = len(samples) - len(got)
    if not got:
        return f"{label:<18} n=0"
    p95 = got[min(len(got) - 1, max(0, round(0.95 * len(got) + 0.5) - 1))]
    return (
        f"{label:<18} n={len(got):>3}  p50 {statistics.median(got) * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms"
        f"  max {got[-1] * 1000:7.0f} ms" + (f"  (not seen within 30 s: {missed})" if missed else "")
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--public-workers", type=int, default=2)
    ap.add_argument("--issue", choices=["api", "db"], default="api")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-load", action="store_true")
    args = ap.parse_args()
    if shutil.which("wrk") is None or _proxy.nginx_binary() is None:
        sys.exit(
            "wrk と nginx が必要です / wrk and nginx are needed (scripts/install-debs.sh, apt-get install wrk)"
        )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    root, stack, settings = _stack.start("gisapp-evacvis-")
    apps: list[citizen_surge.App] = []
    banner = None
    try:
        from gisapp.cli import _demo_load

        _demo_load(settings, 1)
        users = json.loads((settings.data_dir / "demo-users.json").read_text())
        env = {**os.environ, "GISAPP_DATA_DIR": str(settings.data_dir.resolve()), "LOG_LEVEL": "WARNING"}
        internal = citizen_surge.App("evac-internal", _stack.free_port(), env)
        apps.append(internal)
        workers = ["--workers", str(args.public_workers)] if args.public_workers > 1 else []
        public = citizen_surge.App("evac-public", _stack.free_port(), env, "--public", *workers)
        apps.append(public)
        writer = ApiWriter(settings, internal.url, users) if args.issue == "api" else DirectWriter(settings)
        with _proxy.Nginx(
            [public.port], **_proxy.UNLIMITED, error_log=str(Path("/tmp") / "evacvis-nginx-error.log")
        ) as proxy:
            paths = citizen_surge.citizen_paths(proxy.url) + [JSON_PATH] * 4
            load = None
            if not args.no_load:
                seconds = 40 + args.rounds * 5
                load = threading.Thread(
                    target=lambda: print_load(citizen_surge.wrk(proxy.url, paths, args.connections, seconds)),
                    daemon=True,
                )
                load.start()
                time.sleep(5)  # the surge is under way
            held = idle_streams(proxy.port, args.streams)
            watch = StreamWatch(proxy.url)
            watch.start()
            if not args.no_browser:
                banner = Banner(proxy.url)
            print(
                f"stack: demo data; public instance {args.public_workers} process(es) behind nginx; "
                f"load: {'none' if args.no_load else f'wrk {args.connections} connections, citizen mix + evacuation JSON'}; "
                f"{args.streams} idle push streams; issuance by {args.issue}; {os.cpu_count()} cores shared",
                flush=True,
            )
            kinds = ["api (proxy)", "api (app)", "stream", *([] if banner is None else ["banner"])]
            results: dict[str, list[float | None]] = {
                f"{a} {k}": [] for a in ("issue", "cancel") for k in kinds
            }
            with (
                httpx.Client(base_url=proxy.url, timeout=10) as via_proxy,
                httpx.Client(base_url=public.url, timeout=10) as direct,
            ):
                version = via_proxy.get(JSON_PATH).json()["version"]
                for _ in range(args.rounds):
                    for action in ("issue", "cancel"):
                        present = action == "issue"
                        seen: dict[str, float | None] = {}
                        t0 = time.time()
                        if action == "issue":
                            order_id = writer.issue()
                        else:
                            writer.cancel(order_id)
                        version += 1
                        # Both pollers at once; the stream and the page note their own times.
                        app_poll = threading.Thread(
                            target=lambda out=seen, oid=order_id, p=present: out.__setitem__(
                                "api (app)", api_until(direct, oid, p)
                            )
                        )
                        app_poll.start()
                        seen["api (proxy)"] = api_until(via_proxy, order_id, present)
                        app_poll.join()
                        seen["stream"] = watch.wait_for(version)
                        if banner is not None:
                            seen["banner"] = banner.until(order_id, "active" if present else "cancelled")
                        for kind in kinds:
                            at = seen.get(kind)
                            results[f"{action} {kind}"].append(at - t0 if at is not None else None)
                        # a random pause: the writes must not keep one phase to the proxy's second
                        time.sleep(0.3 + random.random())
            print(
                f"\n{args.rounds} issuances and {args.rounds} cancellations; from just before the write until seen:"
            )
            for label, samples in results.items():
                if samples:
                    print("  " + figures(label, samples))
            try:
                health = httpx.get(public.url + "/healthz", timeout=10).json()
                print(f"\npublic instance after the run: {json.dumps(health.get('load'))}")
            except httpx.HTTPError as e:
                print(f"\npublic instance after the run: /healthz did not answer ({type(e).__name__})")
            for s in held:
                s.close()
            if load is not None:
                load.join()
    finally:
        if banner is not None:
            banner.close()
        for app in apps:
            app.stop()
        _stack.stop(root, stack)


def print_load(r: dict) -> None:
    n = max(r["requests"], 1)
    print(
        f"\nload during the run (wrk): {r['rps']} req/s, p50 {r['p50']} ms, p95 {r['p95']} ms, "
        f"shed {100 * r['shed'] / n:.1f} %, 429 {100 * r['limited'] / n:.1f} %, errors {r['other'] + r['socket_errors']}",
        flush=True,
    )


if __name__ == "__main__":
    main()
