"""Mosquitto password and ACL files for docker compose: the one-shot ``mosquitto-auth`` service.

It runs before the broker on every ``docker compose up``. It gives the ingest account the password in
MQTT_INGEST_PASSWORD and keeps every other account the password file already holds (the device
accounts the registry writes), so rotating the ingest password is re-running it. The ACL is written
only when absent: its ingest entry does not depend on the password, and the registry owns the rest.
The file formats come from ``sensors``, the same code as the local stack.

    python init_auth.py /mosquitto-auth
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from gisapp.settings import INGEST_MQTT_USER
from sensors.broker import BrokerAccount, render_acl, render_password_file
from sensors.credentials import mosquitto_hash, verify

MOSQUITTO_UID = 1883  # the mosquitto user of the eclipse-mosquitto image
# The ingest worker receives the password inside MQTT_URL, so only characters a URL carries as they are.
PASSWORD_RE = re.compile(r"^[A-Za-z0-9._~-]{16,}$")


def read_accounts(passwd: Path) -> list[BrokerAccount]:
    if not passwd.exists():
        return []
    accounts = []
    for line in passwd.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            username, _, password_hash = line.partition(":")
            kind = "ingest" if username == INGEST_MQTT_USER else "device"
            accounts.append(BrokerAccount(username, password_hash, kind))
    return accounts


def sync(directory: Path, ingest_password: str, owner_uid: int | None = None) -> list[str]:
    """Bring ``passwd`` and ``acl`` in ``directory`` up to date; return the names of files written."""
    passwd, acl = directory / "passwd", directory / "acl"
    accounts = read_accounts(passwd)
    current = next((a for a in accounts if a.username == INGEST_MQTT_USER), None)
    written = []
    if current is None or not verify(ingest_password, current.password_hash):
        ingest = BrokerAccount(INGEST_MQTT_USER, mosquitto_hash(ingest_password), "ingest")
        others = [a for a in accounts if a.username != INGEST_MQTT_USER]
        _write(passwd, render_password_file([ingest, *others]), owner_uid)
        written.append("passwd")
    if not acl.exists():
        _write(acl, render_acl([BrokerAccount(INGEST_MQTT_USER, "", "ingest")]), owner_uid)
        written.append("acl")
    for path in (passwd, acl):  # the broker reads them after dropping root
        if owner_uid is not None:
            os.chown(path, owner_uid, -1)
        path.chmod(0o600)
    return written


def _write(path: Path, text: str, owner_uid: int | None) -> None:
    """Atomically (rename), so the broker never reads half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    if owner_uid is not None:
        os.chown(tmp, owner_uid, -1)
    tmp.replace(path)


def main(argv: list[str]) -> int:
    password = os.environ.get("MQTT_INGEST_PASSWORD", "")
    if not PASSWORD_RE.match(password):
        print(
            "MQTT_INGEST_PASSWORD は 16 文字以上の英数字と . _ ~ - で指定してください（例: openssl rand -hex 32）\n"
            "MQTT_INGEST_PASSWORD must be at least 16 characters of A-Z a-z 0-9 . _ ~ - "
            "(e.g. openssl rand -hex 32)",
            file=sys.stderr,
        )
        return 1
    directory = Path(argv[1] if len(argv) > 1 else "/mosquitto-auth")
    written = sync(directory, password, MOSQUITTO_UID if os.geteuid() == 0 else None)
    print(f"mosquitto auth files in {directory}: {', '.join(written) or 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
