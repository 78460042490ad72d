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

# The hot standby for the citizen-facing instance (`gisapp up --replica`): it streams the WAL as this
# role, through this physical slot, so the primary keeps every WAL segment the replica has not received.
REPLICATION_ROLE = "gisapp_replicator"
REPLICA_SLOT = "gisapp_replica"
# … but not without bound: a replica that is gone for good would otherwise fill the primary's disk.
# Beyond this much WAL held for the slot, PostgreSQL gives the slot up (wal_status "lost") and the
# replica must be cloned again, which `gisapp up --replica` does by itself.
MAX_SLOT_WAL_KEEP = "2GB"
HBA_REPLICATION = f"host replication {REPLICATION_ROLE} 127.0.0.1/32 scram-sha-256"

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
        self.replica_dir = self.data_dir / "pg-replica"
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
        """Passwords generated once per install; the file is readable by its owner only. A password
        this version needs and an older install lacks (the replication role's) is added, the others
        are kept."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.settings.secrets_path
        roles = ["postgres", *LOCAL_ROLES.values(), REPLICATION_ROLE]
        if path.exists():
            data = json.loads(path.read_text())
            if all(role in data["pg"] for role in roles):
                return data
            data["pg"] = {**{role: _pw() for role in roles}, **data["pg"]}
        else:
            data = {
                "pg": {role: _pw() for role in roles},
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

    def _conf_lines(self, port: int) -> list[str]:
        lines = [
            "# written by gisapp on every start",
            f"listen_addresses = '{self.host}'",
            f"port = {port}",
            "unix_socket_directories = ''",
            "max_connections = 200",  # docs/deploy.md, "Several processes": the pools' sum
            "shared_buffers = 256MB",
            "log_min_messages = warning",
            "log_line_prefix = '%m [%p] %u@%d '",
        ]
        if self.fast_unsafe:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        return lines

    def _write_pg_conf(self) -> None:
        # Streaming replication (`gisapp up --replica`): WAL for standbys (PostgreSQL 15's defaults,
        # said here so that nobody lowers them unawares) and a bound on what a slot may hold.
        lines = [
            *self._conf_lines(self.settings.pg_port),
            "wal_level = replica",
            "max_wal_senders = 10",
            "max_replication_slots = 10",
            f"max_slot_wal_keep_size = {MAX_SLOT_WAL_KEEP}",
        ]
        self._write_conf(self.pg_dir, lines)

    def _write_conf(self, pg_dir: Path, lines: list[str]) -> None:
        conf = pg_dir / "gisapp.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._chown(conf, "postgres")
        main = pg_dir / "postgresql.conf"
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

    # ----------------------------------------------------------------- replica
    def replica_running(self) -> bool:
        return procs.read_pid(self.replica_dir / "postmaster.pid") is not None

    def start_replica(self) -> bool:
        """The hot standby of `gisapp up --replica`: cloned from the running primary with
        pg_basebackup on first use (and again when its slot is gone or was given up, since it can then
        never catch up), started on GISAPP_REPLICA_PG_PORT if not running. True if it was started."""
        if self.replica_running():
            return False
        port = self.settings.replica_pg_port
        self.check_port(port, "GISAPP_REPLICA_PG_PORT", self.replica_dir / "postmaster.pid")
        slot_usable = self._prepare_primary_for_replica()
        if (self.replica_dir / "PG_VERSION").exists() and not slot_usable:
            shutil.rmtree(self.replica_dir)
        if not (self.replica_dir / "PG_VERSION").exists():
            self._clone_replica()
        lines = [
            *self._conf_lines(port),
            "hot_standby = on",
            # The primary keeps the rows a replica's running query still reads, instead of the
            # replica cancelling that query ("conflict with recovery") after 30 s.
            "hot_standby_feedback = on",
        ]
        self._write_conf(self.replica_dir, lines)
        logfile = self.log_dir / "postgres-replica.log"
        logfile.touch()
        self._chown(logfile, "postgres")
        pg_ctl = str(self.settings.pg_bindir / "pg_ctl")
        argv = [pg_ctl, "-D", str(self.replica_dir), "-l", str(logfile), "-w", "-t", "120", "start"]
        res = subprocess.run(self._as_postgres(argv), capture_output=True, text=True)
        if res.returncode != 0:
            raise StackError(
                f"PostgreSQL レプリカを起動できませんでした。ログ: {logfile}",
                f"The PostgreSQL replica did not start. See {logfile}.\n{res.stdout}{res.stderr}",
            )
        return True

    def _prepare_primary_for_replica(self) -> bool:
        """On the primary, idempotently: the replication role with its password from secrets.json,
        its pg_hba.conf line, the settings, and the physical slot. True if the slot existed and
        still holds the WAL a replica needs ("lost" slots are dropped and made again)."""
        password = self.ensure_secrets()["pg"][REPLICATION_ROLE]
        hba = self.pg_dir / "pg_hba.conf"
        if HBA_REPLICATION not in hba.read_text().splitlines():
            with hba.open("a") as f:
                f.write(f"\n# gisapp: the hot standby of `gisapp up --replica`\n{HBA_REPLICATION}\n")
        self._write_pg_conf()
        with psycopg.connect(self.superuser_dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [REPLICATION_ROLE]).fetchone()
            conn.execute(
                sql.SQL("{} ROLE {} LOGIN REPLICATION PASSWORD {}").format(
                    sql.SQL("ALTER" if exists else "CREATE"),
                    sql.Identifier(REPLICATION_ROLE),
                    sql.Literal(password),
                )
            )
            conn.execute("SELECT pg_reload_conf()")
            row = conn.execute(
                "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s", [REPLICA_SLOT]
            ).fetchone()
            if row is not None and row[0] != "lost":
                return True
            if row is not None:
                conn.execute("SELECT pg_drop_replication_slot(%s)", [REPLICA_SLOT])
            conn.execute("SELECT pg_create_physical_replication_slot(%s, true)", [REPLICA_SLOT])
            return False

    def _clone_replica(self) -> None:
        self.replica_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.replica_dir, 0o700)
        self._chown(self.replica_dir, "postgres")
        argv = [
            str(self.settings.pg_bindir / "pg_basebackup"),
            f"--dbname=host={self.host} port={self.settings.pg_port} user={REPLICATION_ROLE}",
            f"--pgdata={self.replica_dir}",
            "--wal-method=stream",
            f"--slot={REPLICA_SLOT}",
            "--write-recovery-conf",  # standby.signal and primary_conninfo
            "--checkpoint=fast",
            "--no-password",
        ]
        if self.fast_unsafe:
            argv.append("--no-sync")
        env = {**os.environ, "PGPASSWORD": self.ensure_secrets()["pg"][REPLICATION_ROLE]}
        res = subprocess.run(self._as_postgres(argv), capture_output=True, text=True, env=env)
        if res.returncode != 0:
            shutil.rmtree(self.replica_dir, ignore_errors=True)
            raise StackError(
                "PostgreSQL レプリカを作成できませんでした（pg_basebackup）。",
                f"The PostgreSQL replica could not be cloned (pg_basebackup):\n{res.stderr}",
            )

    def stop_replica(self, mode: str = "fast") -> bool:
        if not self.replica_running():
            return False
        pg_ctl = str(self.settings.pg_bindir / "pg_ctl")
        cmd = [pg_ctl, "-D", str(self.replica_dir), "-m", mode, "-w", "-t", "60", "stop"]
        subprocess.run(self._as_postgres(cmd), capture_output=True)
        return True

    def remove_replica(self) -> bool:
        """Stop the replica, delete its copy and drop its slot (so the primary holds no WAL for it)."""
        found = self.replica_dir.exists()
        self.stop_replica("immediate")
        shutil.rmtree(self.replica_dir, ignore_errors=True)
        if self._pg_running():
            with psycopg.connect(self.superuser_dsn(), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [REPLICA_SLOT]
                ).fetchone()
                if row:
                    found = True
                    conn.execute("SELECT pg_drop_replication_slot(%s)", [REPLICA_SLOT])
        return found

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
        if self.stop_replica():
            stopped.append("postgres-replica")
        if self.stop_postgres():
            stopped.append("postgres")
        self.pg_pidfile.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, int | None]:
        names = {"postgres": self.pg_dir / "postmaster.pid", "mosquitto": self.mqtt_pidfile}
        if self.replica_dir.exists():
            names["postgres-replica"] = self.replica_dir / "postmaster.pid"
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
