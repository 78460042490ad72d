"""`gisapp evac …`: the city's 避難情報 data — target areas from a layer, 発令基準 from a JSON file.

The criteria are the city's own (its 避難情報の発令基準 as adopted in the 地域防災計画); the demo loads
an example for its fictitious areas. Exit status 1 with a bilingual message on a bad file, which
changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

evac_app = typer.Typer(help="避難情報の区域・発令基準 / evacuation information data", no_args_is_help=True)
criteria_app = typer.Typer(help="発令基準 / issuance criteria", no_args_is_help=True)
evac_app.add_typer(criteria_app, name="criteria")


def _engine():
    from gisapp.cli import _settings
    from gisapp.db import make_engine

    return make_engine(_settings().database_url, pool_size=1, application_name="gisapp-evac")


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@evac_app.command("areas")
def areas(
    from_layer: Annotated[
        str, typer.Option(help="町丁目・自治会のポリゴンのレイヤー / the layer of area polygons")
    ] = ("community-areas"),
) -> None:
    """発令対象の区域をレイヤーから読み込む / load the areas orders target from a polygon layer."""
    from common.errors import UserError
    from gisapp.db import transaction
    from gisapp.ops import evac_info

    engine = _engine()
    try:
        with transaction(engine, ["admin"]) as conn:
            n = evac_info.sync_areas_from_layer(conn, from_layer)
    except UserError as e:
        _fail(f"{e.ja}\n{e.en}")
    finally:
        engine.dispose()
    typer.echo(f"区域 {n} 件 / {n} areas from {from_layer}")


@criteria_app.command("list")
def list_criteria() -> None:
    """発令基準の一覧（JSON） / the criteria as JSON (the format `load` reads)."""
    from gisapp.db import read_only
    from gisapp.ops import evac_info

    engine = _engine()
    try:
        with read_only(engine) as conn:
            rows = evac_info.list_criteria(conn)
    finally:
        engine.dispose()
    keep = ("name", "hazard", "source", "min_level", "suggest_level", "target", "jma_area_codes", "jma_kind",
            "device_id", "river", "area_codes", "enabled")  # fmt: skip
    typer.echo(json.dumps([{k: r[k] for k in keep} for r in rows], ensure_ascii=False, indent=2))


@criteria_app.command("load")
def load_criteria(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON: a list of criteria")],
    replace: Annotated[
        bool, typer.Option(help="ファイルに無い基準を無効にする / disable criteria not in the file")
    ] = (False),
) -> None:
    """発令基準を読み込む / load issuance criteria (all or nothing)."""
    from common.errors import UserError
    from gisapp.db import transaction
    from gisapp.ops import evac_info

    try:
        items = json.loads(file.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        _fail(f"JSON として読めません / not valid JSON: {e}")
    engine = _engine()
    try:
        with transaction(engine, ["admin"]) as conn:
            result = evac_info.load_criteria(conn, items, replace=replace, actor="cli")
    except UserError as e:
        _fail(f"{e.ja}\n{e.en}")
    finally:
        engine.dispose()
    typer.echo(
        f"読み込み {result['loaded']} 件・無効化 {result['disabled']} 件 / loaded {result['loaded']}, disabled {result['disabled']}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(evac_app, name="evac")
