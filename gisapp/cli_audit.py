"""`gisapp audit verify`: check the hash chain of the audit log.

Exit status: 0 intact, 1 tampered (the first broken entry is named), 2 could not check (bad option,
no database, migration 0013 not applied) — so a monitoring job can tell "tampered" from "down".
"""

from __future__ import annotations

from typing import Annotated

import typer

audit_app = typer.Typer(help="監査ログ / audit log", no_args_is_help=True)


TAMPERED, CANNOT_CHECK = 1, 2


def _fail(message: str, code: int) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@audit_app.command("verify")
def verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            help="控え SEQ:SHA256 / a position and hash printed by an earlier verify, kept elsewhere"
        ),
    ] = None,
) -> None:
    """監査ログのハッシュチェーンを検証 / verify the audit log's hash chain (exit 1: tampered)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gisapp import audit_chain
    from gisapp.cli import _settings
    from gisapp.db import DatabaseNotConfigured, make_engine

    expected = None
    if anchor is not None:
        try:
            expected = audit_chain.Anchor.parse(anchor)
        except ValueError:
            _fail(
                f"--anchor は SEQ:SHA256（64桁の16進）で指定してください: {anchor}\n"
                f"--anchor must be SEQ:SHA256 (64 hex digits): {anchor}",
                CANNOT_CHECK,
            )
    try:
        # Reading needs SELECT only, which the app role has (migrations 0001, 0013).
        engine = make_engine(_settings().database_url, pool_size=1, application_name="gisapp-audit")
    except DatabaseNotConfigured as e:
        _fail(str(e), CANNOT_CHECK)
    try:
        # One snapshot: the chain head and the entries are read as of the same moment.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            report = audit_chain.verify(conn, anchor=expected)
    except SQLAlchemyError as e:
        _fail(
            "監査ログを読めません（データベースへの接続とマイグレーション 0013 の適用を確認してください）。\n"
            f"Cannot read the audit log (check the database connection and that migration 0013 is applied): "
            f"{getattr(e, 'orig', None) or e}",
            CANNOT_CHECK,
        )
    finally:
        engine.dispose()
    if report.broken is not None:
        b = report.broken
        _fail(
            f"監査ログが改ざんされています: {b.message_ja}\n"
            f"audit log tampered with: {b.message_en}\n"
            f"（それまでの {report.checked} 件は正常 / {report.checked} entries before it verified）",
            TAMPERED,
        )
    typer.echo(f"監査ログは改ざんされていません / audit log intact: {report.checked} entries")
    if report.head is not None:
        typer.echo(f"先頭 / head (--anchor): {report.head}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
