"""A fresh local stack for a benchmark: PostGIS + Mosquitto under /tmp on free ports, migrated."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from gisapp import migrate
from gisapp.localstack import LocalStack
from gisapp.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    """Until `url` answers (anything below 500), e.g. a `gisapp serve` process that is starting."""
    import time

    import httpx2 as httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def start(prefix: str) -> tuple[Path, LocalStack, Settings]:
    """(root, stack, settings) of a new stack; the environment points at it. Stop with `stop()`."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)  # the postgres and mosquitto users must reach it when run as root
    os.environ.update(
        GISAPP_DATA_DIR=str(root / "data"),
        GISAPP_PG_PORT=str(free_port()),
        GISAPP_MQTT_PORT=str(free_port()),
        LOG_LEVEL="WARNING",
    )
    for k in ("DATABASE_URL", "PUBLIC_DATABASE_URL", "MIGRATION_DATABASE_URL", "MQTT_URL"):
        os.environ.pop(k, None)
    stack = LocalStack(Settings(_env_file=None))
    stack.start()
    settings = Settings(_env_file=None)  # the URLs now resolve to the new stack
    migrate.upgrade(settings)
    return root, stack, settings


def stop(root: Path, stack: LocalStack) -> None:
    stack.stop()
    shutil.rmtree(root, ignore_errors=True)


def attach(root: Path) -> Settings:
    """Settings for a stack that `start()` made and a benchmark left running (its --keep): the
    environment points at it again. Stop it with `gisapp down` under the same environment."""
    data = root / "data"
    pg_port = (data / "pg" / "postmaster.pid").read_text().splitlines()[3].strip()
    conf = (data / "mosquitto" / "mosquitto.conf").read_text().splitlines()
    mqtt_port = next(ln.split()[1] for ln in conf if ln.startswith("listener "))
    os.environ.update(GISAPP_DATA_DIR=str(data), GISAPP_PG_PORT=pg_port, GISAPP_MQTT_PORT=mqtt_port,
                      LOG_LEVEL="WARNING")  # fmt: skip
    for k in ("DATABASE_URL", "PUBLIC_DATABASE_URL", "MIGRATION_DATABASE_URL", "MQTT_URL"):
        os.environ.pop(k, None)
    return Settings(_env_file=None)
