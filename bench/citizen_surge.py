"""The disaster-day surge: citizens on the public instance while the HQ works (issue 11).

One run on a fresh stack with the demo data (fsync on), everything on this machine's loopback:

1. **Rising concurrency** (``--steps``, default 10 → 1,000 connections, ``--duration`` s each) of a
   realistic citizen mix with ``wrk``: the citizen page, its scripts and styles, the layer list, every
   layer's features, public incidents and shelter congestion (fetched again as the page refreshes
   them) and vector tiles around the city centre. Three set-ups side by side:
   - ``alone``: ``gisapp serve --public`` (``--public-workers`` processes) straight;
   - ``proxy``: the same behind nginx (deploy/nginx, bench/_proxy.py; the per-address rate limits are
     raised, as every wrk connection comes from 127.0.0.1);
   - ``replica``: the public instance reading a streaming replica (``gisapp up --replica``'s code).
   Throughout, an HQ client (logged in, on the internal instance) reads its own routes in a loop and
   its p95 is printed per step.
2. **Overload**: the database-bound part of the public API (OGC items with changing bounding boxes,
   name search: answers no cache can hold) at 3× the capacity measured just before, for
   ``--overload`` s (connections paced with wrk's ``delay()`` so the offered rate is known): shed
   rate, HQ p95, and the time until the public instance answers at its normal latency again.
3. **First view**: bytes transferred for the citizen page's first view (HTML + CSS + JS + first
   data), compressed as a browser asks for it.

CPU seconds of the load generator (wrk), the app processes, nginx and PostgreSQL are printed per
step: the load generator shares the 2 cores. Figures are printed, never asserted.

    .venv/bin/python bench/citizen_surge.py [--duration 10] [--steps 10,50,100,200,500,1000]
        [--overload 60] [--public-workers 1] [--skip proxy,replica,overload] [--app-root ../before]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import _proxy  # bench/_proxy.py
import _stack  # bench/_stack.py (this script's folder is on sys.path)
import httpx2 as httpx

from gisapp.localstack import LocalStack
from gisapp.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CENTRE = (139.30, 35.395)  # the demo city

WRK_LUA = r"""
local paths = {%(paths)s}
local pace = %(pace)d
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  ok, shed, limited, other = 0, 0, 0, 0
  i = math.random(0, #paths - 1)
end
function delay()
  if pace > 0 then return math.random(math.floor(pace / 2), pace + math.floor(pace / 2)) end
  return 0
end
function request()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Accept-Encoding"] = "gzip, br"})
end
function response(status, headers, body)
  if status < 400 then ok = ok + 1
  elseif status == 503 then shed = shed + 1
  elseif status == 429 then limited = limited + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, s, l, x = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); s = s + t:get("shed"); l = l + t:get("limited"); x = x + t:get("other")
  end
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%.3f, "ok": %%d, "shed": %%d, ' ..
    '"limited": %%d, "other": %%d, "socket_errors": %%d, "p50": %%.2f, "p95": %%.2f, "p99": %%.2f}\n',
    summary.requests, summary.duration / 1e6, o, s, l, x, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


# ------------------------------------------------------------------------------------ processes
def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """A process and its descendants (uvicorn workers, nginx workers)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += family(int(child))
    return out


def postgres_pids() -> list[int]:
    res = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
    return [int(p) for p in res.stdout.split()]


class App:
    """``gisapp serve`` as a child process."""

    def __init__(self, name: str, port: int, env: dict, *args: str) -> None:
        self.name, self.port = name, port
        self.log = open(Path(tempfile.gettempdir()) / f"surge-{name}.log", "w")
        argv = [sys.executable, "-m", "gisapp.cli", "serve", "--port", str(port), *args]
        cwd = env.get("SURGE_APP_ROOT", str(ROOT))  # --app-root: another checkout's code (a "before")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd)
        _stack.wait_http(f"http://127.0.0.1:{port}/healthz", 60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return family(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ---------------------------------------------------------------------------------------- HQ probe
class HQProbe(threading.Thread):
    """An HQ operator's screen: its routes in a loop, ~20 requests/s, latency of each."""

    def __init__(self, base: str, username: str, password: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base, timeout=30)
        r = self.client.post("/api/auth/login", json={"username": username, "password": password})
        r.raise_for_status()
        self.client.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        disasters = self.client.get("/api/disasters").json()
        first = (disasters.get("disasters") if isinstance(disasters, dict) else disasters) or []
        did = first[0]["id"] if first else None
        self.paths = ["/api/radio-units", "/api/layers", "/api/disasters", "/api/devices/status"]
        if did is not None:
            self.paths += [f"/api/disasters/{did}/incidents", f"/api/disasters/{did}/counts"]
        self.samples: list[tuple[float, float, int]] = []  # (time, seconds, status)
        self.stopping = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stopping.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            t0 = time.monotonic()
            try:
                status = self.client.get(path).status_code
            except httpx.HTTPError:
                status = 0
            self.samples.append((t0, time.monotonic() - t0, status))
            self.stopping.wait(0.05)

    def window(self, start: float, end: float) -> dict:
        got = [(s, st) for t, s, st in self.samples if start <= t <= end]
        if not got:
            return {"n": 0}
        lat = sorted(s for s, _ in got)
        return {
            "n": len(got),
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1),
            "p95_ms": round(lat[min(len(lat) - 1, math.ceil(len(lat) * 0.95) - 1)] * 1000, 1),
            "errors": sum(1 for _, st in got if st != 200),
        }


# -------------------------------------------------------------------------------------- requests
def citizen_paths(base: str) -> list[str]:
    """One citizen's first view and its refreshes, in the order a browser asks."""
    html = httpx.get(base + "/").text
    assets = re.findall(r'(?:src|href)="(/(?:static|pages)/[^"]+)"', html)
    # the citizen page's refresh and, once its map is opened, Leaflet (its URL rides in the page data)
    assets += re.findall(r'"(/static/vendor/leaflet/leaflet\.(?:js|css)\?v=[0-9a-f]+)"', html)
    layers = httpx.get(base + "/api/public/layers").json()
    data = ["/api/public/layers"] + [f"/api/public/layers/{la['slug']}/features" for la in layers]
    live = ["/api/public/here", "/api/public/incidents", "/api/public/shelters/status"]
    tiles = []
    for z in (13, 14):
        n = 2**z
        x = int((CENTRE[0] + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(CENTRE[1]))) / math.pi) / 2 * n)
        for layer in layers[:2]:
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    tiles.append(
                        f"/ogc/collections/{layer['slug']}/tiles/WebMercatorQuad/{z}/{y + dy}/{x + dx}"
                    )
    return ["/", *assets, *data, *live, *tiles, *live, *live]


def dynamic_paths(base: str) -> list[str]:
    """Answers no cache can hold: items of changing bounding boxes, name searches."""
    layers = [la["slug"] for la in httpx.get(base + "/api/public/layers").json()]
    out = []
    for i in range(60):
        lon = CENTRE[0] - 0.03 + (i % 10) * 0.006
        lat = CENTRE[1] - 0.02 + (i // 10) * 0.006
        bbox = f"{lon:.4f},{lat:.4f},{lon + 0.01:.4f},{lat + 0.01:.4f}"
        out.append(f"/ogc/collections/{layers[i % len(layers)]}/items?limit=20&f=json&bbox={bbox}")
        out.append("/api/public/search?q=" + quote(["道", "川", "公園", "学校", "避難"][i % 5] + str(i % 7)))
    return out


def wrk(base: str, paths: list[str], connections: int, duration: float, pace_ms: int = 0) -> dict:
    script = Path(tempfile.mkstemp(suffix=".lua", prefix="surge-")[1])
    script.write_text(WRK_LUA % {"paths": ",".join(json.dumps(p) for p in paths), "pace": pace_ms})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    threads = int(os.environ.get("SURGE_WRK_THREADS", "2")) if connections >= 2 else 1
    res = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    script.unlink()
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {res.stdout}\n{res.stderr}")
    out = json.loads(line[7:])
    out["wrk_cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    out["rps"] = round(out["requests"] / out["seconds"], 1)
    out["ok_rps"] = round(out["ok"] / out["seconds"], 1)
    return out


def first_view_bytes(base: str) -> tuple[int, int]:
    """(bytes on the wire, bytes decoded) of the citizen page's first view."""
    wire = decoded = 0
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "br, gzip"}, timeout=30) as h:
        html = h.get("/")
        paths = re.findall(r'(?:src|href)="(/(?:static|pages)/[^"]+)"', html.text)
        layers = h.get("/api/public/layers").json()
        paths += ["/api/public/layers", "/api/public/incidents", "/api/public/shelters/status"]
        paths += [f"/api/public/layers/{la['slug']}/features" for la in layers]
        for r in [html, *(h.get(p) for p in paths)]:
            wire += int(r.headers.get("content-length") or len(r.content))
            decoded += len(r.content)
    return wire, decoded


# ------------------------------------------------------------------------------------------- runs
def surge(
    label: str, base: str, paths: list[str], steps: list[int], duration: float, hq: HQProbe, pids
) -> list:
    rows = []
    print(f"\n== {label}: citizen mix of {len(paths)} URLs, {duration:g} s per step ==", flush=True)
    print(
        f"{'conn':>5} {'req/s':>8} {'ok/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'shed %':>7} "
        f"{'429 %':>6} {'err':>5} {'HQ p95':>7} {'HQ err':>6}  CPU s: wrk / served / postgres"
    )
    for c in steps:
        cpu0 = {k: cpu_seconds(f()) for k, f in pids.items()}
        t0 = time.monotonic()
        r = wrk(base, paths, c, duration)
        t1 = time.monotonic()
        cpu = {k: round(cpu_seconds(f()) - cpu0[k], 1) for k, f in pids.items()}
        h = hq.window(t0, t1)
        n = max(r["requests"], 1)
        row = {"label": label, "connections": c, **r, "hq": h, "cpu": cpu}
        rows.append(row)
        print(
            f"{c:>5} {r['rps']:>8} {r['ok_rps']:>8} {r['p50']:>8} {r['p95']:>8} {r['p99']:>8} "
            f"{100 * r['shed'] / n:>7.1f} {100 * r['limited'] / n:>6.1f} {r['other'] + r['socket_errors']:>5} "
            f"{h.get('p95_ms', '-'):>7} {h.get('errors', '-'):>6}  {r['wrk_cpu_s']} / "
            f"{cpu.get('served', 0)} / {cpu.get('postgres', 0)}",
            flush=True,
        )
        time.sleep(1)
    peak = max(rows, key=lambda x: x["ok_rps"])
    for row in rows:
        if row["connections"] == 500:
            print(
                f"   at 500 connections: {100 * row['ok_rps'] / peak['ok_rps']:.0f} % of the peak ({peak['ok_rps']} ok/s)"
            )
    return rows


def overload(base: str, hq: HQProbe, seconds: float) -> None:
    paths = dynamic_paths(base)
    print(
        f"\n== overload: the database-bound public API ({len(paths)} URLs no cache can hold) ==", flush=True
    )
    probe = paths[0]

    def one() -> float:
        t0 = time.monotonic()
        ok = httpx.get(base + probe, timeout=30).status_code == 200
        return time.monotonic() - t0 if ok else math.inf

    baseline = statistics.median(one() for _ in range(20))
    capacity = 0.0
    for c in (4, 8, 16, 32):
        r = wrk(base, paths, c, 5)
        print(
            f"   capacity probe {c:>3} conn: {r['ok_rps']} ok/s, p95 {r['p95']} ms, shed {r['shed']}",
            flush=True,
        )
        capacity = max(capacity, r["ok_rps"])
    pace = 250  # ms between a connection's requests (±50 %)
    # Calibrate: a paced connection offers less than 1000/pace req/s once answers slow down.
    connections = max(2, int(3 * capacity * (pace / 1000)))
    trial = wrk(base, paths, connections, 5, pace_ms=pace)
    connections = min(4000, max(2, int(connections * 3 * capacity / max(trial["rps"], 1))))
    time.sleep(5)
    print(
        f"   capacity {capacity:.0f} ok/s; offering ~3× = {3 * capacity:.0f} req/s with {connections} paced "
        f"connections for {seconds:g} s",
        flush=True,
    )
    t0 = time.monotonic()
    r = wrk(base, paths, connections, seconds, pace_ms=pace)
    t1 = time.monotonic()
    n = max(r["requests"], 1)
    h = hq.window(t0, t1)
    print(
        f"   offered {r['rps']} req/s: ok {r['ok_rps']}/s, shed {100 * r['shed'] / n:.1f} %, other errors "
        f"{r['other'] + r['socket_errors']}, p50 {r['p50']} ms, p95 {r['p95']} ms (sheds included); "
        f"HQ p95 {h.get('p95_ms')} ms, HQ errors {h.get('errors')}",
        flush=True,
    )
    # Recovery: until five probes in a row answer within twice the quiet median.
    start = time.monotonic()
    streak = 0
    while streak < 5 and time.monotonic() - start < 120:
        streak = streak + 1 if one() <= 2 * baseline + 0.005 else 0
        time.sleep(0.1)
    print(
        f"   normal latency ({baseline * 1000:.1f} ms median when quiet) again {time.monotonic() - start:.1f} s "
        "after the overload ended",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--steps", default="10,50,100,200,500,1000")
    ap.add_argument("--overload", type=float, default=60)
    ap.add_argument("--public-workers", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma-separated: proxy, replica, overload")
    ap.add_argument(
        "--app-root",
        help="serve the public and internal instances from another checkout (e.g. a worktree of the commit "
        "before issue 11) for a before/after table; the stack and the demo data are this checkout's",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk がありません / wrk is missing: apt-get install wrk (nginx: scripts/install-debs.sh)")
    steps = [int(s) for s in args.steps.split(",")]
    skip = set(filter(None, args.skip.split(",")))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    root, stack, settings = _stack.start("gisapp-surge-")
    apps: list[App] = []
    try:
        from gisapp.cli import _demo_load

        _demo_load(settings, 1)
        users = json.loads((settings.data_dir / "demo-users.json").read_text())
        env = {**os.environ, "GISAPP_DATA_DIR": str(settings.data_dir.resolve()), "LOG_LEVEL": "WARNING"}
        if args.app_root:
            env["SURGE_APP_ROOT"] = str(Path(args.app_root).resolve())
            env["PYTHONPATH"] = env["SURGE_APP_ROOT"]
        internal = App("internal", _stack.free_port(), env)
        apps.append(internal)
        workers = ["--workers", str(args.public_workers)] if args.public_workers > 1 else []
        public = App("public", _stack.free_port(), env, "--public", *workers)
        apps.append(public)
        hq = HQProbe(internal.url, "hq", users["hq"])
        hq.start()
        print(
            f"stack: PostgreSQL 15 + PostGIS, demo data; public instance {args.public_workers} process(es); "
            f"HQ probe on the internal instance over {len(hq.paths)} routes; {os.cpu_count()} cores shared "
            "with wrk",
            flush=True,
        )
        wire, decoded = first_view_bytes(public.url)
        print(
            f"first view of the citizen map: {wire / 1024:.0f} KiB transferred ({decoded / 1024:.0f} KiB decoded)"
        )
        paths = citizen_paths(public.url)
        counted = {"served": public.pids, "postgres": postgres_pids}
        surge("alone", public.url, paths, steps, args.duration, hq, counted)

        if "proxy" not in skip:
            with _proxy.Nginx(
                [public.port],
                **_proxy.UNLIMITED,
                error_log=str(Path(tempfile.gettempdir()) / "surge-nginx-error.log"),
            ) as proxy:
                nginx_pids = lambda: family(proxy.proc.pid)  # noqa: E731
                counted_proxy = {"served": lambda: public.pids() + nginx_pids(), "postgres": postgres_pids}
                surge("proxy", proxy.url, paths, steps, args.duration, hq, counted_proxy)

        if "replica" not in skip:
            rs = Settings(_env_file=None, GISAPP_REPLICA_PG_PORT=_stack.free_port())
            LocalStack(rs).start_replica()
            renv = {
                **env,
                "GISAPP_PUBLIC_READS": "replica",
                "GISAPP_REPLICA_PG_PORT": str(rs.replica_pg_port),
            }
            on_replica = App("public-replica", _stack.free_port(), renv, "--public", *workers)
            apps.append(on_replica)
            lag = httpx.get(on_replica.url + "/healthz").json().get("replica", {})
            print(f"\nreplica: {lag.get('detail', lag)}")
            surge(
                "replica",
                on_replica.url,
                paths,
                steps,
                args.duration,
                hq,
                {"served": on_replica.pids, "postgres": postgres_pids},
            )

        if "overload" not in skip:
            overload(public.url, hq, args.overload)
        try:
            load = httpx.get(public.url + "/healthz", timeout=30).json().get("load")
            print(f"\npublic instance after the run: {json.dumps(load)}")
        except httpx.HTTPError as e:  # the code before issue 11 may still be stuck
            print(f"\npublic instance after the run: /healthz did not answer ({type(e).__name__})")
        hq.stopping.set()
    finally:
        for app in apps:
            app.stop()
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
