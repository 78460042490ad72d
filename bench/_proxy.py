"""nginx (Debian's) as the proxy cache in front of given `gisapp serve --public` processes, for a
benchmark or a test: the config is deploy/nginx/gisapp-public.conf.template rendered with every path
under a temporary folder (deploy/nginx/render.py ``local``).

    with Nginx([8001, 8002]) as proxy:      # upstream ports on 127.0.0.1
        httpx.get(proxy.url + "/api/public/layers")

Run as a script, it measures nginx's own ceiling for a small cached answer with wrk, on a fresh stack
with one public instance behind it (figures printed, never asserted):

    PYTHONPATH=. .venv/bin/python bench/_proxy.py [--duration 10] [--connections 200]
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy.nginx import render  # noqa: E402


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# Per-address limits lifted: a benchmark's every connection comes from 127.0.0.1, which the deployed
# limits (one address, one phone) would turn away. No access log.
UNLIMITED: dict[str, object] = {
    "api_rate": "100000r/s",
    "api_burst": 100000,
    "asset_rate": "100000r/s",
    "asset_burst": 100000,
    "conn_per_address": 60000,
    "access_log": None,
}


class Nginx:
    """One nginx master (daemon off) as a child process; ``stop()`` or the ``with`` block ends it."""

    def __init__(self, upstream_ports: list[int], *, port: int | None = None, **overrides: object) -> None:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError(
                "nginx が見つかりません / nginx not found: scripts/install-debs.sh installs it"
            )
        self.binary = binary
        self.port = port or _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="gisapp-nginx-", dir="/tmp"))
        upstreams = [f"127.0.0.1:{p}" for p in upstream_ports]
        self.config = render.local(self.dir, upstreams, self.port, **overrides)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(render.render(self.config))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> str:
        path = Path(self.config.error_log)
        return path.read_text(errors="replace") if path.exists() else ""

    def _argv(self, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.dir), "-e", self.config.error_log, "-c", str(self.conf), *extra]

    def check(self) -> subprocess.CompletedProcess:
        """`nginx -t` on the rendered config."""
        return subprocess.run(self._argv("-t"), capture_output=True, text=True)

    def start(self, timeout: float = 10) -> Nginx:
        checked = self.check()
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
        self.proc = subprocess.Popen(
            self._argv("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start:\n{self.error_log}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Nginx:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.remove()


# ------------------------------------------------------------------------------ nginx's own ceiling
def _wrk(url: str, duration: int, connections: int, threads: int = 2) -> tuple[str, float]:
    """wrk's report and the CPU seconds it used (it shares the 2 cores with nginx)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    before = os.times()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return out, cpu


def _cacheable_paths(base: str) -> list[tuple[str, str]]:
    """(label, path) of small answers the app marks cacheable: the public layer list once it has a
    public lifetime, else the map page's stylesheet (immutable, ?v=hash)."""
    import re

    import httpx2 as httpx

    found = []
    page = httpx.get(base + "/").text
    css = re.search(r'/static/css/citizen\.css\?v=[^"\s]+', page)
    for label, path in (
        ("/api/public/layers", "/api/public/layers"),
        ("citizen page CSS", css and css.group(0)),
    ):
        if not path:
            continue
        first = httpx.get(base + path)
        second = httpx.get(base + path)
        status = second.headers.get("x-cache-status")
        print(
            f"  {label}: {len(first.content)} B, Cache-Control {first.headers.get('cache-control')!r}, {status}"
        )
        if status == "HIT":
            found.append((label, path))
    return found


def main() -> None:
    import argparse

    from bench import _stack

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    if not shutil.which("wrk") or nginx_binary() is None:
        sys.exit("wrk と nginx が必要です / needs wrk and nginx (apt-get install wrk nginx-light)")
    root, stack, settings = _stack.start("gisapp-bench-proxy-")
    app_port = _stack.free_port()
    env = dict(os.environ, GISAPP_FORWARDED_ALLOW_IPS="127.0.0.1")
    app = subprocess.Popen(
        [sys.executable, "-m", "gisapp.cli", "serve", "--public", "--port", str(app_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _stack.wait_http(f"http://127.0.0.1:{app_port}/healthz")
        with Nginx([app_port], access_log=None, worker_processes="auto") as proxy:
            cfg = proxy.config
            print(f"nginx {cfg.worker_processes} workers, brotli {'on' if cfg.brotli_module else 'off'}")
            paths = _cacheable_paths(proxy.url)
            if not paths:
                print("nothing cacheable found: no ceiling measured")
            for label, path in paths:
                # Per-address rate limits off for the load generator (one address); the cache as served.
                with Nginx(
                    [app_port],
                    access_log=None,
                    worker_processes="auto",
                    api_rate="1000000r/s",
                    api_burst=1000000,
                    asset_rate="1000000r/s",
                    asset_burst=1000000,
                    conn_per_address=60000,
                ) as open_proxy:
                    import httpx2 as httpx

                    httpx.get(open_proxy.url + path)  # warm
                    out, cpu = _wrk(open_proxy.url + path, args.duration, args.connections)
                print(f"\n== nginx cache HIT ceiling: {label} ({path}), wrk -t2 -c{args.connections} ==")
                print(out.strip())
                print(f"wrk used {cpu:.1f} CPU-s over {args.duration} s ({cpu / args.duration:.2f} cores)")
    finally:
        app.terminate()
        app.wait(15)
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
