"""docker-compose.yml and deploy/, checked without a Docker engine.

The file's shape, that every app command is a real `gisapp` command and every variable a real setting,
and that the citizen-facing instance gets its own role only. Then, with the PostgreSQL and Mosquitto
binaries the local stack uses: the database init script, the broker config and its auth files.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import pytest
import typer
import yaml
from typer.testing import CliRunner

from deploy.nginx import render
from gisapp import migrate
from gisapp.cli import app as cli_app
from gisapp.health import check_broker
from gisapp.localstack import LocalStack
from gisapp.settings import INGEST_MQTT_USER, Settings, ingest_mqtt_user
from ingest.worker import mqtt_params
from sensors.credentials import mosquitto_hash, verify
from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
ENV_EXAMPLE = DEPLOY / "env.example"
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "mosquitto.conf"
INIT_SCRIPT = DEPLOY / "postgres" / "initdb" / "20-gisapp.sh"
REPLICA_SCRIPT = DEPLOY / "postgres" / "replica-entrypoint.sh"

INGEST_SERVICES = {"ingest", "ingest-2"}  # ingest-2: profile "scale"
JMA_PROFILE = {"jma-poller"}  # profile "jma": the JMA PULL feed poller
APP_SERVICES = {"migrate", "api", "public-api", *INGEST_SERVICES, *JMA_PROFILE}  # run a `gisapp` command
ONE_SHOT = {"migrate", "mosquitto-auth"}
REPLICATION_SECRET = "PG_REPLICATION_PASSWORD"
SCALE_PROFILE = {"ingest-2", "proxy", "replica"}
EXPECTED = {"postgis", "mosquitto", "mosquitto-auth", *APP_SERVICES, *SCALE_PROFILE}
ROLE_OF = {
    "migrate": "gisapp_owner",
    "api": "gisapp_app",
    "ingest": "gisapp_app",
    "ingest-2": "gisapp_app",
    "public-api": "gisapp_public",
    "jma-poller": "gisapp_app",
}
AWAITED_ENV: set[str] = set()  # environment variables a service may set before gisapp reads them
PUBLIC_SECRET = "PG_PUBLIC_PASSWORD"

VAR_RE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_RE = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")
SETTINGS_ALIASES = {f.alias for f in Settings.model_fields.values() if f.alias}


def dummy(name: str) -> str:
    """A distinct, URL-safe stand-in per variable, so a leaked value shows whose it is."""
    return name.lower().replace("_", "-") + "-0123456789"


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """What compose makes of a value: ``env`` or the defaults filled in, required variables given
    dummies."""

    def sub(m: re.Match) -> str:
        if env and m["name"] in env:
            return env[m["name"]]
        return m["arg"] if m["op"] in ("-", ":-") else dummy(m["name"])

    return VAR_RE.sub(sub, value).replace("$$", "$")


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


@pytest.fixture(scope="module")
def compose() -> dict:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), (
        "no services in docker-compose.yml"
    )
    return doc


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


# ------------------------------------------------------------------------------------ shape
def test_expected_services(services):
    assert EXPECTED <= set(services), f"missing services: {EXPECTED - set(services)}"


def test_healthchecks_on_every_long_running_service(services):
    for name, svc in services.items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", f"{name} is one-shot: restart must be 'no'"
            assert "healthcheck" not in svc, f"{name} is one-shot: it needs no healthcheck"
        else:
            test = svc.get("healthcheck", {}).get("test")
            assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_depends_on_conditions(services):
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            want = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert isinstance(spec, dict) and spec.get("condition") == want, f"{name} → {dep}: use {want}"
    for name in APP_SERVICES:
        assert "postgis" in services[name]["depends_on"], name
        if name != "migrate":
            assert "migrate" in services[name]["depends_on"], f"{name} must wait for the migrations"
    assert "mosquitto-auth" in services["mosquitto"]["depends_on"]


def _strings(node) -> Iterator[str]:
    """Every key and value compose interpolates (comments are not)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def test_variables_have_required_form_or_a_non_secret_default(compose):
    text = "\n".join(_strings(compose))
    bare = re.findall(r"(?<!\$)\$(?!\{|\$)\w+", text)
    assert not bare, f"use ${{VAR:?message}} or ${{VAR:-default}}, not {bare}"
    documented = env_example()
    for m in VAR_RE.finditer(text):
        name, op, arg = m["name"], m["op"], m["arg"]
        if SECRET_RE.search(name):
            assert op == ":?" and arg.strip(), f"secret ${{{name}}} must be ${{{name}:?message}}"
        else:
            assert op in (":-", ":?"), f"${{{name}}} needs :-default or :?message"
        assert name in documented, f"${{{name}}} is not listed in deploy/env.example"


def test_env_example_ships_no_usable_secret():
    env = env_example()
    secrets = {k: v for k, v in env.items() if SECRET_RE.search(k)}
    assert secrets, "deploy/env.example lists no passwords"
    # Empty, so an unedited copy stops `docker compose` at the :? check instead of running with a
    # password everyone knows.
    assert all(v == "" for v in secrets.values()), f"placeholders must be empty: {secrets}"
    # `.env` is also read by Settings in a checkout: it must not redirect the local stack.
    assert set(env) & SETTINGS_ALIASES <= {"LOG_LEVEL"}, set(env) & SETTINGS_ALIASES


# ---------------------------------------------------------------------------- app services
def _app_image(compose: dict) -> str:
    return compose["x-app"]["image"]


def test_app_commands_are_real_cli_commands(compose, services):
    runner = CliRunner()
    root = typer.main.get_command(cli_app)
    for name in APP_SERVICES:
        svc = services[name]
        assert "entrypoint" not in svc, f"{name}: the image's entrypoint is `gisapp`"
        args = svc["command"]
        assert isinstance(args, list) and all(isinstance(a, str) for a in args), f"{name}: command as a list"
        result = runner.invoke(cli_app, [*args, "--help"])
        assert result.exit_code == 0, f"{name}: `gisapp {shlex.join(args)}` is not a command: {result.output}"
        # --help stops before values are converted: parse them too (a bad --port value fails here).
        cmd, rest = root, list(args)
        while hasattr(cmd, "commands"):  # a group (typer may bring its own copy of click)
            cmd, rest = cmd.commands[rest[0]], rest[1:]
        try:
            cmd.make_context(cmd.name or args[0], rest)
        except Exception as e:  # any parse error is the finding
            pytest.fail(f"{name}: `gisapp {shlex.join(args)}`: {e}")
    # Anything else built from the app image runs something other than the `gisapp` entrypoint.
    for name, svc in services.items():
        if svc.get("image") == _app_image(compose) and name not in APP_SERVICES:
            assert svc.get("entrypoint"), (
                f"{name} uses the app image: add it to APP_SERVICES or set entrypoint"
            )


def _option_envvars(args: list[str]) -> set[str]:
    """Environment variables the command's own options read (typer ``envvar=``)."""
    cmd, rest = typer.main.get_command(cli_app), list(args)
    while hasattr(cmd, "commands") and rest:
        cmd, rest = cmd.commands[rest[0]], rest[1:]
    names: set[str] = set()
    for param in getattr(cmd, "params", []):
        envvar = getattr(param, "envvar", None)
        names |= {envvar} if isinstance(envvar, str) else set(envvar or ())
    return names


def test_app_environment_is_known_settings(services, tmp_path):
    for name in APP_SERVICES:
        env = {k: interpolate(str(v)) for k, v in (services[name].get("environment") or {}).items()}
        known = SETTINGS_ALIASES | _option_envvars(services[name]["command"])
        unknown = set(env) - known - AWAITED_ENV
        assert not unknown, f"{name}: not a setting of gisapp.settings.Settings: {unknown}"
        env = {k: v for k, v in env.items() if k in SETTINGS_ALIASES}
        s = Settings(_env_file=None, GISAPP_DATA_DIR=str(tmp_path / "none"), **env)  # values validate
        for key in ("DATABASE_URL", "PUBLIC_DATABASE_URL", "MIGRATION_DATABASE_URL"):
            if key in env:
                u = urlsplit(env[key])
                assert u.scheme == "postgresql+psycopg" and u.hostname == "postgis", f"{name} {key}"
                assert u.path == "/gisapp", f"{name} {key}: database gisapp"
                assert u.username == ROLE_OF[name], f"{name} {key} must log in as {ROLE_OF[name]}"
        if s.mqtt_url:
            host, _, user, _ = mqtt_params(s.mqtt_url)
            assert host == "mosquitto"
            # Worker K logs in as its own account (gisapp.settings.ingest_mqtt_user).
            expected = ingest_mqtt_user(s.ingest_worker) if name in INGEST_SERVICES else None
            assert user == expected, f"{name}: broker login"


def test_public_api_never_gets_another_roles_password(compose, services):
    svc = services["public-api"]
    secrets = {
        m["name"] for m in VAR_RE.finditer("\n".join(_strings(compose))) if SECRET_RE.search(m["name"])
    }
    # Anchors are resolved by the YAML loader: this is everything the container is given.
    used = {m["name"] for m in VAR_RE.finditer("\n".join(_strings(svc)))}
    # Besides its own password it gets the key of the citizen-report rate limit (an HMAC key, no
    # account's credential).
    assert used & secrets == {PUBLIC_SECRET, "REPORT_KEY_SECRET"}, (
        f"public-api must see {PUBLIC_SECRET} (and the report key) only, sees {used & secrets}"
    )
    env = {k: interpolate(str(v)) for k, v in svc["environment"].items()}
    assert env["DATABASE_URL"] == env["PUBLIC_DATABASE_URL"], "DATABASE_URL must also be the public role"
    for key, value in env.items():
        u = urlsplit(value)
        if u.scheme:
            assert u.username in (None, "gisapp_public"), f"public-api {key} logs in as {u.username}"
    assert "--public" in svc["command"]


def test_replica_service(services):
    """The read replica: the postgis image, started by its own script from pg_basebackup, under a
    profile, with the replication password only; the citizen-facing instance reads it when told to."""
    svc, primary = services["replica"], services["postgis"]
    assert svc["profiles"] == ["scale"] and "profiles" not in primary
    assert svc["image"] == primary["image"] and svc["build"] == primary["build"]
    assert svc["entrypoint"] == ["bash", "/deploy/replica-entrypoint.sh"]
    assert f"./{REPLICA_SCRIPT.relative_to(ROOT)}:/deploy/replica-entrypoint.sh:ro" in svc["volumes"]
    assert "pgdata:/var/lib/postgresql/data" not in svc["volumes"], "a volume of its own"
    used = {m["name"] for m in VAR_RE.finditer("\n".join(_strings(svc)))}
    assert {name for name in used if SECRET_RE.search(name)} == {REPLICATION_SECRET}
    assert REPLICATION_SECRET in primary["environment"], "the primary creates the replication role"
    assert svc["environment"]["PRIMARY_HOST"] == "postgis"
    assert svc["depends_on"] == {"postgis": {"condition": "service_healthy"}}
    # No service waits for the replica: the citizen-facing instance starts without it (and answers
    # data routes with 503 until it is there).
    assert not any("replica" in (s.get("depends_on") or {}) for s in services.values())
    url = services["public-api"]["environment"]["PUBLIC_READ_DATABASE_URL"]
    assert "@${PUBLIC_READS_FROM:-postgis}:5432/gisapp" in url
    assert env_example()["PUBLIC_READS_FROM"] == "postgis"


def test_healthcheck_snippets(services):
    for name, svc in services.items():
        test = svc.get("healthcheck", {}).get("test", [])
        if test[1:3] == ["python", "-c"]:
            compile(test[3], f"<{name} healthcheck>", "exec")
    for name in ("api", "public-api"):
        svc = services[name]
        port = svc["command"][svc["command"].index("--port") + 1]
        assert f"http://127.0.0.1:{port}/healthz" in svc["healthcheck"]["test"][3], name
        assert any(p.endswith(f":{port}") for p in svc["ports"]), f"{name} publishes its port"


# ---------------------------------------------------------------------------- profile "scale"
def test_scale_profile_holds_the_proxy_and_the_second_worker(services):
    profiled = {name for name, svc in services.items() if svc.get("profiles")}
    assert profiled == SCALE_PROFILE | JMA_PROFILE, (
        "only the proxy, the replica, the extra ingest worker and the JMA poller are optional"
    )
    assert all(services[name]["profiles"] == ["scale"] for name in SCALE_PROFILE)
    assert services["jma-poller"]["profiles"] == ["jma"]


def test_ingest_workers_split_the_stream_one_to_n(services):
    own = {"GISAPP_INGEST_WORKER", "GISAPP_INGEST_WORKERS", "MQTT_URL"}

    def shared(name: str) -> dict:
        return {k: v for k, v in services[name]["environment"].items() if k not in own}

    workers, accounts = {}, {}
    for name in INGEST_SERVICES:
        env = services[name]["environment"]
        assert services[name]["command"] == ["ingest"]
        assert shared(name) == shared("ingest"), f"{name}: settings differ from ingest"
        workers[name] = (
            env["GISAPP_INGEST_WORKER"],
            interpolate(env["GISAPP_INGEST_WORKERS"], {"INGEST_WORKERS": "2"}),
        )
        accounts[name] = interpolate(env["MQTT_URL"]).split("//", 1)[1].split(":", 1)[0]
    assert sorted(workers.values()) == [("1", "2"), ("2", "2")], workers
    # Each worker its own broker account: the broker makes the username the client id.
    assert accounts == {"ingest": "gisapp-ingest", "ingest-2": "gisapp-ingest-2"}
    # Without the profile, the one worker is worker 1 of 1 (a plain subscription).
    assert interpolate(services["ingest"]["environment"]["GISAPP_INGEST_WORKERS"]) == "1"
    auth_env = services["mosquitto-auth"]["environment"]
    assert "MQTT_INGEST_2_PASSWORD" in auth_env


def test_mosquitto_auth_adds_the_second_workers_account(tmp_path):
    init_auth = _init_auth()
    init_auth.sync(tmp_path, "first-password-0123")
    written = init_auth.sync(tmp_path, "first-password-0123", None, {"gisapp-ingest-2": "second-worker-0123"})
    assert written == ["passwd", "acl"]
    accounts = {a.username: a for a in init_auth.read_accounts(tmp_path / "passwd")}
    assert {"gisapp-ingest", "gisapp-ingest-2"} <= set(accounts)
    assert "user gisapp-ingest-2\ntopic read gisapp/v1/#" in (tmp_path / "acl").read_text()
    assert (
        init_auth.sync(tmp_path, "first-password-0123", None, {"gisapp-ingest-2": "second-worker-0123"}) == []
    )


def test_proxy_runs_the_rendered_config_in_front_of_public_api(services):
    proxy, public = services["proxy"], services["public-api"]
    cfg = render.compose()
    mounts = {v.split(":")[1]: v.split(":")[0] for v in proxy["volumes"]}
    assert mounts["/etc/gisapp/nginx.conf"] == "./deploy/nginx/gisapp-public.conf"
    assert mounts[cfg.errors_dir] == "./deploy/nginx/errors"
    assert all(v.endswith(":ro") for v in proxy["volumes"])
    public_port = public["command"][public["command"].index("--port") + 1]
    assert cfg.upstreams == (f"public-api:{public_port}",)
    assert proxy["depends_on"] == {"public-api": {"condition": "service_healthy"}}
    assert set(proxy["networks"]) <= set(public["networks"]), "the proxy must reach public-api"
    assert "backend" not in proxy["networks"], "the proxy needs no way to the database"
    (listen,) = cfg.listen
    assert (
        any(p.endswith(f":{listen}") for p in proxy["ports"])
        and f"/dev/tcp/127.0.0.1/{listen} " in proxy["healthcheck"]["test"][3]
    )
    # Read-only container: the cache, temp files and pid file live on its tmpfs mounts.
    assert proxy["read_only"] is True and proxy["cap_drop"] == ["ALL"]
    tmpfs = [t.split(":")[0] for t in proxy["tmpfs"]]
    for path in (cfg.cache_dir, cfg.temp_dir, cfg.pid):
        assert any(path == t or path.startswith(t + "/") for t in tmpfs), f"{path} is not on a tmpfs"
    # The image installs the packages the tests run (scripts/install-debs.sh).
    dockerfile = (ROOT / proxy["build"]["context"] / "Dockerfile").read_text()
    debs = (ROOT / "scripts" / "install-debs.sh").read_text()
    for package in ("nginx-light", "libnginx-mod-http-brotli-filter"):
        assert package in dockerfile and package in debs, package


# -------------------------------------------------------------------------------- files
def test_referenced_deploy_files_exist(compose, services):
    named = set(compose.get("volumes") or {})
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            context = ROOT / build["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: Dockerfile"
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in named, f"{name}: volume {source} is not declared"


def _copies(dockerfile: Path) -> list[str]:
    return [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("COPY ")]


def test_dockerfiles_copy_what_exists():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for src in _copies(DEPLOY / "Dockerfile"):
        assert (ROOT / src).exists(), src
        assert f"!{src}" in ignore or f"!{src}/" in ignore, f".dockerignore leaves {src} out of the context"
    for src in _copies(DEPLOY / "postgres" / "Dockerfile"):
        assert (DEPLOY / "postgres" / src).is_file(), src
    assert "!.env" not in ignore


def _conf(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.strip().partition(" ")
            out.setdefault(key, []).append(value)
    return out


def test_mosquitto_conf(services, tmp_path):
    conf = _conf(MOSQUITTO_CONF.read_text())
    assert conf["allow_anonymous"] == ["false"]
    assert conf["persistence"] == ["true"]
    assert conf["use_username_as_clientid"] == ["true"]
    assert conf["listener"] == ["1883 0.0.0.0"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["mosquitto"]["volumes"]}
    assert mounts["/mosquitto/config/mosquitto.conf"] == "./deploy/mosquitto/mosquitto.conf"
    assert mounts["/mosquitto/auth"] == "mosquitto-auth"
    assert conf["password_file"] == ["/mosquitto/auth/passwd"] and conf["acl_file"] == ["/mosquitto/auth/acl"]
    assert (
        conf["persistence_location"] == ["/mosquitto/data/"] and mounts["/mosquitto/data"] == "mosquitto-data"
    )
    # The same broker settings as the local stack, apart from where things are.
    local = LocalStack(Settings(_env_file=None, GISAPP_DATA_DIR=str(tmp_path))).write_mosquitto_conf()
    placed = {"listener", "password_file", "acl_file", "persistence_location", "user"}
    expected = {k: v for k, v in _conf(local.read_text()).items() if k not in placed}
    assert {k: v for k, v in conf.items() if k not in placed} == expected


# ------------------------------------------------------------------------ docker compose
def _compose_cli() -> list[str] | None:
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_validates(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "neither the docker compose plugin nor docker-compose is installed: compose's own check skipped"
        )
    env_file = tmp_path / "empty.env"  # never the developer's .env
    env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if not SECRET_RE.search(k)}
    env |= {k: dummy(k) for k in env_example() if SECRET_RE.search(k)}
    argv = [*cli, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"]
    ok = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    missing = subprocess.run(
        argv,
        env={k: v for k, v in env.items() if k != PUBLIC_SECRET},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert missing.returncode != 0 and PUBLIC_SECRET in missing.stderr, missing.stderr


# ------------------------------------------------------- with the local PostgreSQL / Mosquitto
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as(user: str, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if os.geteuid() == 0 else argv


def _give(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """Under /tmp and traversable: the postgres and mosquitto users must reach it as root."""
    root = Path(tempfile.mkdtemp(prefix="gisapp-compose-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def cluster(world_dir: Path) -> Iterator[tuple[Path, int]]:
    """An empty PostgreSQL cluster, as the postgres image has it when the init scripts run."""
    bindir = Settings(_env_file=None, GISAPP_DATA_DIR=str(world_dir / "none")).pg_bindir
    if not (bindir / "initdb").exists() or not shutil.which("psql"):
        pytest.skip(f"PostgreSQL 15 binaries not found in {bindir} (make deps installs them)")
    pgdata, sock, log = world_dir / "pg", world_dir / "sock", world_dir / "pg.log"
    for d in (pgdata, sock):
        d.mkdir(mode=0o700)
        _give(d, "postgres")
    log.touch()
    _give(log, "postgres")

    def pg(tool: str, args: str) -> subprocess.CompletedProcess:
        return subprocess.run(_as("postgres", [str(bindir / tool), *shlex.split(args)]), capture_output=True)

    auth = "--auth-local=trust --auth-host=scram-sha-256"  # the image: trust on the socket only
    pg("initdb", f"-D {pgdata} -U postgres {auth} -E UTF8 --locale=C.UTF-8 --no-sync").check_returncode()
    port = _free_port()
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sock} -c fsync=off"
    pg("pg_ctl", f"-D {pgdata} -l {log} -w -o {shlex.quote(opts)} start").check_returncode()
    try:
        yield sock, port
    finally:
        pg("pg_ctl", f"-D {pgdata} -m immediate stop")


def _run_init(sock: Path, port: int, passwords: dict[str, str]) -> subprocess.CompletedProcess:
    env = [f"PGHOST={sock}", f"PGPORT={port}", *(f"{k}={v}" for k, v in passwords.items())]
    return subprocess.run(
        _as("postgres", ["env", "-i", f"PATH={os.environ['PATH']}", *env, "bash", str(INIT_SCRIPT)]),
        capture_output=True,
        text=True,
    )


def _init_passwords() -> dict[str, str]:
    """The secrets the PostGIS init script reads (deploy/postgres/initdb/20-gisapp.sh)."""
    names = ("POSTGRES_PASSWORD", "PG_OWNER_PASSWORD", "PG_APP_PASSWORD", PUBLIC_SECRET, REPLICATION_SECRET)
    return {k: dummy(k) for k in names}


@pytest.mark.slow
def test_postgres_init_script_then_migrations(cluster, world_dir):
    sock, port = cluster
    pw = _init_passwords()
    bad = _run_init(sock, port, {**pw, "PG_APP_PASSWORD": "has spaces and @"})
    assert bad.returncode != 0 and "PG_APP_PASSWORD" in bad.stderr
    first = _run_init(sock, port, pw)
    assert first.returncode == 0, first.stderr
    rotated = {**pw, "PG_APP_PASSWORD": "rotated-" + pw["PG_APP_PASSWORD"]}
    again = _run_init(sock, port, rotated)  # a re-run is how passwords are rotated
    assert again.returncode == 0, again.stderr

    def connect(user: str, password: str) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=port, user=user, password=password, dbname="gisapp", autocommit=True
        )

    url = f"postgresql+psycopg://gisapp_owner:{pw['PG_OWNER_PASSWORD']}@127.0.0.1:{port}/gisapp"
    migrate.upgrade(
        Settings(_env_file=None, GISAPP_DATA_DIR=str(world_dir / "none"), MIGRATION_DATABASE_URL=url)
    )
    with connect("postgres", pw["POSTGRES_PASSWORD"]) as conn:
        exts = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert {"postgis", "pgrouting"} <= exts
    with connect("gisapp_app", rotated["PG_APP_PASSWORD"]) as conn:
        conn.execute("SELECT count(*) FROM gis.layer")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect("gisapp_app", pw["PG_APP_PASSWORD"]).close()
    with connect("gisapp_public", pw[PUBLIC_SECRET]) as conn:
        conn.execute("SELECT count(*) FROM pub.layer")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM gis.layer")


@pytest.mark.slow
def test_replica_entrypoint_clones_a_hot_standby(cluster, world_dir):
    """deploy/postgres/replica-entrypoint.sh, as the replica container runs it (minus the drop from root
    to postgres), against a primary set up by the init script: slot, pg_basebackup, hot standby."""
    sock, port = cluster
    pw = _init_passwords()
    for _ in range(2):  # a re-run (password rotation) adds no second pg_hba.conf line
        init = _run_init(sock, port, pw)
        assert init.returncode == 0, init.stderr
    bindir = Settings(_env_file=None, GISAPP_DATA_DIR=str(world_dir / "none")).pg_bindir
    pgdata, rsock, log = world_dir / "replica", world_dir / "rsock", world_dir / "replica.log"
    for d in (pgdata, rsock):
        d.mkdir(mode=0o700)
        _give(d, "postgres")
    rport = _free_port()
    env = [
        f"PATH={bindir}:{os.environ['PATH']}",
        f"PGDATA={pgdata}",
        "PRIMARY_HOST=127.0.0.1",
        f"PRIMARY_PORT={port}",
        f"{REPLICATION_SECRET}={pw[REPLICATION_SECRET]}",
    ]
    args = ["-p", str(rport), "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={rsock}"]
    argv = _as("postgres", ["env", "-i", *env, "bash", str(REPLICA_SCRIPT), *args])
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def standby() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=rport,
                user="postgres",
                password=pw["POSTGRES_PASSWORD"],
                dbname="gisapp",
            ) as conn:
                return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        except psycopg.OperationalError:
            return False

    try:
        wait_until(standby, 60, interval=0.3)
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", password=pw["POSTGRES_PASSWORD"], dbname="postgres"
        ) as conn:
            slot = conn.execute("SELECT slot_name FROM pg_replication_slots WHERE active").fetchall()
            assert slot == [("gisapp_replica",)]
            assert conn.execute("SHOW max_slot_wal_keep_size").fetchone()[0] == "2GB"
            hba = conn.execute("SHOW hba_file").fetchone()[0]
        lines = Path(hba).read_text().splitlines()
        assert lines.count("host replication gisapp_replicator all scram-sha-256") == 1
    finally:
        proc.terminate()
        proc.wait(30)


def _init_auth():
    spec = importlib.util.spec_from_file_location("init_auth", DEPLOY / "mosquitto" / "init_auth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mosquitto_auth_files_keep_devices_and_rotate_ingest(tmp_path, monkeypatch):
    init_auth = _init_auth()
    device = f"R001:{mosquitto_hash('device-pw')}\n"
    (tmp_path / "passwd").write_text(device)
    assert init_auth.sync(tmp_path, "first-password-0123") == ["passwd", "acl"]
    assert init_auth.sync(tmp_path, "first-password-0123") == []  # unchanged: nothing rewritten
    assert init_auth.sync(tmp_path, "second-password-0123") == ["passwd"]
    accounts = {a.username: a for a in init_auth.read_accounts(tmp_path / "passwd")}
    assert set(accounts) == {INGEST_MQTT_USER, "R001"} and device.strip() in (tmp_path / "passwd").read_text()
    assert verify("second-password-0123", accounts[INGEST_MQTT_USER].password_hash)
    assert f"user {INGEST_MQTT_USER}" in (tmp_path / "acl").read_text()
    assert (tmp_path / "passwd").stat().st_mode & 0o777 == 0o600
    for unusable in ("", "short", "has spaces and @ in it"):  # refused with a message, files untouched
        monkeypatch.setenv("MQTT_INGEST_PASSWORD", unusable)
        assert init_auth.main(["init_auth.py", str(tmp_path)]) == 1
    accounts = {a.username: a for a in init_auth.read_accounts(tmp_path / "passwd")}
    assert verify("second-password-0123", accounts[INGEST_MQTT_USER].password_hash)


def _connack(port: int, username: str, password: str):
    answered, result = threading.Event(), {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        result["rc"] = reason_code
        answered.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=5)
    deadline = time.monotonic() + 5
    while not answered.is_set() and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    assert answered.is_set(), f"no CONNACK from the broker on port {port}"
    return result["rc"]


@pytest.mark.slow
def test_mosquitto_runs_with_the_compose_config(services, world_dir):
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.skip("mosquitto not installed (make deps installs it)")
    auth, data = world_dir / "auth", world_dir / "data"
    auth.mkdir()
    data.mkdir()
    _give(data, "mosquitto")
    uid = pwd.getpwnam("mosquitto").pw_uid if os.geteuid() == 0 else None
    password = dummy("MQTT_INGEST_PASSWORD")
    _init_auth().sync(auth, password, uid)
    port = _free_port()
    text = (
        MOSQUITTO_CONF.read_text()
        .replace("/mosquitto/auth/", f"{auth}/")
        .replace("/mosquitto/data/", f"{data}/")
    )
    conf = world_dir / "mosquitto.conf"
    conf.write_text(text.replace("listener 1883 0.0.0.0", f"listener {port} 127.0.0.1"))
    with (world_dir / "mosquitto.log").open("w") as log:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or _port_open(port), 10)
        assert proc.poll() is None, (world_dir / "mosquitto.log").read_text()
        assert check_broker(f"mqtt://127.0.0.1:{port}").detail == "up, anonymous refused"
        assert not _connack(port, INGEST_MQTT_USER, password).is_failure
        assert _connack(port, INGEST_MQTT_USER, "wrong-password-0123").is_failure
        if shutil.which("mosquitto_sub"):  # the compose healthcheck, as the container runs it
            check = services["mosquitto"]["healthcheck"]["test"][1].replace("-p 1883", f"-p {port}")
            assert subprocess.run(["sh", "-c", check]).returncode == 0, check
    finally:
        proc.terminate()
        proc.wait(10)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
