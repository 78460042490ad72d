"""`gisapp raster add FILE --slug … --title-ja … --department CODE [--publish]`: upload a GeoTIFF / COG
as a raster layer (航空写真), as the API does (checks, COG, catalogue, audit); see docs/raster.md.

Acts as ``cli:<login>`` with administrator rights for the named owner department (the server's
operator). Exit status: 0 done, 1 refused (the reason in Japanese and English), 2 could not run.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

raster_app = typer.Typer(help="ラスター（航空写真）/ raster layers", no_args_is_help=True)


@dataclass(frozen=True)
class _CliActor:
    username: str
    department_id: int | None
    roles: frozenset[str] = field(default_factory=lambda: frozenset({"admin"}))


@raster_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="GeoTIFF / COG", exists=True, dir_okay=False)],
    slug: Annotated[str, typer.Option("--slug", help="識別子 / id (a-z0-9_-)")],
    title_ja: Annotated[str, typer.Option("--title-ja", help="題名 / title (ja)")],
    department: Annotated[str, typer.Option("--department", help="所管課コード / owner department code")],
    title_en: Annotated[str, typer.Option("--title-en")] = "",
    visibility: Annotated[str, typer.Option("--visibility", help="internal | restricted")] = "internal",
    source: Annotated[str, typer.Option("--source", help="出典 / source")] = "",
    licence: Annotated[str, typer.Option("--licence", help="ライセンス / licence")] = "",
    publish: Annotated[bool, typer.Option("--publish", help="登録後に公開 / publish once added")] = False,
) -> None:
    """GeoTIFF・COG をラスターレイヤーとして登録 / add a GeoTIFF or COG as a raster layer."""
    from common.errors import UserError
    from gisapp.cli import _settings
    from gisapp.db import DatabaseNotConfigured, make_engine, transaction
    from layers.catalog import Visibility
    from layers.raster import store

    settings = _settings()
    try:
        engine = make_engine(settings.database_url, pool_size=1, application_name="gisapp-raster")
    except DatabaseNotConfigured as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    spec = store.RasterSpec(slug, title_ja, title_en, visibility, source=source, licence=licence)
    limits = store.Limits.in_mib(settings.raster_max_mb, settings.raster_max_pixels_mb)
    try:
        with transaction(engine, ["admin"]) as conn:
            actor = _CliActor(f"cli:{getpass.getuser()}", store.department_id(conn, department))
            if actor.department_id is None:
                typer.secho(
                    f"部署がありません / no such department: {department}", fg=typer.colors.RED, err=True
                )
                raise typer.Exit(1)
            store.check_upload(conn, actor, spec)
        typer.echo("確認・COG 変換中 / checking and converting to COG …")
        prepared = store.prepare(file, settings.raster_dir, limits)
        with transaction(engine, ["admin"]) as conn:
            raster = store.catalogue(conn, actor, spec, prepared, name=file.name)
            if publish:
                raster = store.set_visibility(conn, actor, slug, Visibility.public)
    except UserError as e:
        typer.secho(f"登録できませんでした: {e.ja}\nRefused: {e.en}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(
        f"登録しました / added {raster.slug} ({raster.visibility}): {raster.width}×{raster.height},"
        f" {raster.band_count} band(s), zoom {raster.minzoom}–{raster.maxzoom}, sha256 {raster.sha256[:12]}…"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(raster_app, name="raster")
