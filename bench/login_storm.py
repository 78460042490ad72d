"""HQ read latency during a storm of wrong passwords, with and without login throttling.

Everything is real and on this machine: a fresh PostGIS, the internal app served as a process
(`gisapp serve`, uvicorn), an HQ operator reading `GET /api/disasters` with a bearer token ten times a
second, and a storm of 150 wrong passwords in 15 s sent on schedule (open loop: an attacker does not
wait for answers). The same run measures the server twice, one at a time on the same database:
throttling off (GISAPP_LOGIN_THROTTLE=0: what the base commit 6211bce does) and on (the policy and the
per-process hashing slots of gisapp/login_throttle.py). Storms:

- ``one account``: all 150 against one existing account from one address;
- ``spread``: 150 different usernames (a password spray) from one address;
- ``botnet``: 150 different usernames from 150 addresses (X-Forwarded-For through a trusted proxy):
  neither an account nor an address reaches its limit, so throttling cannot help; shown for honesty.

Per scenario: HQ read p50/p95/max (from when each read was due), the storm's answers by status, and how many passwords were hashed
(one `auth.login_failed` audit entry per hashed wrong password, counted once the server has finished
even the requests whose client gave up).

    PYTHONPATH=$PWD .venv/bin/python bench/login_storm.py [--seconds 15] [--attempts 150] [--reads 10]
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import _stack  # bench/_stack.py (this script's folder is on sys.path)
import httpx2 as httpx
from argon2.exceptions import VerificationError
from sqlalchemy import text

from gisapp import auth
from gisapp.db import make_engine

TIMEOUT = 30  # s, for the HQ reads


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _reader(base: str, headers: dict, per_second: float, stop: threading.Event, out: list[float]) -> None:
    """The HQ map's reads, one due every 1/per_second s on one keep-alive connection. Latency counts
    from when a read was due, not when it could be sent: a read stuck for 20 s also delays the ones due
    meanwhile, as an operator sees it (no coordinated omission). A read that fails or times out is
    appended negative."""
    with httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT) as c:
        c.get("/api/disasters")
        due = time.perf_counter()
        while not stop.is_set():
            time.sleep(max(0.0, due - time.perf_counter()))
            try:
                ok = c.get("/api/disasters").status_code == 200
            except httpx.HTTPError:
                ok = False
            out.append((time.perf_counter() - due) * 1000 * (1 if ok else -1))
            due += 1 / per_second


def _storm(base: str, attempts: list[tuple[str, str | None]], seconds: float) -> collections.Counter:
    """Each (username, forwarded address) sent at its slot of `seconds`, whatever the answers."""
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    client = httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=200))
    t0 = time.perf_counter()

    def attempt(i: int, username: str, address: str | None) -> None:
        time.sleep(max(0.0, t0 + i * seconds / len(attempts) - time.perf_counter()))
        headers = {"X-Forwarded-For": address} if address else {}
        try:
            r = client.post(
                "/api/auth/login", json={"username": username, "password": "wrong-guess"}, headers=headers
            )
            status = str(r.status_code)
        except httpx.HTTPError as e:
            status = type(e).__name__
        with lock:
            statuses[status] += 1

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        for i, (u, a) in enumerate(attempts):
            pool.submit(attempt, i, u, a)
    client.close()
    return statuses


def _hash_ms(n: int = 5) -> float:
    """One argon2 verify of a wrong password here and now (the machine is shared: it varies)."""
    h = auth.hash_password("x")
    start = time.perf_counter()
    for _ in range(n):
        try:
            auth._hasher.verify(h, "y")
        except VerificationError:  # a mismatch is the point
            pass
    return (time.perf_counter() - start) * 1000 / n


def _failed_logins(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM audit.log WHERE action = 'auth.login_failed'")
        ).scalar()


def _settled(engine, limit: float = 180) -> int:
    """The failed-login count once the server has finished the requests the clients gave up on."""
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit
    while time.monotonic() < deadline:
        now = _failed_logins(engine)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 3:
            break
        time.sleep(0.5)
    return last


def _clear_throttle(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM core.login_throttle"))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--attempts", type=int, default=150)
    ap.add_argument("--reads", type=float, default=10, help="HQ reads per second")
    a = ap.parse_args()

    root, stack, settings = _stack.start("gisapp-bench-login-")
    engine = make_engine(settings.database_url, pool_size=2)
    procs: list[subprocess.Popen] = []
    try:
        hq_password = secrets.token_urlsafe(12)
        with engine.begin() as conn:
            auth.create_user(conn, "bench-hq", "bench HQ", hq_password, ["staff", "hq_operator"])
            auth.create_user(conn, "bench-target", "bench target", secrets.token_urlsafe(12), ["staff"])
        n = a.attempts
        storms = {
            "one account, one address": [("bench-target", "203.0.113.9")] * n,
            "spread: usernames, one address": [(f"bench-u{i}", "203.0.113.10") for i in range(n)],
            "botnet: usernames x addresses": [
                (f"bench-v{i}", f"198.51.{100 + i // 250}.{i % 250 + 1}") for i in range(n)
            ],
        }
        print(
            f"{n} wrong passwords in {a.seconds:g} s per storm; HQ reads GET /api/disasters {a.reads:g}/s; "
            f"server: gisapp serve (uvicorn, 1 process); 2 cores shared by client, server and PostgreSQL"
        )
        print(f"argon2 verify here and now: {_hash_ms():.0f} ms; load average {os.getloadavg()[0]:.1f}")
        print(
            f"{'throttle':<9} {'scenario':<32} {'p50':>7} {'p95':>7} {'max':>7} {'n':>4} {'fail':>4}"
            "  storm answers / hashed"
        )
        for throttle in ("0", "1"):
            port = _stack.free_port()
            env = {
                **os.environ,
                "LOG_LEVEL": "WARNING",
                "GISAPP_LOGIN_THROTTLE": throttle,
                "GISAPP_FORWARDED_ALLOW_IPS": "127.0.0.1",  # the storm names its address, as via a proxy
            }
            log = (root / f"serve-{throttle}.log").open("ab")
            proc = subprocess.Popen(
                [sys.executable, "-m", "gisapp.cli", "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=log,
            )
            procs.append(proc)
            base = f"http://127.0.0.1:{port}"
            _stack.wait_http(base + "/healthz")
            r = httpx.post(base + "/api/auth/login", json={"username": "bench-hq", "password": hq_password})
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            for name, attempts in [("at rest", None), *storms.items()]:
                _clear_throttle(engine)
                time.sleep(1)
                latencies: list[float] = []
                stop = threading.Event()
                reader = threading.Thread(target=_reader, args=(base, headers, a.reads, stop, latencies))
                before = _settled(engine)
                reader.start()
                if attempts is None:
                    time.sleep(a.seconds)
                    answers = ""
                else:
                    statuses = _storm(base, attempts, a.seconds)
                    hashed = _settled(engine) - before
                    answers = " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())) + f" / {hashed}"
                stop.set()
                reader.join()
                ms = [abs(x) for x in latencies]
                failed = sum(1 for x in latencies if x < 0)
                print(
                    f"{'on' if throttle == '1' else 'off':<9} {name:<32} {statistics.median(ms):7.1f}"
                    f" {_pct(ms, 95):7.1f} {max(ms):7.1f} {len(ms):4d} {failed:4d}  {answers}",
                    flush=True,
                )
            _stop(proc)
        print(
            "figures in ms (HQ read latency; n reads, fail: errors or timeouts counted at their duration);"
            " 'hashed': wrong passwords that reached argon2"
        )
    finally:
        for p in procs:
            _stop(p)
        engine.dispose()
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
