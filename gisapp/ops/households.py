"""Pre-registered households (事前登録世帯): personal data in ``restricted.household``.

The resident holds a random token (shown once, as a QR code); only its SHA-256 is stored. The token is
the capability: the resident's own reads and changes go through ``pub.*`` SECURITY DEFINER functions
that set it for the row-level policy, and a kiosk that scanned it may read the household's counts (and
nothing else) the same way. Welfare and admin staff read households through their roles; every such
read is audited.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.errors import OpsInvalid, OpsNotFound

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # secrets.token_urlsafe(24)
# A scanned QR may hold the token alone or the resident's page URL ending in it.
_SCANNED_RE = re.compile(r"(?:^|/register/)([A-Za-z0-9_-]{32})/?$")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    birth_year: int | None = Field(None, ge=1900)
    needs_care: bool = False  # 要配慮 (高齢・障害・乳幼児・妊産婦など)
    needs: str = Field("", max_length=200)  # e.g. 車いす, 透析, アレルギー

    @field_validator("name")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("empty name")
        return v

    @field_validator("birth_year")
    @classmethod
    def _not_future(cls, v: int | None) -> int | None:
        if v is not None and v > date.today().year:
            raise ValueError("birth year in the future")
        return v


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    representative_name: str = Field(min_length=1, max_length=100)
    phone: str = Field("", max_length=30, pattern=r"^[0-9+\-() ]*$")
    address: str = Field("", max_length=300)
    members: list[MemberIn] = Field(min_length=1, max_length=20)
    pets: int = Field(0, ge=0, le=20)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _unknown() -> OpsNotFound:
    # The same answer for a malformed, forged and unknown token: nothing to learn from it.
    return OpsNotFound(
        "登録が見つかりません。QRコードまたはリンクを確認してください。",
        "No registration found: check the QR code or the link.",
    )


def parse_scanned(raw: str) -> str:
    """The token in what a kiosk scanned (the token, or a URL ending in /register/<token>)."""
    match = _SCANNED_RE.search(raw.strip())
    if match is None:
        raise OpsInvalid(
            "QRコードを読み取れません。市の事前登録QRコードか確認してください。",
            "The code could not be read: is it the city's pre-registration QR code?",
            reason="malformed_token",
        )
    return match.group(1)


def _params(token: str, household: HouseholdIn) -> dict:
    return {
        "t": token,
        "n": household.representative_name.strip(),
        "p": household.phone.strip(),
        "a": household.address.strip(),
        "m": json.dumps([m.model_dump() for m in household.members], ensure_ascii=False),
        "pets": household.pets,
    }


def register(conn: Connection, household: HouseholdIn) -> str:
    """Store a new household; answers its token (shown to the resident once, as a QR code)."""
    token = new_token()
    conn.execute(
        text("SELECT pub.register_household(:t, :n, :p, :a, CAST(:m AS jsonb), :pets)"),
        _params(token, household),
    )
    return token


def update(conn: Connection, token: str, household: HouseholdIn) -> None:
    if not TOKEN_RE.match(token):
        raise _unknown()
    changed = conn.execute(
        text("SELECT pub.update_household(:t, :n, :p, :a, CAST(:m AS jsonb), :pets)"),
        _params(token, household),
    ).scalar_one()
    if not changed:
        raise _unknown()


def own(conn: Connection, token: str) -> dict:
    """The resident's own registration, by token."""
    if not TOKEN_RE.match(token):
        raise _unknown()
    row = conn.execute(text("SELECT * FROM pub.household_by_token(:t)"), {"t": token}).one_or_none()
    if row is None:
        raise _unknown()
    return dict(row._mapping)


def summary_for_kiosk(conn: Connection, token: str) -> dict:
    """Counts only (persons, 要配慮, pets) of the household holding ``token``: the kiosk shows no name.
    The token itself opens the row for this one statement (row-level policy, migration 0015)."""
    conn.execute(text("SELECT set_config('gisapp.household_token', :t, true)"), {"t": token})
    row = conn.execute(
        text(
            """SELECT id, jsonb_array_length(members) AS persons,
                      (SELECT count(*) FROM jsonb_array_elements(members) m
                        WHERE (m->>'needs_care')::boolean) AS needs_care, pets
                 FROM restricted.household WHERE token_hash = :h"""
        ),
        {"h": token_hash(token)},
    ).one_or_none()
    conn.execute(text("SELECT set_config('gisapp.household_token', '', true)"))
    if row is None:
        raise _unknown()
    return {"id": row.id, "persons": row.persons, "needs_care": row.needs_care, "pets": row.pets}


_COLUMNS = "id, representative_name, phone, address, members, pets, created_at, updated_at"


def get_household(conn: Connection, household_id: int, actor: str) -> dict:
    """For welfare/admin (row-level security hides the row from anyone else: then 404). Audited."""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM restricted.household WHERE id = :id"),  # noqa: S608 - constant columns
        {"id": household_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound("世帯が見つかりません。", "No such household.")
    audit.record(conn, actor, "household.read", str(household_id))
    return dict(row._mapping)
