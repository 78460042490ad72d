"""The `gisapp` command line."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from gisapp import cli_audit, cli_devices, cli_evac, cli_import, cli_jma, cli_layers, cli_raster, logs
from gisapp.localstack import LocalStack, StackError
from gisapp.settings import Settings, get_settings

app = typer.Typer(
    help="gisapp: 公開型GIS・統合型GIS・災害対策本部 / public & integrated GIS, disaster HQ",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
demo_app = typer.Typer(help="Demo data / デモデータ", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts / 職員アカウント", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")

log = logging.getLogger("gisapp.cli")


def _settings(*, interactive: bool = True) -> Settings:
    """Settings, with logging set up. A command a person runs at a terminal (interactive) shows
    warnings and errors only: its own output is the lines it prints. The long-running processes
    (serve, ingest) log at LOG_LEVEL, structured, into their log files."""
    s = get_settings()
    level = s.log_level
    if interactive and logging.getLevelName(level.upper()) < logging.WARNING:
        level = "WARNING"
    logs.configure(level, s.log_format)
    return s


def _fail(e: Exception) -> None:
    typer.secho(str(e), fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


# ------------------------------------------------------------------------ local stack
@app.command()
def up(
    demo: Annotated[bool, typer.Option(help="Load the demo data / デモデータを読み込む")] = False,
    simulate: Annotated[bool, typer.Option(help="Start the device simulators / 機器シミュレーター")] = False,
    scale: Annotated[int, typer.Option(min=1, max=100, help="Demo data multiplier")] = 1,
    quiet_day: Annotated[
        bool,
        typer.Option(
            help="With --demo: a quiet day (no disaster) instead of the demo storm / 平常時の状態で起動"
        ),
    ] = False,
    serve: Annotated[bool, typer.Option(help="Start the API servers and the ingest worker")] = True,
    replica: Annotated[
        bool,
        typer.Option(
            help="Also a hot standby (GISAPP_REPLICA_PG_PORT) that the citizen-facing instance reads"
        ),
    ] = False,
    workers: Annotated[
        int | None, typer.Option(min=1, max=8, help="Processes per web instance (GISAPP_WEB_WORKERS)")
    ] = None,
    ingest_workers: Annotated[
        int | None,
        typer.Option(min=1, max=8, help="Ingest workers sharing the MQTT stream (GISAPP_INGEST_WORKERS)"),
    ] = None,
) -> None:
    """Start the local stack (PostGIS + Mosquitto under GISAPP_DATA_DIR), then the app processes."""
    s = _settings()
    stack = LocalStack(s)
    try:
        stack.check_prerequisites()
        typer.echo("PostgreSQL/PostGIS を起動中 / starting PostgreSQL/PostGIS …")
        stack.start_postgres()
        s = Settings()  # the secrets file now exists: connection URLs resolve to the local stack
        s.web_workers = workers or s.web_workers
        s.ingest_workers = ingest_workers or s.ingest_workers
        added = stack.ensure_ingest_accounts(s.ingest_workers)
        _migrate(s, say=False)
        if replica:
            typer.echo("レプリカを起動中 / starting the replica (pg_basebackup on first use) …")
            stack.start_replica()
            s = Settings(GISAPP_PUBLIC_READS="replica")
        typer.echo("Mosquitto を起動中 / starting Mosquitto …")
        if not stack.start_mosquitto(_device_accounts(s)) and added:
            _sync_broker(s, stack)  # already running: it learns the new ingest accounts
        story = None
        if demo:
            story = _demo_load(s, scale, quiet_day=quiet_day)
            _sync_broker(s, stack)
        if serve:
            _start_app_processes(s, stack, simulate=simulate)
    except StackError as e:
        _fail(e)
    _print_urls(s, stack, demo=demo, story=story)


@app.command()
def down(
    drop_replica: Annotated[
        bool, typer.Option(help="Also delete the replica and its slot (the primary then keeps no WAL for it)")
    ] = False,
) -> None:
    """Stop everything `gisapp up` started (no process is left behind)."""
    stack = LocalStack(_settings())
    if drop_replica and stack.remove_replica():
        typer.echo("レプリカを削除しました / replica and its slot removed")
    stopped = stack.stop()
    left = {k: v for k, v in stack.status().items() if v}
    typer.echo(f"停止しました / stopped: {', '.join(stopped) or '(nothing was running)'}")
    if left:
        _fail(RuntimeError(f"still running: {left}"))


@app.command()
def status() -> None:
    """Which local-stack processes are running."""
    stack = LocalStack(_settings())
    for name, pid in stack.status().items():
        typer.echo(f"{name:12} {'running pid ' + str(pid) if pid else 'stopped'}")


def _start_app_processes(s: Settings, stack: LocalStack, *, simulate: bool) -> None:
    from gisapp.localstack import procs

    env = {
        **os.environ,
        "GISAPP_DATA_DIR": str(s.data_dir.resolve()),
        "GISAPP_PUBLIC_READS": s.public_reads,
        "GISAPP_WEB_WORKERS": str(s.web_workers),
        "GISAPP_INGEST_WORKERS": str(s.ingest_workers),
    }
    py = sys.executable
    cli = [py, "-m", "gisapp.cli"]
    wanted = {
        "api": [*cli, "serve", "--port", str(s.http_port)],
        "public-api": [
            *cli,
            "serve",
            "--public",
            "--port",
            str(s.public_http_port),
            "--workers",
            str(s.public_workers()),
        ],
    }
    for k in range(1, s.ingest_workers + 1):  # each with its own broker account and durable session
        wanted["ingest" if k == 1 else f"ingest-{k}"] = [*cli, "ingest", "--worker", str(k)]
    if simulate:
        # The demo story's storm and radio reports (published when their time comes) while a story is
        # loaded (`gisapp demo load` writes the file, a quiet day deletes it); otherwise the simulator's
        # own storm.
        from gisapp.demo_story import STORY_FILE

        story_file = stack.data_dir / STORY_FILE
        story_file = story_file if story_file.exists() else None
        live = ["--story", str(story_file)] if story_file is not None else ["--gauges"]
        wanted["simulator"] = [py, "-m", "sensors.simulate", *live]
        _restart_if_changed(stack, "simulator", wanted["simulator"])
        if story_file is not None:  # the story's kiosks (check-ins go through the domain, not MQTT)
            wanted["demo-live"] = [*cli, "demo", "live", str(story_file)]
        else:  # a quiet day: no story, no story's kiosks
            procs.stop(stack.run_dir / "demo-live.pid")
    if s.jma_feed_urls:  # GISAPP_JMA_FEED_URL: the JMA PULL feed poller (docs/evacuation-info.md)
        wanted["jma-poller"] = [*cli, "jma", "poll"]
    ports = {
        "api": (s.http_port, "GISAPP_HTTP_PORT"),
        "public-api": (s.public_http_port, "GISAPP_PUBLIC_HTTP_PORT"),
    }
    for name, argv in wanted.items():
        pidfile = stack.run_dir / f"{name}.pid"
        if procs.read_pid(pidfile):
            continue
        if name in ports:
            stack.check_port(ports[name][0], ports[name][1], pidfile)
        procs.spawn(name, argv, stack.run_dir, stack.log_dir, env=env)
    for name, (port, _) in ports.items():
        if not _wait_http(f"http://127.0.0.1:{port}/healthz", 60):
            raise StackError(
                f"{name} が起動しません。ログ: {stack.log_dir / (name + '.log')}",
                f"{name} did not come up. See {stack.log_dir / (name + '.log')}.",
            )


def _restart_if_changed(stack: LocalStack, name: str, argv: list[str]) -> None:
    """A running process started with other arguments (the demo story after a quiet day, or the
    reverse) is stopped, so that it is started again with these."""
    from gisapp.localstack import procs

    pidfile, argv_file = stack.run_dir / f"{name}.pid", stack.run_dir / f"{name}.argv"
    wanted = json.dumps(argv)
    if procs.read_pid(pidfile) and argv_file.exists() and argv_file.read_text() != wanted:
        procs.stop(pidfile)
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    argv_file.write_text(wanted)


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return r.status == 200
        except urllib.error.HTTPError as e:
            if e.code == 503:  # up, something degraded: still up
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _print_urls(s: Settings, stack: LocalStack, *, demo: bool, story=None) -> None:
    host = "127.0.0.1"
    typer.echo("")
    typer.secho("gisapp が起動しました / gisapp is running", fg=typer.colors.GREEN, bold=True)
    typer.echo(f"  市民向け地図 Citizen map : http://{host}:{s.public_http_port}/")
    typer.echo(f"  本部地図 HQ map          : http://{host}:{s.http_port}/hq")
    typer.echo(f"  統合型GIS staff GIS      : http://{host}:{s.http_port}/gis")
    typer.echo(f"  通報・事前登録 Report / register : http://{host}:{s.public_http_port}/report  /register")
    typer.echo(f"  避難所受付 Shelter kiosk : http://{host}:{s.http_port}/kiosk")
    typer.echo(f"  API docs                 : http://{host}:{s.http_port}/docs")
    typer.echo(f"  health                   : http://{host}:{s.http_port}/healthz")
    if s.jma_feed_urls:
        typer.echo(f"  気象庁フィード JMA feed  : {', '.join(s.jma_feed_urls)} (gisapp jma status)")
    if s.public_reads == "replica":
        typer.echo(f"  レプリカ read replica    : 127.0.0.1:{s.replica_pg_port} (citizen map reads it)")
    users = stack.data_dir / "demo-users.json"
    if demo and users.exists():
        names = ", ".join(json.loads(users.read_text()))
        typer.echo(f"  デモ用ログイン Demo logins : {names}  — パスワード passwords: {users}")
        typer.echo("    本部地図は hq（本部オペレーター）で / log in to the HQ map as hq (HQ operator)")
    if story is not None and story.disaster_id is not None:
        _print_what_to_look_at(story, host, s)
    typer.echo(f"  停止 Stop: gisapp down   (data: {stack.data_dir})")


def _print_what_to_look_at(story, host: str, s: Settings) -> None:
    hq, public = f"http://{host}:{s.http_port}", f"http://{host}:{s.public_http_port}"
    typer.echo("")
    typer.secho("見どころ / What to look at", bold=True)
    typer.echo(f"  {story.disaster_name}")
    for line in (
        f"本部地図 {hq}/hq : 進行中の災害、上昇する雨量・水位計、避難指示（発令済みと提案中）、埋まっていく避難所、事案",
        "    HQ map: the disaster, gauges climbing, the issued order and an open suggestion, shelters filling",
        f"市民向け地図 {public}/ : 避難情報のバナーと開設避難所の混雑 / the citizen map: banner, open shelters",
        f"通報の確認 {hq}/hq/reports : 市民通報が1件、判断待ち / one citizen report waits for moderation",
        "これから1時間、雨・水位・無線の事案が届き続けます / for the next hour rain, river levels and radio"
        " reports keep arriving",
    ):
        typer.echo(f"  {line}")
    for notice in story.notices:
        typer.echo(f"  ※ {notice}")


# ------------------------------------------------------------------------ processes
@app.command()
def serve(
    public: Annotated[bool, typer.Option(help="Citizen-facing instance: public routes only")] = False,
    host: Annotated[str | None, typer.Option(help="Bind address (default GISAPP_HOST)")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default GISAPP_HTTP_PORT / _PUBLIC_HTTP_PORT)")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=8, help="Worker processes (default GISAPP_WEB_WORKERS, 1)")
    ] = None,
) -> None:
    """Run the web app (JSON API, pages, OGC API) in one or more processes."""
    import uvicorn

    if workers:  # the worker processes read it too: each sizes its database pool by it
        os.environ["GISAPP_WEB_WORKERS"] = str(workers)
        get_settings.cache_clear()
    s = _settings(interactive=False)
    # uvicorn's own multi-process mode: each process imports the factory and builds its app (and its
    # pool, and its LISTEN connection for live events); they share the listening socket.
    uvicorn.run(
        f"gisapp.app:{'create_public_app' if public else 'create_internal_app'}",
        factory=True,
        workers=s.web_workers,
        host=host or s.bind_host,
        port=port or (s.public_http_port if public else s.http_port),
        log_config=None,
        proxy_headers=bool(s.forwarded_allow_ips),
        forwarded_allow_ips=s.forwarded_allow_ips,
        # On SIGTERM, requests in flight get this long; then the live-event streams, which never end
        # by themselves, are cut (the HQ map reconnects). Without it a stop waits for every HQ client.
        timeout_graceful_shutdown=5,
        # The standard library's event loop, not uvloop: with one process saturated by 500 keep-alive
        # connections (bench/citizen_surge.py), uvloop left some connections waiting for seconds
        # (p95 2.9-3.4 s, p99 7 s, a new connection's first answer 12 s) where asyncio's loop serves
        # them all alike (p95 150-240 ms, p99 210-580 ms) at the same throughput.
        loop="asyncio",
    )


@app.command()
def ingest(
    worker: Annotated[
        int | None,
        typer.Option(
            min=1, max=8, help="Which of GISAPP_INGEST_WORKERS this is (default GISAPP_INGEST_WORKER, 1)"
        ),
    ] = None,
) -> None:
    """Run the MQTT ingest worker until SIGTERM / Ctrl-C, then drain and stop."""
    from gisapp.db import make_engine
    from gisapp.ops import radio_reports
    from ingest.worker import IngestWorker

    s = _settings(interactive=False)
    if worker and worker != s.ingest_worker:
        s = Settings(ingest_worker=worker)  # its own broker account (local stack)
    if s.ingest_worker > s.ingest_workers:
        _fail(
            ValueError(
                f"--worker {s.ingest_worker} は GISAPP_INGEST_WORKERS={s.ingest_workers} を超えています / "
                f"--worker {s.ingest_worker} is beyond GISAPP_INGEST_WORKERS={s.ingest_workers}."
            )
        )
    if not s.mqtt_url:
        _fail(
            RuntimeError(
                "MQTT_URL が未設定です（`gisapp up --ingest-workers N` がワーカーごとのアカウントを作ります）/ "
                "MQTT_URL is not set (`gisapp up --ingest-workers N` makes each worker's broker account)."
            )
        )
    name = "gisapp-ingest" if s.ingest_worker == 1 else f"gisapp-ingest-{s.ingest_worker}"
    consumer = IngestWorker(
        make_engine(s.database_url, application_name=name),
        s.mqtt_url,
        radio_reports=radio_reports,
        batch_size=s.ingest_batch_size,
        batch_wait=s.ingest_batch_wait_ms / 1000,
        shared=s.ingest_workers > 1,
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: consumer.stop())
    consumer.run()


@app.command()
def migrate(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the database migrations (Alembic)."""
    _migrate(_settings(), revision)


def _migrate(s: Settings, revision: str = "head", *, say: bool = True) -> None:
    from gisapp import migrate as m

    logging.getLogger("alembic").setLevel(logging.WARNING)
    m.upgrade(s, revision)
    if say:
        typer.echo(f"マイグレーション適用 / migrated to {revision}")


# ------------------------------------------------------------------------ demo, users
@demo_app.command("load")
def demo_load(
    scale: Annotated[int, typer.Option(min=1, max=100, help="Multiply the counts")] = 1,
    quiet_day: Annotated[
        bool, typer.Option(help="No disaster: close the demo disaster instead of loading the story")
    ] = False,
) -> None:
    """Load the deterministic, fictitious demo data for 伊勢原市 and the demo disaster in progress
    (a second run adds nothing; --quiet-day: the state of a day without a disaster)."""
    s = _settings()
    _demo_load(s, scale, quiet_day=quiet_day)
    stack = LocalStack(s)
    if stack.mqtt_pidfile.exists():
        _sync_broker(s, stack)


@demo_app.command("live")
def demo_live(
    story_file: Annotated[Path, typer.Argument(help="demo-story.json (written by `gisapp demo load`)")],
) -> None:
    """The demo story's kiosk check-ins as they fall due, until SIGTERM (`gisapp up --demo --simulate`
    runs it; the simulator publishes the storm and the radio reports)."""
    import threading

    from gisapp import demo_story
    from gisapp.db import make_engine

    s = _settings(interactive=False)
    engine = make_engine(s.database_url, pool_size=1, application_name="gisapp-demo-live")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        done = demo_story.run_live(engine, story_file, stop)
    finally:
        engine.dispose()
    log.info("demo live stopped", extra={"checkins": done})


def _demo_load(s: Settings, scale: int, *, quiet_day: bool = False):
    """The demo data, then the story (or a quiet day); the story's result, or None on a quiet day."""
    from gisapp import demo, demo_story
    from gisapp.db import make_engine

    t0 = time.monotonic()
    engine = make_engine(s.database_url)
    data_dir = s.data_dir.resolve()
    try:
        result = demo.load(engine, data_dir, scale=scale)
        if quiet_day:
            closed = demo_story.quiet_day(engine, data_dir)
            story = None
        else:
            story = demo_story.load_story(engine, data_dir)
    finally:
        engine.dispose()
    c = result.counts
    typer.echo(
        f"デモデータ / demo data ({time.monotonic() - t0:.1f}s): 避難所 shelters {c.get('shelters', 0)}, "
        f"要支援者 people {c.get('people-needing-help', 0)}, 機器 devices {c.get('devices', 0)}"
    )
    if story is None:
        typer.echo("平常時（災害なし）/ quiet day: no disaster" + (f" ({closed} closed)" if closed else ""))
        return None
    n = story.counts
    i = n["incidents"]
    typer.echo(
        f"{'デモの災害を開設 / demo disaster opened' if story.created else 'デモの災害 / demo disaster'}: "
        f"事案 incidents 未対応 {i['unhandled']}・対応中 {i['in_progress']}・対応済 {i['done']}, "
        f"避難所 shelters {n['shelters_open']} ({n['occupancy']} 名 people), "
        f"出動中 units out {n['units_out']}"
    )
    typer.echo(f"  {story.source_ja}")
    return story


def _device_accounts(s: Settings):
    from gisapp.db import make_engine
    from sensors.registry import broker_accounts

    engine = make_engine(s.database_url)
    try:
        with engine.connect() as conn:
            return broker_accounts(conn)
    finally:
        engine.dispose()


def _sync_broker(s: Settings, stack: LocalStack) -> None:
    """Regenerate Mosquitto's password/ACL files from the registry and make the broker reload."""
    from sensors.broker import reload_broker

    stack.write_broker_accounts(_device_accounts(s))
    reload_broker(stack.mqtt_pidfile)


@users_app.command("add")
def users_add(
    username: str,
    display_name: Annotated[str, typer.Option("--name")],
    role: Annotated[list[str], typer.Option("--role", help="staff | hq_operator | welfare | admin")],
    department: Annotated[str | None, typer.Option(help="Department code")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input")] = False,
) -> None:
    """Create or update a staff account (prints a generated password unless --password-stdin)."""
    import secrets

    from gisapp import auth
    from gisapp.db import make_engine

    s = _settings()
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    engine = make_engine(s.database_url)
    try:
        with engine.begin() as conn:
            dept_id = department_id(conn, department)
            auth.create_user(conn, username.lower(), display_name, password, role, dept_id, actor="cli")
    except ValueError as e:
        _fail(e)
    finally:
        engine.dispose()
    if not password_stdin:
        typer.echo(f"{username}: {password}")


@users_app.command("unlock")
def users_unlock(
    username: Annotated[
        str | None, typer.Argument(help="Account to unlock / ロック解除するユーザー名")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Client address (IP) to unlock instead")] = None,
) -> None:
    """Lift a login lock (after failed passwords) on an account or an address, and clear its count."""
    from gisapp import login_throttle
    from gisapp.db import make_engine, transaction

    if bool(username) == bool(address):
        _fail(
            ValueError("ユーザー名か --address のどちらかを指定してください / give a username or --address")
        )
    s = _settings()
    if username:
        scope, key = "account", login_throttle.account_key(username)
    else:
        scope, key = "address", login_throttle.address_key(login_throttle.key_secret(s), address.strip())
    engine = make_engine(s.database_url)
    try:
        with transaction(engine) as conn:
            was_locked = login_throttle.unlock(conn, scope, key, actor="cli")
    finally:
        engine.dispose()
    what = username or address
    typer.echo(
        f"ロック解除 / unlocked: {what}" if was_locked else f"ロックなし / not locked: {what} (count cleared)"
    )


@users_app.command("locks")
def users_locks() -> None:
    """Login locks in force now (accounts by name, addresses by the start of their keyed hash)."""
    from gisapp import login_throttle
    from gisapp.db import make_engine

    engine = make_engine(_settings().database_url)
    try:
        with engine.connect() as conn:
            locks = login_throttle.active_locks(conn)
    finally:
        engine.dispose()
    if not locks:
        typer.echo("ロックなし / no locks")
    for lock in locks:
        typer.echo(f"{lock['key']}  failures={lock['failures']}  {lock['seconds_left']} s left")


cli_import.register(app)
cli_devices.register(app)
cli_audit.register(app)
cli_jma.register(app)
cli_layers.register(app)
cli_raster.register(app)
cli_evac.register(app)


def department_id(conn, code: str | None) -> int | None:
    """The id of a department given by its code on the command line (exit 1 when there is none)."""
    from sqlalchemy import text

    if not code:
        return None
    found = conn.execute(
        text("SELECT id FROM core.department WHERE code = :c"), {"c": code}
    ).scalar_one_or_none()
    if found is None:
        _fail(LookupError(f"部署がありません / no such department: {code}"))
    return found


def main() -> None:
    app()


if __name__ == "__main__":
    main()
