"""`gisapp layers purge [--dry-run]`: remove for good the layers deleted more than
``layers.deletion.RESTORE_DAYS`` ago, with the rows each held.

An administrator's explicit act on the server (no HTTP route does this). It runs under the registry
keeper's row-level rule (``admin``): restricted rows are deleted explicitly, never by a cascade, and a
layer still referenced by an operation's record is kept and named with the reason.
Exit status: 0 done (or nothing to do), 1 some layers were kept, 2 could not run.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer

layers_app = typer.Typer(help="レイヤー / layers", no_args_is_help=True)


@layers_app.command("purge")
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="数えるだけ / count only, change nothing")
    ] = False,
) -> None:
    """復元期間を過ぎた削除済みレイヤーを完全に削除 / purge layers deleted longer ago than the restore window."""
    from gisapp.cli import _settings
    from gisapp.db import DatabaseNotConfigured, make_engine, transaction
    from layers import deletion

    try:
        engine = make_engine(_settings().database_url, pool_size=1, application_name="gisapp-purge")
    except DatabaseNotConfigured as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    try:
        with transaction(engine, ["admin"]) as conn:
            results = deletion.purge(conn, f"cli:{getpass.getuser()}", dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "削除予定 / would purge" if dry_run else "完全削除 / purged"
    kept = 0
    for r in results:
        if r.reasons:
            kept += 1
            why = "; ".join(f"{x['reason_ja']} / {x['reason_en']}" for x in r.reasons)
            typer.echo(f"保持 / kept {r.slug} ({r.kind}): {why}")
        else:
            typer.echo(f"{verb} {r.slug} ({r.kind}, deleted {r.deleted_at:%Y-%m-%d} by {r.deleted_by}): "
                       f"{json.dumps(r.counts, ensure_ascii=False)}")  # fmt: skip
    total = {}
    for r in results:
        if not r.reasons:
            for table, n in r.counts.items():
                total[table] = total.get(table, 0) + n
    typer.echo(
        f"{'対象' if dry_run else '完了'} / {'to purge' if dry_run else 'done'}: "
        f"{len(results) - kept} layer(s), kept {kept}; rows {json.dumps(total, ensure_ascii=False)}"
    )
    if kept:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(layers_app, name="layers")
