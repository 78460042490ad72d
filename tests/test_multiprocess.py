"""`gisapp serve --workers 2`: uvicorn's own worker processes, each with its own LISTEN connection, so a
live event reaches every HQ client whichever process holds its stream.

Which process serves a client is read from the kernel (the owner of the server side of its TCP
connection, /proc), not from anything the app would send in production."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import text

from gisapp.localstack.procs import pid_alive
from tests.conftest import free_port
from tests.fixtures_data import seed
from tests.support import wait_until

WORKERS = 2


def _worker_processes(pid: int) -> set[int]:
    """uvicorn's worker processes under `pid` (multiprocessing's spawned children; not its resource
    tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmdline:
                found.add(int(entry.name))
    return found


def _socket_owner(pids: set[int], local_port: int, remote_port: int) -> int | None:
    """Which of `pids` holds the TCP socket local_port → remote_port on 127.0.0.1."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(addr.split(":")[1], 16) for addr in fields[1:3])
        if (local, remote) == (local_port, remote_port):
            inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


class Stream:
    """One HQ client on /api/events over a plain socket (its port tells which process serves it)."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(
            f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        self.buffer = b""
        self.read_until(lambda: b"event: hello" in self.buffer)
        assert self.buffer.startswith(b"HTTP/1.1 200"), self.buffer[:200]

    @property
    def client_port(self) -> int:
        return self.sock.getsockname()[1]

    def read_until(self, done, timeout: float = 10) -> None:
        self.sock.settimeout(timeout)
        while not done():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"stream closed: {self.buffer[-300:]!r}")
            self.buffer += chunk

    def events(self) -> list[dict]:
        lines = self.buffer.decode("utf-8", errors="replace").split("\n")
        return [json.loads(line[6:].rstrip("\r")) for line in lines if line.startswith("data: ")]


@pytest.fixture
def server(settings, tmp_path):
    port = free_port()
    env = {**os.environ, "LOG_FORMAT": "text", "LOG_LEVEL": "WARNING"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisapp.cli", "serve", "--workers", str(WORKERS), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 60)
        workers = wait_until(
            lambda: len(_worker_processes(proc.pid)) == WORKERS and _worker_processes(proc.pid), 30
        )
        yield proc, port, workers
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()
    print((tmp_path / "serve.log").read_text()[-6000:])


def test_a_live_event_reaches_hq_clients_on_every_worker_process(server, settings, app_engine):
    proc, port, pids = server
    users = seed(app_engine, "multiproc")
    base = f"http://127.0.0.1:{port}"
    login = httpx.post(
        f"{base}/api/auth/login", json={"username": "multiproc-hq", "password": users.passwords["hq"]}
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    hq = {"Authorization": f"Bearer {token}"}

    # Each worker process listens on a connection of its own.
    def listening() -> set[int]:
        with app_engine.connect() as conn:
            ports = conn.execute(
                text("SELECT client_port FROM pg_stat_activity WHERE query = 'LISTEN gisapp_events'")
            ).scalars()
            return pids & {_socket_owner(pids, p, settings.pg_port) for p in ports}

    wait_until(lambda: listening() == pids, 20)

    # Clients until both processes serve some (the kernel hands each connection to one of them).
    streams: list[Stream] = []
    owners: dict[int, int] = {}
    while len(streams) < 8 or len(set(owners.values())) < WORKERS:
        assert len(streams) < 60, f"all clients landed on {set(owners.values())}"
        s = Stream(port, token)
        streams.append(s)
        owners[s.client_port] = _socket_owner(pids, port, s.client_port)
    assert set(owners.values()) == pids

    try:
        d = httpx.post(f"{base}/api/disasters", json={"name": "複数プロセス試験"}, headers=hq)
        assert d.status_code == 201, d.text
        body = {"category": "fallen_tree", "title": "倒木（複数プロセス試験）", "lon": 139.301, "lat": 35.401}
        r = httpx.post(f"{base}/api/disasters/{d.json()['id']}/incidents", json=body, headers=hq)
        assert r.status_code == 201, r.text
        incident_id = r.json()["id"]

        def got_it(s: Stream) -> bool:
            return any(e.get("type") == "incident" and e.get("id") == incident_id for e in s.events())

        for s in streams:
            s.read_until(lambda s=s: got_it(s))
        per_process = {pid: sum(1 for o in owners.values() if o == pid) for pid in pids}
        print(f"clients per worker process: {per_process}; every one got incident {incident_id}")

        # A clean stop with the streams still open: the parent and its workers exit, nothing is left.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not [pid for pid in pids if pid_alive(pid)]
    finally:
        for s in streams:
            s.sock.close()


def test_each_ingest_worker_has_its_own_broker_account(settings, tmp_path):
    """`gisapp up --ingest-workers 3` gives workers 2 and 3 accounts of their own (the broker makes the
    username the client id, hence the durable session); `gisapp ingest --worker K` logs in with K's."""
    from gisapp.localstack import LocalStack
    from gisapp.settings import Settings
    from sensors.credentials import verify

    env = {"GISAPP_DATA_DIR": str(tmp_path / "data"), "GISAPP_MQTT_PORT": "11999"}
    stack = LocalStack(Settings(_env_file=None, **env))
    assert stack.ensure_ingest_accounts(3)
    first = json.loads(stack.settings.secrets_path.read_text())["mqtt"]
    assert sorted(first) == ["gisapp-ingest", "gisapp-ingest-2", "gisapp-ingest-3"]
    assert not stack.ensure_ingest_accounts(3)  # once per install: the passwords stay
    assert json.loads(stack.settings.secrets_path.read_text())["mqtt"] == first

    stack.write_broker_accounts([])
    passwd = dict(line.split(":", 1) for line in (stack.mqtt_dir / "passwd").read_text().splitlines())
    assert set(passwd) == set(first) and all(verify(first[u], passwd[u]) for u in first)
    acl = (stack.mqtt_dir / "acl").read_text()
    for user in first:
        assert f"user {user}\ntopic read gisapp/v1/#\ntopic read $SYS/#\n" in acl

    assert Settings(_env_file=None, **env, GISAPP_INGEST_WORKER=2).mqtt_url.startswith(
        "mqtt://gisapp-ingest-2:"
    )
    assert Settings(_env_file=None, **env).mqtt_url.startswith("mqtt://gisapp-ingest:")
    assert Settings(_env_file=None, **env, GISAPP_INGEST_WORKER=4).mqtt_url is None

    def ingest(*args: str, workers: int) -> subprocess.CompletedProcess:
        run_env = {k: v for k, v in os.environ.items() if k not in ("MQTT_URL", "DATABASE_URL")}
        run_env |= env | {"GISAPP_INGEST_WORKERS": str(workers)}
        cmd = [sys.executable, "-m", "gisapp.cli", "ingest", *args]
        return subprocess.run(cmd, env=run_env, capture_output=True, text=True, timeout=60)

    beyond = ingest("--worker", "3", workers=2)
    assert beyond.returncode == 1 and "beyond GISAPP_INGEST_WORKERS=2" in beyond.stderr
    unknown = ingest("--worker", "4", workers=4)
    assert unknown.returncode == 1 and "gisapp up --ingest-workers N" in unknown.stderr
