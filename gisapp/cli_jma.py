"""`gisapp jma import FILE…` and `gisapp jma poll`: JMA 防災情報XML in (docs/evacuation-info.md).

`import` is for telegrams that arrive by other channels (a network cut off from the internet: a
USB stick, a mail gateway, a 防災行政 system's export). Each file is its own transaction; a bad file
changes nothing and makes the exit status 1, after the others were read.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

jma_app = typer.Typer(help="気象庁防災情報XML / JMA disaster-information telegrams", no_args_is_help=True)


def _engine(name: str, *, interactive: bool = True):
    from gisapp.cli import _fail, _settings
    from gisapp.db import DatabaseNotConfigured, make_engine

    s = _settings(interactive=interactive)  # the poller is a server process: it logs at LOG_LEVEL
    try:
        return s, make_engine(s.database_url, pool_size=2, application_name=name)
    except DatabaseNotConfigured as e:
        _fail(e)


@jma_app.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(help="電文 XML ファイル / telegram XML files", exists=False)],
) -> None:
    """電文ファイルを取り込む / store telegram files (exit 1 if any file is bad; bad files change nothing)."""
    from gisapp.ops import jma
    from ingest import jmaxml

    s, engine = _engine("gisapp-jma-import")
    bad = 0
    for path in files:
        try:
            if path.stat().st_size > jmaxml.MAX_BYTES:
                raise jmaxml.TelegramError(
                    f"ファイルが大きすぎます（上限 {jmaxml.MAX_BYTES} バイト）。",
                    f"The file is too large (limit {jmaxml.MAX_BYTES} bytes).",
                )
            data = path.read_bytes()
            stored = jma.store(
                engine, data, source=f"file:{path.name}", area_codes=s.jma_area_code_list, actor="cli"
            )
        except OSError as e:
            bad += 1
            typer.secho(f"{path}: 読めません / cannot read: {e.strerror or e}", fg=typer.colors.RED, err=True)
            continue
        except jmaxml.TelegramError as e:
            bad += 1
            typer.secho(f"{path}: {e.ja} / {e.en}", fg=typer.colors.RED, err=True)
            continue
        ja, en = stored.describe()
        typer.echo(f"{path}: {ja} / {en}")
    engine.dispose()
    if bad:
        raise typer.Exit(1)


@jma_app.command("poll")
def poll(
    url: Annotated[
        list[str] | None, typer.Option(help="フィード URL（既定 GISAPP_JMA_FEED_URL）/ feed URL (repeatable)")
    ] = None,
    once: Annotated[bool, typer.Option(help="1回だけ取得 / poll once, exit 1 if it failed")] = False,
    interval: Annotated[
        int | None,
        typer.Option(min=10, max=3600, help="間隔（秒）/ seconds between polls (GISAPP_JMA_POLL_INTERVAL)"),
    ] = None,
) -> None:
    """JMA PULL の Atom フィードを取得 / poll the JMA PULL Atom feed(s) until SIGTERM / Ctrl-C."""
    from gisapp import jma_feed
    from gisapp.cli import _fail

    s, engine = _engine("gisapp-jma-poller", interactive=False)
    urls = url or s.jma_feed_urls
    if not urls:
        _fail(
            ValueError(
                "フィード URL がありません（--url か GISAPP_JMA_FEED_URL）/ no feed URL (--url or GISAPP_JMA_FEED_URL)."
            )
        )
    if once:
        results = [
            jma_feed.poll_once(
                engine,
                u,
                area_codes=s.jma_area_code_list,
                stale_minutes=s.jma_stale_minutes,
                offices=s.jma_office_list,
            )
            for u in urls
        ]
        for r in results:
            state = "304 変更なし / not modified" if r.not_modified else (r.error or "ok")
            typer.echo(f"{r.url}: {state}")
            for entry, outcome in r.outcomes.items():
                typer.echo(f"  {entry}: {outcome}")
        engine.dispose()
        if not all(r.ok for r in results):
            raise typer.Exit(1)
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    jma_feed.run(
        engine,
        urls,
        area_codes=s.jma_area_code_list,
        stale_minutes=s.jma_stale_minutes,
        interval=interval or s.jma_poll_interval,
        stop=stop,
        offices=s.jma_office_list,
    )
    engine.dispose()


@jma_app.command("status")
def status() -> None:
    """フィードの状態と発表中の情報 / the feeds' state and the conditions in force (exit 1: a feed in error or stale)."""
    from gisapp.db import read_only
    from gisapp.ops import jma_feeds

    s, engine = _engine("gisapp-jma-status")
    with read_only(engine) as conn:
        body = jma_feeds.status(conn, s.jma_feed_urls, s.jma_stale_minutes, s.jma_area_code_list)
    engine.dispose()
    typer.echo(f"対象地域 areas: {', '.join(body['area_codes']) or '(なし / none)'}")
    for f in body["feeds"]:
        state = "STALE " if f["stale"] else ""
        typer.echo(f"フィード feed {f['url']}: {state}{f['error'] or 'ok'} (last ok {f['ok_at'] or '-'})")
    if not body["feeds"]:
        typer.echo("フィードなし / no feed (GISAPP_JMA_FEED_URL)")
    for c in body["conditions"]:
        level = f"警戒レベル{c['alert_level']}相当" if c["alert_level"] else "-"
        cond = f"({c['condition']})" if c["condition"] else ""
        typer.echo(f"  {c['area_name']} {c['kind_name']}{cond} {c['status']} [{level}] since {c['since']}")
    if not body["conditions"]:
        typer.echo("発表中の情報なし / nothing in force")
    if any(f["stale"] or f["error"] for f in body["feeds"]):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(jma_app, name="jma")
