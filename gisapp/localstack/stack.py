"""Start, check and stop the project-managed PostgreSQL/PostGIS cluster and Mosquitto broker."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from gisapp.localstack import procs
from gisapp.localstack.errors import StackError
from gisapp.settings import INGEST_MQTT_USER, LOCAL_DB_NAME, LOCAL_ROLES, Settings, ingest_mqtt_user
from sensors.broker import BrokerAccount, write_files
from sensors.credentials import mosquitto_hash

MOSQUITTO_BIN = Path("/usr/sbin/mosquitto")
PG_SHARE = Path("/usr/share/postgresql/15/extension")

# What each piece needs, and the Debian package that provides it.
REQUIREMENTS = [
    ("postgres", "postgresql-15"),
    ("postgis.control", "postgresql-15-postgis-3"),
    ("pgrouting.control", "postgresql-15-pgrouting"),
    ("mosquitto", "mosquitto"),
]


class LocalStack:
    def __init__(self, settings: Settings, *, fast_unsafe: bool = False) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.pg_dir = self.data_dir / "pg"
        self.mqtt_dir = self.data_dir / "mosquitto"
        self.run_dir = self.data_dir / "run"
        self.log_dir = self.data_dir / "log"
        self.host = "127.0.0.1"
        # Tests trade durability for speed; never used by `gisapp up`.
        self.fast_unsafe = fast_unsafe
        self.as_root = os.geteuid() == 0

    # ------------------------------------------------------------------ checks
    def check_prerequisites(self) -> None:
        paths = {
            "postgres": self.settings.pg_bindir / "postgres",
            "postgis.control": PG_SHARE / "postgis.control",
            "pgrouting.control": PG_SHARE / "pgrouting.control",
            "mosquitto": MOSQUITTO_BIN,
        }
        missing = [pkg for key, pkg in REQUIREMENTS if not paths[key].exists()]
        if missing:
            cmd = "sudo apt-get install -y " + " ".join(missing)
            raise StackError(
                f"必要な Debian パッケージがありません: {', '.join(missing)}。`{cmd}` を実行してください"
                "（または `make demo` が自動でインストールします）。",
                f"Missing Debian packages: {', '.join(missing)}. Run `{cmd}` (or `make demo`, which "
                "installs them).",
            )
        for user in ("postgres", "mosquitto"):
            if self.as_root and not _user_exists(user):
                raise StackError(
                    f"システムユーザー {user} がありません。Debian パッケージを再インストールしてください。",
                    f"System user {user} is missing: reinstall the Debian package that creates it.",
                )

    def check_port(self, port: int, env_var: str, pidfile: Path) -> None:
        if procs.read_pid(pidfile) is None and procs.port_in_use(self.host, port):
            raise StackError(
                f"ポート {port} は他のプログラムが使用中です。そのプログラムを止めるか、"
                f"環境変数 {env_var} で別のポートを指定してください。",
                f"Port {port} is already in use by another program. Stop it, or choose another port "
                f"with the environment variable {env_var}.",
            )

    # ----------------------------------------------------------------- secrets
    def ensure_secrets(self) -> dict:
        """Passwords generated once per install; the file is readable by its owner only."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.settings.secrets_path
        if path.exists():
            return json.loads(path.read_text())
        data = {
            "pg": {"postgres": _pw(), **{name: _pw() for name in LOCAL_ROLES.values()}},
            "mqtt": {INGEST_MQTT_USER: _pw()},
            "session_secret": secrets.token_urlsafe(32),
        }
        self._write_secrets(data)
        return data

    def ensure_ingest_accounts(self, workers: int) -> bool:
        """A broker account (password in secrets.json) for each of `workers` ingest workers; True if
        one was added (the broker's password file must then be rewritten)."""
        data = self.ensure_secrets()
        missing = [
            ingest_mqtt_user(k) for k in range(1, workers + 1) if ingest_mqtt_user(k) not in data["mqtt"]
        ]
        for user in missing:
            data["mqtt"][user] = _pw()
        if missing:
            self._write_secrets(data)
        return bool(missing)

    def _write_secrets(self, data: dict) -> None:
        path = self.settings.secrets_path
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        tmp.replace(path)

    # ---------------------------------------------------------------- postgres
    @property
    def pg_pidfile(self) -> Path:
        return self.run_dir / "postgres.pid"

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self.as_root else argv

    def _chown(self, path: Path, user: str) -> None:
        if self.as_root:
            pw = pwd.getpwnam(user)
            for p in [path, *path.rglob("*")]:
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def _make_reachable(self) -> None:
        """The postgres/mosquitto users must be able to walk down to the data directory."""
        if not self.as_root:
            return
        for user in ("postgres", "mosquitto"):
            ok = subprocess.run(
                ["runuser", "-u", user, "--", "test", "-x", str(self.data_dir)], capture_output=True
            )
            if ok.returncode != 0:
                raise StackError(
                    f"データディレクトリ {self.data_dir} にユーザー {user} が到達できません。"
                    "親ディレクトリの権限を確認するか、GISAPP_DATA_DIR で別の場所を指定してください。",
                    f"The {user} user cannot reach the data directory {self.data_dir}. Check the "
                    "permissions of its parent directories, or set GISAPP_DATA_DIR to another place.",
                )

    def start_postgres(self) -> bool:
        """Initialise on first run, start if not running, wait until ready. True if it was started."""
        secrets_ = self.ensure_secrets()
        os.chmod(self.data_dir, 0o755)
        self._make_reachable()
        if self._pg_running():
            return False
        self.check_port(self.settings.pg_port, "GISAPP_PG_PORT", self.pg_pidfile)
        fresh = not (self.pg_dir / "PG_VERSION").exists()
        if fresh:
            self._initdb(secrets_["pg"]["postgres"])
        self._write_pg_conf()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        logfile = self.log_dir / "postgres.log"
        logfile.touch()
        self._chown(logfile, "postgres")
        res = subprocess.run(
            self._as_postgres(
                [
                    str(self.settings.pg_bindir / "pg_ctl"),
                    "-D",
                    str(self.pg_dir),
                    "-l",
                    str(logfile),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            raise StackError(
                f"PostgreSQL を起動できませんでした。ログ: {logfile}",
                f"PostgreSQL did not start. See {logfile}.\n{res.stdout}{res.stderr}",
            )
        pid = int((self.pg_dir / "postmaster.pid").read_text().split()[0])
        self.pg_pidfile.write_text(f"{pid}\n")
        self._bootstrap_db(secrets_["pg"])
        return True

    def _pg_running(self) -> bool:
        pid = procs.read_pid(self.pg_dir / "postmaster.pid")
        if pid is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.pg_pidfile.write_text(f"{pid}\n")
        return pid is not None

    def _initdb(self, superuser_password: str) -> None:
        self.pg_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.pg_dir, 0o700)
        self._chown(self.pg_dir, "postgres")
        pwfile = self.data_dir / ".pgpw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(superuser_password)
        self._chown(pwfile, "postgres")
        try:
            res = subprocess.run(
                self._as_postgres(
                    [
                        str(self.settings.pg_bindir / "initdb"),
                        "-D",
                        str(self.pg_dir),
                        "-U",
                        "postgres",
                        "--auth=scram-sha-256",
                        f"--pwfile={pwfile}",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                capture_output=True,
                text=True,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if res.returncode != 0:
            raise StackError("PostgreSQL の初期化に失敗しました。", f"initdb failed:\n{res.stderr}")

    def _write_pg_conf(self) -> None:
        lines = [
            "# written by gisapp on every start",
            f"listen_addresses = '{self.host}'",
            f"port = {self.settings.pg_port}",
            "unix_socket_directories = ''",
            "max_connections = 100",
            "shared_buffers = 256MB",
            "log_min_messages = warning",
            "log_line_prefix = '%m [%p] %u@%d '",
        ]
        if self.fast_unsafe:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        conf = self.pg_dir / "gisapp.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._chown(conf, "postgres")
        main = self.pg_dir / "postgresql.conf"
        if "include_if_exists = 'gisapp.conf'" not in main.read_text():
            with main.open("a") as f:
                f.write("\ninclude_if_exists = 'gisapp.conf'\n")

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        pw = self.ensure_secrets()["pg"]["postgres"]
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.settings.pg_port, user="postgres", password=pw, dbname=dbname
        )

    def _bootstrap_db(self, passwords: dict) -> None:
        """Roles, database and extensions; idempotent, so `up` twice is harmless."""
        owner, app, public = LOCAL_ROLES["owner"], LOCAL_ROLES["app"], LOCAL_ROLES["public"]
        with psycopg.connect(self.superuser_dsn(), autocommit=True) as conn:
            existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
            for role, attrs in ((owner, "LOGIN CREATEROLE"), (app, "LOGIN"), (public, "LOGIN")):
                verb = "ALTER" if role in existing else "CREATE"
                conn.execute(
                    sql.SQL("{} ROLE {} " + attrs + " PASSWORD {}").format(
                        sql.SQL(verb), sql.Identifier(role), sql.Literal(passwords[role])
                    )
                )
            for group, member in (("gisapp_rw", app), ("gisapp_read_public", public)):
                if group not in existing:
                    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member)))
            conn.execute(
                sql.SQL("GRANT gisapp_rw, gisapp_read_public TO {} WITH ADMIN OPTION").format(
                    sql.Identifier(owner)
                )
            )
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [LOCAL_DB_NAME]).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(LOCAL_DB_NAME), sql.Identifier(owner)
                    )
                )
        with psycopg.connect(self.superuser_dsn(LOCAL_DB_NAME), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(LOCAL_DB_NAME))
            )
            for role in (app, public):
                conn.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        sql.Identifier(LOCAL_DB_NAME), sql.Identifier(role)
                    )
                )

    # --------------------------------------------------------------- mosquitto
    @property
    def mqtt_pidfile(self) -> Path:
        return self.run_dir / "mosquitto.pid"

    def write_mosquitto_conf(self) -> Path:
        self.mqtt_dir.mkdir(parents=True, exist_ok=True)
        (self.mqtt_dir / "data").mkdir(exist_ok=True)
        conf = self.mqtt_dir / "mosquitto.conf"
        lines = [
            "# written by gisapp on every start",
            "per_listener_settings false",
            f"listener {self.settings.mqtt_port} {self.host}",
            "allow_anonymous false",
            f"password_file {self.mqtt_dir / 'passwd'}",
            f"acl_file {self.mqtt_dir / 'acl'}",
            # A device cannot take over another's client id: the id is its username.
            "use_username_as_clientid true",
            "persistence true",
            f"persistence_location {self.mqtt_dir / 'data'}/",
            "autosave_interval 30",
            # The largest legitimate message is a radio incident report (a few KiB; the worker's own cap is
            # 64 KiB, above which it dead-letters `payload_too_large`). A larger packet, up to 256 KiB,
            # still reaches the worker and is dead-lettered where HQ sees it; anything bigger is junk: the
            # broker disconnects the client and the message is never stored.
            "max_packet_size 262144",
            # Room for a 2-minute database outage at the full ingest rate (10,000 msg/s × 120 s + 25 %).
            "max_queued_messages 1500000",
            # … and a bound on its payload bytes: 1,500,000 × ~350 B (a full OwnTracks location is under
            # 300 B), so a flood of big junk cannot grow the queue to 1,500,000 × 256 KiB of memory.
            "max_queued_bytes 536870912",
            "max_inflight_messages 1000",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "connection_messages true",
            "sys_interval 10",
        ]
        if self.as_root:
            lines.append("user mosquitto")
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def write_broker_accounts(self, devices: list[BrokerAccount] | None = None) -> None:
        """Password + ACL files: the ingest accounts from secrets.json, devices from the registry."""
        ingest = sorted(self.ensure_secrets()["mqtt"].items())  # every account there is an ingest worker's
        accounts = [BrokerAccount(user, mosquitto_hash(pw), "ingest") for user, pw in ingest]
        accounts += devices or []
        uid = pwd.getpwnam("mosquitto").pw_uid if self.as_root else None
        self.mqtt_dir.mkdir(parents=True, exist_ok=True)
        write_files(self.mqtt_dir, accounts, owner_uid=uid)

    def start_mosquitto(self, devices: list[BrokerAccount] | None = None) -> bool:
        self.ensure_secrets()
        if procs.read_pid(self.mqtt_pidfile) is not None:
            return False
        self.check_port(self.settings.mqtt_port, "GISAPP_MQTT_PORT", self.mqtt_pidfile)
        conf = self.write_mosquitto_conf()
        self.write_broker_accounts(devices)
        self._chown(self.mqtt_dir, "mosquitto")
        pid = procs.spawn("mosquitto", [str(MOSQUITTO_BIN), "-c", str(conf)], self.run_dir, self.log_dir)
        if not procs.wait_for_port(self.host, self.settings.mqtt_port, 20, pid):
            raise StackError(
                f"Mosquitto を起動できませんでした。ログ: {self.log_dir / 'mosquitto.log'}",
                f"Mosquitto did not start. See {self.log_dir / 'mosquitto.log'}.",
            )
        return True

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.check_prerequisites()
        self.start_postgres()
        self.start_mosquitto()

    def app_pidfiles(self) -> list[Path]:
        """Everything `gisapp up` spawned besides the two servers."""
        if not self.run_dir.exists():
            return []
        return sorted(p for p in self.run_dir.glob("*.pid") if p.stem not in ("postgres", "mosquitto"))

    def stop_postgres(self, mode: str = "fast") -> bool:
        """Stop the cluster ("immediate" = as if the machine lost power; recovery replays the WAL)."""
        if procs.read_pid(self.pg_dir / "postmaster.pid") is None:
            return False
        pg_ctl = str(self.settings.pg_bindir / "pg_ctl")
        cmd = [pg_ctl, "-D", str(self.pg_dir), "-m", mode, "-w", "-t", "60", "stop"]
        subprocess.run(self._as_postgres(cmd), capture_output=True)
        return True

    def stop(self) -> list[str]:
        """Stop app processes first (they hold connections), then the broker, then the database."""
        stopped = [p.stem for p in self.app_pidfiles() if procs.stop(p)]
        if procs.stop(self.mqtt_pidfile):
            stopped.append("mosquitto")
        if self.stop_postgres():
            stopped.append("postgres")
        self.pg_pidfile.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, int | None]:
        names = {"postgres": self.pg_dir / "postmaster.pid", "mosquitto": self.mqtt_pidfile}
        names |= {p.stem: p for p in self.app_pidfiles()}
        return {name: procs.read_pid(path) for name, path in names.items()}

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.superuser_dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise StackError("PostgreSQL が応答しません。", "PostgreSQL is not answering.")

    def destroy(self) -> None:
        """Stop and delete everything under the data directory (tests only)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _pw() -> str:
    return secrets.token_urlsafe(24)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
