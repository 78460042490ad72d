"""`gisapp devices add|list|rotate|disable`: the device registry, and the broker's files made from it.

A password is shown once, when it is made; only its hash is kept. After every change the local
stack's Mosquitto password/ACL files are rewritten from the registry and the broker reloads them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sensors.registry import DeviceKind

devices_app = typer.Typer(
    help="Devices: gauges and radio units / 機器（雨量計・水位計・無線機）", no_args_is_help=True
)


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _sync() -> None:
    """Rewrite the local broker's files from the registry and reload it, when the local stack runs."""
    from gisapp.cli import _settings, _sync_broker
    from gisapp.localstack import LocalStack
    from gisapp.localstack.procs import read_pid

    s = _settings()
    stack = LocalStack(s)
    if read_pid(stack.mqtt_pidfile) is None:
        typer.echo(
            "ローカルのブローカーは動いていません（本番ではパスワード・ACLファイルを配備してください）。\n"
            "The local broker is not running (in production, deploy the password and ACL files)."
        )
        return
    _sync_broker(s, stack)


def _engine():
    from gisapp.cli import _settings
    from gisapp.db import make_engine

    return make_engine(_settings().database_url)


@devices_app.command("add")
def add(
    device_id: str,
    kind: Annotated[DeviceKind, typer.Option(help="radio_unit | rain_gauge | water_gauge")],
    name: Annotated[str, typer.Option(help="表示名 / display name")],
    lon: Annotated[float | None, typer.Option(help="Longitude (gauges are fixed)")] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude (gauges are fixed)")] = None,
    department: Annotated[str | None, typer.Option(help="Owner department code")] = None,
    thresholds: Annotated[
        str | None,
        typer.Option(
            help="しきい値 JSON / thresholds as JSON, or @file (see docs/mqtt.md), e.g. '{\"氾濫危険水位\": 2.6}'"
        ),
    ] = None,
) -> None:
    """Register a device and print its password (shown only this once)."""
    from gisapp.cli import department_id
    from sensors import registry

    if kind != DeviceKind.radio_unit and (lon is None or lat is None):
        _fail("雨量計・水位計には --lon と --lat が必要です。\nGauges need --lon and --lat (they are fixed).")
    if (lon is not None and not -180 <= lon <= 180) or (lat is not None and not -90 <= lat <= 90):
        _fail("座標が範囲外です。\nCoordinates out of range.")
    engine = _engine()
    try:
        with engine.begin() as conn:
            spec = registry.DeviceSpec(
                device_id, kind, name, lon, lat, department_id(conn, department), _thresholds(thresholds)
            )
            password = registry.ensure_device(conn, spec)
            if password is None:
                _fail(
                    f"{device_id} は登録済みです（rotate で再発行）。\n{device_id} exists already (use rotate)."
                )
    except ValueError as e:
        _fail(str(e))
    finally:
        engine.dispose()
    _sync()
    typer.echo(f"{device_id}: {password}")


@devices_app.command("thresholds")
def set_thresholds(
    device_id: str,
    thresholds: Annotated[str, typer.Argument(help="JSON, or @file")],
) -> None:
    """Replace a gauge's thresholds (checked for its kind: known levels, numbers, in order)."""
    from sensors import registry

    doc = _thresholds(thresholds)
    engine = _engine()
    try:
        with engine.begin() as conn:
            registry.set_thresholds(conn, device_id, doc)
    except (ValueError, LookupError) as e:
        _fail(str(e))
    finally:
        engine.dispose()
    typer.echo(f"{device_id}: しきい値を更新しました / thresholds updated")


def _thresholds(arg: str | None) -> dict | None:
    """The --thresholds argument: inline JSON or @path."""
    import json
    from pathlib import Path

    if arg is None:
        return None
    try:
        raw = Path(arg[1:]).read_text(encoding="utf-8") if arg.startswith("@") else arg
        return json.loads(raw)
    except OSError as e:
        _fail(f"しきい値ファイルを読めません / cannot read the thresholds file: {e}")
    except json.JSONDecodeError as e:
        _fail(f"しきい値がJSONではありません / thresholds are not valid JSON: {e}")
    return None


@devices_app.command("list")
def list_devices() -> None:
    """Every registered device."""
    from sqlalchemy import text

    engine = _engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, kind, name, enabled, ST_X(location) AS lon, ST_Y(location) AS lat"
                    " FROM sensor.device ORDER BY id"
                )
            ).all()
    finally:
        engine.dispose()
    for r in rows:
        where = f"{r.lat:.5f},{r.lon:.5f}" if r.lon is not None else "-"
        typer.echo(f"{r.id:12} {r.kind:12} {'on ' if r.enabled else 'off'} {where:20} {r.name}")


@devices_app.command("rotate")
def rotate(device_id: str) -> None:
    """Give a device a new password (the old one stops working) and print it."""
    from sensors import registry

    engine = _engine()
    try:
        with engine.begin() as conn:
            password = registry.rotate_password(conn, device_id)
    except LookupError as e:
        _fail(str(e))
    finally:
        engine.dispose()
    _sync()
    typer.echo(f"{device_id}: {password}")


@devices_app.command("disable")
def disable(device_id: str) -> None:
    """Take a device off the broker (its data stays)."""
    from sensors import registry

    engine = _engine()
    try:
        with engine.begin() as conn:
            if not registry.disable_devices(conn, [device_id]):
                _fail(f"機器がありません / no such device: {device_id}")
    finally:
        engine.dispose()
    _sync()
    typer.echo(f"{device_id}: 無効にしました / disabled")


def register(app: typer.Typer) -> None:
    app.add_typer(devices_app, name="devices")
