"""Role × write-route violations and stale reads, counted rather than asserted.

For every write route in tests/write_ops.py (the one table of who may call what), each principal's
status is compared with the table, and the allowed principal's writes are fired many at once, each
checked by a GET the instant its 2xx arrives. Against a real uvicorn server on a fresh stack.

    PYTHONPATH=. .venv/bin/python bench/write_matrix.py [--runs 20]

Run it on an older checkout (with tests/write_ops.py copied in) for the figures before a change:
routes that tree does not have are reported as such, not counted.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import _stack  # bench/_stack.py (this script's folder is on sys.path)
import uvicorn

from gisapp.app import create_app
from gisapp.db import make_engine
from tests.write_ops import OPS, PRINCIPALS, build_world, send


def serve(app) -> tuple[uvicorn.Server, str]:
    port = _stack.free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )  # fmt: skip
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20, help="concurrent writes per route (read-your-writes)")
    a = p.parse_args()
    root, stack, settings = _stack.start("gisapp-bench-writes-")
    engine = make_engine(settings.database_url)
    server, url = serve(create_app(settings))
    try:
        world = build_world(url, engine)
        violations, stale, writes, missing = Counter(), Counter(), Counter(), []
        paths = set(create_app(settings).openapi()["paths"])
        for op in OPS:
            if op.path not in paths:
                missing.append(f"{op.method} {op.path}")
                continue
            with world.http() as c:
                for who in PRINCIPALS:
                    try:
                        got = send(c, op.make(world, who)).status_code
                    except Exception:  # a setup step this tree refuses
                        got = -1
                    if got != op.expect[who]:
                        violations[f"{op.method} {op.path}"] += 1
            who = next(w for w in ("hq", "staff", "welfare", "admin", "anon") if op.expect[w] < 300)
            n = 3 if op.serial else a.runs
            try:
                calls = [op.make(world, who) for _ in range(n)]
            except Exception:
                continue

            def one(call, key=f"{op.method} {op.path}") -> None:
                with world.http() as c:
                    r = send(c, call)
                    if r.status_code < 300 and call.check is not None:
                        writes[key] += 1
                        if not call.check(c, r):
                            stale[key] += 1

            if op.serial:
                for call in calls:
                    one(call)
            else:
                with ThreadPoolExecutor(len(calls)) as pool:
                    list(pool.map(one, calls))
        print(f"write routes in the table: {len(OPS)}; not in this tree: {len(missing)}")
        print(f"role-matrix cells differing from the table: {sum(violations.values())}"
              f" on {len(violations)} routes")  # fmt: skip
        for k, v in sorted(violations.items()):
            print(f"  {v}  {k}")
        print(
            f"stale reads right after a 2xx: {sum(stale.values())} of {sum(writes.values())} checked writes"
        )
        for k, v in sorted(stale.items()):
            print(f"  {v}/{writes[k]}  {k}")
    finally:
        server.should_exit = True
        engine.dispose()
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
