"""Incident categories (事案種別) are data: HQ adds, renames, publishes and retires them, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

_COLUMNS = "code, name_ja, name_en, public, sort, active"
_LIST = text(
    "SELECT code, name_ja, name_en, public, sort FROM ops.incident_category WHERE active ORDER BY sort, code"
)
_ADD = text(
    f"""INSERT INTO ops.incident_category (code, name_ja, name_en, public, sort)
        VALUES (:code, :name_ja, :name_en, :public, :sort) ON CONFLICT (code) DO NOTHING
        RETURNING {_COLUMNS}"""  # noqa: S608 - constant
)
_CHANGE = text(
    f"""UPDATE ops.incident_category SET name_ja = coalesce(:name_ja, name_ja),
              name_en = coalesce(:name_en, name_en), public = coalesce(:public, public),
              active = coalesce(:active, active), sort = coalesce(:sort, sort)
        WHERE code = :code RETURNING {_COLUMNS}"""  # noqa: S608 - constant
)
CHANGEABLE = ("name_ja", "name_en", "public", "active", "sort")


def list_active(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(_LIST)]


def add(
    conn: Connection, actor: str, code: str, name_ja: str, name_en: str, public: bool, sort: int
) -> dict[str, Any]:
    row = conn.execute(
        _ADD, {"code": code, "name_ja": name_ja, "name_en": name_en, "public": public, "sort": sort}
    ).one_or_none()
    if row is None:
        raise OpsConflict(
            "この種別コードは登録済みです。", "This category code exists already.", category=code
        )
    audit.record(conn, actor, "incident_category.add", code, public=public)
    return dict(row._mapping)


def change(conn: Connection, actor: str, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Rename, publish or retire (``changes`` among CHANGEABLE; None values are left as they are)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - set(CHANGEABLE)
    if not changes or unknown:
        raise OpsInvalid("変更内容がありません。", "Nothing to change.")
    row = conn.execute(_CHANGE, {"code": code, **{k: changes.get(k) for k in CHANGEABLE}}).one_or_none()
    if row is None:
        raise OpsNotFound("事案種別が見つかりません。", "No such category.", category=code)
    audit.record(conn, actor, "incident_category.change", code, **changes)
    return dict(row._mapping)
