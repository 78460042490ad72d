"""`gisapp import` / `gisapp export` commands: layer files in and out, with progress."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

export_app = typer.Typer(help="Export layers / レイヤーの書き出し", no_args_is_help=True)


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _engine():
    from gisapp.cli import _settings
    from gisapp.db import make_engine

    return make_engine(_settings().database_url)


def _create_layer(conn, slug: str, *, kind: str, title_ja: str, title_en: str, department: str,
                  visibility: str) -> None:  # fmt: skip
    from sqlalchemy import text

    from layers.importers.pipeline import GEOMETRY_OF_KIND

    dept = conn.execute(text("SELECT id FROM core.department WHERE code = :c"), {"c": department}).scalar()
    if dept is None:
        _fail(f"部署がありません / no such department: {department}")
    conn.execute(
        text(
            """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type)
               VALUES (:slug, :ja, :en, :dept, :vis, :kind, :gt)"""
        ),
        {"slug": slug, "ja": title_ja, "en": title_en, "dept": dept, "vis": visibility, "kind": kind,
         "gt": GEOMETRY_OF_KIND.get(kind, "Geometry")},
    )  # fmt: skip


def _print_rejection(e) -> None:
    typer.secho(f"取り込めませんでした: {e.ja}\nImport refused: {e.en}", fg=typer.colors.RED, err=True)
    for p in e.rejected:
        typer.echo(f"  {p.row}: {p.reason_ja} / {p.reason_en}", err=True)
    if e.run_id:
        typer.echo(f"  (import_run {e.run_id})", err=True)


def import_command(
    file: Annotated[
        Path, typer.Argument(help="GeoJSON, zipped Shapefile, GPKG, CityGML, shelter CSV, OSM XML")
    ],
    layer: Annotated[str, typer.Option("--layer", help="Layer slug / レイヤー")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="geojson|shapefile|gpkg|citygml|shelter_csv|osm")
    ] = None,
    mode: Annotated[str, typer.Option(help="upsert | replace (also delete what the file lacks)")] = "upsert",
    hazard_type: Annotated[
        str | None,
        typer.Option(help="for hazard layers: landslide_warning|landslide_special|flood|inland_flood"),
    ] = None,
    create: Annotated[bool, typer.Option(help="Create the layer if it does not exist")] = False,
    kind: Annotated[
        str | None, typer.Option(help="Kind of a created layer (default: from the format)")
    ] = None,
    title_ja: Annotated[str | None, typer.Option("--title-ja")] = None,
    title_en: Annotated[str | None, typer.Option("--title-en")] = None,
    department: Annotated[str | None, typer.Option(help="Owner department code of a created layer")] = None,
    visibility: Annotated[str, typer.Option(help="public | internal | restricted")] = "internal",
) -> None:
    """Import a file into a layer, all or nothing / ファイルをレイヤーに取り込む（全件成功か何もしない）."""
    from rich.progress import Progress

    from gisapp.db import set_roles
    from layers.importers import ImportRejected, get_target
    from layers.importers.audited import import_and_audit
    from layers.importers.pipeline import KIND_OF_FORMAT, STAGES
    from layers.importers.read import detect_format

    if not file.is_file():
        _fail(f"ファイルがありません / no such file: {file}")
    actor = f"cli:{getpass.getuser()}"
    engine = _engine()
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            set_roles(conn, ["admin"])  # an operator on the server
            target = get_target(conn, layer)
            created = False
            if target is None:
                if not create:
                    _fail(f"レイヤーがありません（--create で作成） / no such layer (use --create): {layer}")
                if not (title_ja and title_en and department):
                    _fail(
                        "--create には --title-ja, --title-en, --department が必要です / --create needs them"
                    )
                try:
                    new_kind = kind or KIND_OF_FORMAT.get(detect_format(file.name, fmt), "generic")
                except ImportRejected as e:
                    _fail(f"{e.ja}\n{e.en}")
                _create_layer(conn, layer, kind=new_kind, title_ja=title_ja, title_en=title_en,
                              department=department, visibility=visibility)  # fmt: skip
                target, created = get_target(conn, layer), True
            with Progress(transient=True) as bar:
                task = bar.add_task(f"{file.name} → {layer}", total=len(STAGES))
                result = import_and_audit(conn, target, file, layer=layer, actor=actor, fmt=fmt, mode=mode,
                                          hazard_type=hazard_type, progress=lambda stage: bar.advance(task))  # fmt: skip
            if isinstance(result, ImportRejected):
                if created:
                    tx.rollback()  # no empty layer left behind by a refused file
                else:
                    tx.commit()  # the refused run and its audit entry
                _print_rejection(result)
                raise typer.Exit(1)
            tx.commit()
    finally:
        engine.dispose()
    c = result.counts
    typer.echo(
        f"{layer}: 読込 {c['read']} / 追加 {c['inserted']} / 更新 {c['updated']} / 変更なし {c['unchanged']}"
        f" / 削除 {c['deleted']}  (read, inserted, updated, unchanged, deleted) in {result.seconds:.2f}s"
        f"  [{result.format}, {result.source_crs}{', ' + result.encoding if result.encoding else ''}]"
    )
    for p in result.repaired:
        typer.echo(f"  修復 repaired {p['row']}: {p['reason_ja']} / {p['reason_en']}")
    for note in result.notes:
        typer.echo(f"  {note['ja']} / {note['en']}")


def export_shelters_csv(
    out: Annotated[Path, typer.Argument(help="Output CSV file")],
    layer: Annotated[str, typer.Option("--layer", help="Shelter layer slug")],
    encoding: Annotated[str, typer.Option(help="utf-8 | cp932")] = "utf-8",
) -> None:
    """Shelters as the 自治体標準 指定緊急避難場所 CSV / 避難場所を自治体標準CSVで書き出す."""
    from common import audit
    from gisapp.db import set_roles
    from gisapp.settings import get_settings
    from layers.importers import get_target
    from layers.importers.shelter_export import ENCODINGS, City, encode, shelters_csv

    if encoding not in ENCODINGS:
        _fail(f"encoding は utf-8 か cp932 です / encoding must be utf-8 or cp932: {encoding}")
    settings = get_settings()
    city = City(settings.municipality_code, settings.prefecture_name + settings.municipality_name)
    engine = _engine()
    try:
        with engine.begin() as conn:
            set_roles(conn, ["admin"])
            target = get_target(conn, layer)
            if target is None or target.kind != "shelter":
                _fail(f"避難場所のレイヤーがありません / no shelter layer: {layer}")
            try:
                data = encode(shelters_csv(conn, target.id, city=city), encoding)
            except ValueError as e:
                _fail(str(e))
            audit.record(conn, f"cli:{getpass.getuser()}", "layer.export", layer, format="shelters_csv")
    finally:
        engine.dispose()
    out.write_bytes(data)
    rows = data.count(b"\n") - 1
    typer.echo(f"{out}: {rows} 件 rows ({encoding})")


def register(app: typer.Typer) -> None:
    """Add the import/export commands to the main CLI."""
    app.command("import")(import_command)
    export_app.command("shelters-csv")(export_shelters_csv)
    app.add_typer(export_app, name="export")
