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

from gisapp.settings import INGEST_MQTT_USER, ingest_mqtt_user
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
            kind = "ingest" if username.startswith(INGEST_MQTT_USER) else "device"
            accounts.append(BrokerAccount(username, password_hash, kind))
    return accounts


def sync(
    directory: Path, ingest_password: str, owner_uid: int | None = None, extra: dict[str, str] | None = None
) -> list[str]:
    """Bring ``passwd`` and ``acl`` in ``directory`` up to date; return the names of files written.
    ``extra``: the accounts of ingest workers 2…N (username → password, profile "scale")."""
    passwd, acl = directory / "passwd", directory / "acl"
    accounts = read_accounts(passwd)
    wanted = {INGEST_MQTT_USER: ingest_password, **(extra or {})}
    by_name = {a.username: a for a in accounts}
    written = []
    stale = [u for u, pw in wanted.items() if u not in by_name or not verify(pw, by_name[u].password_hash)]
    if stale:
        ingest = [BrokerAccount(u, mosquitto_hash(pw), "ingest") for u, pw in wanted.items()]
        others = [a for a in accounts if a.username not in wanted]
        _write(passwd, render_password_file([*ingest, *others]), owner_uid)
        written.append("passwd")
    if not acl.exists():
        _write(acl, render_acl([BrokerAccount(u, "", "ingest") for u in wanted]), owner_uid)
        written.append("acl")
    else:  # the registry owns the device entries: only add an ingest worker's entry it lacks
        text = acl.read_text()
        missing = [u for u in wanted if f"user {u}\n" not in text]
        if missing:
            added = render_acl([BrokerAccount(u, "", "ingest") for u in missing]).split("\n", 2)[2]
            _write(acl, text.rstrip("\n") + "\n\n" + added, owner_uid)
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
    # Ingest workers 2…N of the "scale" profile: MQTT_INGEST_2_PASSWORD, … (optional).
    extra = {}
    for k in range(2, 9):
        other = os.environ.get(f"MQTT_INGEST_{k}_PASSWORD", "")
        if other:
            if not PASSWORD_RE.match(other):
                print(
                    f"MQTT_INGEST_{k}_PASSWORD: 16 文字以上 / at least 16 URL-safe characters",
                    file=sys.stderr,
                )
                return 1
            extra[ingest_mqtt_user(k)] = other
    directory = Path(argv[1] if len(argv) > 1 else "/mosquitto-auth")
    written = sync(directory, password, MOSQUITTO_UID if os.geteuid() == 0 else None, extra)
    print(f"mosquitto auth files in {directory}: {', '.join(written) or 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
