"""Oversized bodies against the citizen-facing instance: 8 clients at once each send a 60 MB JSON body
to POST /api/public/evacuation-status, once with Content-Length and once chunked. Measured on two
uvicorn processes over the same fresh stack: ours (gisapp/request_guard.py) and the peer, the same app
with the request guard taken out (what the issue measured: bodies read whole before validation).

Prints, per process and framing: the answers' statuses, seconds to the last answer, megabytes the
clients got to send before it, and the process's peak RSS growth (VmHWM).

    PYTHONPATH=. python bench/body_limits.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import _stack  # bench/_stack.py (this script's folder is on sys.path)

CLIENTS, BODY_MB, PIECE = 8, 60, 256 * 1024
SERVE = """
import sys, uvicorn
from gisapp.app import create_app
from gisapp.request_guard import RequestGuard
app = create_app(public=True)
if sys.argv[2] == "peer":
    app.user_middleware = [m for m in app.user_middleware if m.cls is not RequestGuard]
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak(pid: int) -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def one_client(port: int, chunked: bool, out: list) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY_MB * 1024 * 1024}"
    sock.sendall(
        (
            "POST /api/public/evacuation-status HTTP/1.1\r\nHost: bench\r\n"
            f"Content-Type: application/json\r\n{framing}\r\n\r\n"
        ).encode()
    )
    piece = b'{"token": "' + b"x" * (PIECE - 11) if chunked else b"x" * PIECE
    sent, answer = 0, b""
    try:
        for _ in range(BODY_MB * 1024 * 1024 // PIECE):
            sock.setblocking(False)
            try:
                answer = sock.recv(4096)
            except BlockingIOError:
                pass
            sock.setblocking(True)
            if answer:
                break
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked and not answer:
            sock.sendall(b"0\r\n\r\n")
        sock.settimeout(120)
        answer = answer or sock.recv(4096)
    except OSError:
        pass
    sock.close()
    # "reset": the server answered and closed while the client was still sending; the kernel's reset
    # can drop the answer before the client reads it (a proxy's lingering close avoids that).
    out.append((answer[9:12].decode(errors="replace") or "reset", sent))


def run(port: int, pid: int, chunked: bool) -> dict:
    reset_peak(pid)
    base = rss_peak_mb(pid)
    out: list = []
    threads = [threading.Thread(target=one_client, args=(port, chunked, out)) for _ in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "answers": {s: sum(1 for status, _ in out if status == s) for s in sorted({s for s, _ in out})},
        "seconds": round(time.monotonic() - t0, 2),
        "sent_mb": round(sum(sent for _, sent in out) / 2**20, 1),
        "peak_rss_growth_mb": round(rss_peak_mb(pid) - base, 1),
    }


def main() -> None:
    root, stack, settings = _stack.start("gisapp-bench-body-")
    procs = {}
    try:
        for name in ("ours", "peer"):
            port = _stack.free_port()
            procs[name] = (
                port,
                subprocess.Popen([sys.executable, "-c", SERVE, str(port), name], env=os.environ),
            )
            _stack.wait_http(f"http://127.0.0.1:{port}/healthz")
        print(
            f"{CLIENTS} clients x {BODY_MB} MB JSON to POST /api/public/evacuation-status (public instance)"
        )
        for name, (port, proc) in procs.items():
            for chunked in (False, True):
                result = run(port, proc.pid, chunked)
                framing = "chunked" if chunked else "Content-Length"
                print(f"  {name:4} {framing:14} {result}")
    finally:
        for _, proc in procs.values():
            proc.terminate()
            proc.wait(10)
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
