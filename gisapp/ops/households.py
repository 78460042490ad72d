"""Pre-registered households (事前登録世帯): personal data in ``restricted.household``.

The resident holds a random token (shown once, as a QR code); only its SHA-256 is stored. The token is
the capability: the resident's own reads and changes go through ``pub.*`` SECURITY DEFINER functions
that set it for the row-level policy, and a kiosk that scanned it may read the household's counts (and
nothing else) the same way. Welfare and admin staff read households through their roles; every such
read is audited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
import uuid
from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from common import audit
from gisapp.ops.errors import OpsInvalid, OpsNotFound

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # secrets.token_urlsafe(24)
# A scanned QR may hold the token alone or the resident's page URL ending in it.
_SCANNED_RE = re.compile(r"(?:^|/register/)([A-Za-z0-9_-]{32})/?$")


# Every check of a household is made here, in the domain, with the field it concerns named (``field``)
# and every problem listed (``fields``), so the form can mark each field; the request model only bounds
# the size of what is read.
MAX_MEMBERS = 20
_ERAS = {  # 和暦: first year (元年) in the Western calendar, and the era's last year number
    "明治": (1868, 45), "大正": (1912, 15), "昭和": (1926, 64), "平成": (1989, 31), "令和": (2019, 99),
    "M": (1868, 45), "T": (1912, 15), "S": (1926, 64), "H": (1989, 31), "R": (2019, 99),
}  # fmt: skip
_WAREKI_RE = re.compile(r"^(明治|大正|昭和|平成|令和|[MTSHR])\.?(元|\d{1,2})$")
# Dashes a phone number is written with on a Japanese keyboard (after NFKC: ー is the long vowel mark,
# ― the horizontal bar, ‐‑‒–— hyphens and dashes, − the minus sign, ﹣ small hyphen-minus).
_DASHES = re.compile("[ー―‐‑‒–—−﹣ｰ]")
_PHONE_RE = re.compile(r"^[0-9+\-() ]*$")


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=400)
    birth_year: int | str | None = None  # 西暦 (1985) or 和暦 ("昭和60", "S60", "平成元年")
    needs_care: bool = False  # 要配慮 (高齢・障害・乳幼児・妊産婦など)
    needs: str = Field("", max_length=800)  # e.g. 車いす, 透析, アレルギー


class HouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    representative_name: str = Field("", max_length=400)
    phone: str = Field("", max_length=120)
    address: str = Field("", max_length=1200)
    members: list[MemberIn] = Field(default_factory=list, max_length=100)
    pets: int = 0
    request_id: uuid.UUID | None = (
        None  # the form's own id of this registration (a repeat is not stored twice)
    )


def _text(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip()


def normalise_phone(raw: str) -> str:
    """``０９０－１２３４－５６７８`` → ``090-1234-5678``: NFKC, every dash form to ``-``, spaces squeezed.
    Raises ValueError when what is left is not a phone number."""
    value = _DASHES.sub("-", _text(raw))
    value = re.sub(r"\s+", " ", value)
    if value and (not _PHONE_RE.match(value) or len(value) > 30 or sum(c.isdigit() for c in value) < 5):
        raise ValueError(value)
    return value


def parse_birth_year(raw: int | str | None) -> int | None:
    """西暦 or 和暦 (昭和60, 昭和60年, S60, 平成元年; full-width digits too). Raises ValueError."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(raw)
    if isinstance(raw, int):
        year = raw
    else:
        value = _text(raw).replace(" ", "").removesuffix("年").upper()
        if value.isdigit():
            year = int(value)
        else:
            match = _WAREKI_RE.match(value)
            if match is None:
                raise ValueError(raw)
            first, last = _ERAS[match.group(1)]
            number = 1 if match.group(2) == "元" else int(match.group(2))
            if not 1 <= number <= last:
                raise ValueError(raw)
            year = first + number - 1
    if not 1900 <= year <= date.today().year:
        raise ValueError(raw)
    return year


def clean(household: HouseholdIn) -> HouseholdIn:
    """The household as stored (normalised), or OpsInvalid naming every field that is wrong: ``field``
    the first, ``fields`` all of them ``[{field, message_ja, message_en}]``."""
    problems: list[dict] = []

    def problem(field: str, ja: str, en: str) -> None:
        problems.append({"field": field, "message_ja": ja, "message_en": en})

    name = _text(household.representative_name)
    if not name:
        problem("representative_name", "代表者の氏名を入力してください。", "Enter the representative's name.")
    elif len(name) > 100:
        problem(
            "representative_name",
            "代表者の氏名は100文字までです。",
            "The name can have up to 100 characters.",
        )
    try:
        phone = normalise_phone(household.phone)
    except ValueError:
        phone = ""
        problem(
            "phone",
            "電話番号は数字とハイフンで入力してください（例：090-1234-5678）。",
            "Enter the phone number in digits and hyphens (e.g. 090-1234-5678).",
        )
    address = _text(household.address)
    if len(address) > 300:
        problem("address", "住所は300文字までです。", "The address can have up to 300 characters.")
    if not household.members:
        problem("members", "世帯の人を1人以上入力してください。", "Add at least one person.")
    elif len(household.members) > MAX_MEMBERS:
        problem("members", "世帯の人は20人までです。", "A household can have up to 20 people.")
    members = []
    for i, member in enumerate(household.members[:MAX_MEMBERS]):
        n = i + 1
        member_name = _text(member.name)
        if not member_name:
            problem(
                f"members.{i}.name", f"{n}人目の氏名を入力してください。", f"Enter the name of person {n}."
            )
        elif len(member_name) > 100:
            problem(
                f"members.{i}.name",
                f"{n}人目の氏名は100文字までです。",
                f"Name of person {n}: 100 characters max.",
            )
        try:
            year = parse_birth_year(member.birth_year)
        except ValueError:
            year = None
            problem(
                f"members.{i}.birth_year",
                f"{n}人目の生まれた年が正しくありません（例：1985 または 昭和60）。",
                f"Person {n}: the year of birth is not valid (e.g. 1985).",
            )
        needs = _text(member.needs)
        if len(needs) > 200:
            problem(
                f"members.{i}.needs",
                f"{n}人目の配慮の内容は200文字までです。",
                f"Person {n}: care needs, 200 characters max.",
            )
        members.append(MemberIn(name=member_name, birth_year=year, needs_care=member.needs_care, needs=needs))
    if not 0 <= household.pets <= 20:
        problem("pets", "ペットの数は0〜20で入力してください。", "Number of pets: 0 to 20.")
    if problems:
        first = problems[0]
        lines_ja = "".join(p["message_ja"] for p in problems)
        lines_en = " ".join(p["message_en"] for p in problems)
        raise OpsInvalid(lines_ja, lines_en, field=first["field"], fields=problems)
    return HouseholdIn(
        representative_name=name, phone=phone, address=address, members=members, pets=household.pets
    )


def new_token() -> str:
    return secrets.token_urlsafe(24)


def display_token(token: str) -> str:
    """The token for reading aloud or typing at the kiosk: groups of four split by spaces (not hyphens,
    which the token itself may contain). The kiosk's manual entry accepts it as shown (parse_scanned)."""
    return " ".join(token[i : i + 4] for i in range(0, len(token), 4))


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _unknown() -> OpsNotFound:
    # The same answer for a malformed, forged and unknown token: nothing to learn from it.
    return OpsNotFound(
        "登録が見つかりません。QRコードまたはリンクを確認してください。",
        "No registration found: check the QR code or the link.",
    )


def parse_scanned(raw: str) -> str:
    """The token in what a kiosk scanned (the token, or a URL ending in /register/<token>), or what
    staff typed from the resident's screen, where it is shown in groups of four (``display_token``):
    spaces, full-width ones too, are dropped."""
    match = _SCANNED_RE.search(re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw)))
    if match is None:
        raise OpsInvalid(
            "QRコードを読み取れません。市の事前登録QRコードか確認してください。",
            "The code could not be read: is it the city's pre-registration QR code?",
            reason="malformed_token",
        )
    return match.group(1)


def _params(token: str, household: HouseholdIn) -> dict:
    household = clean(household)
    return {
        "t": token,
        "n": household.representative_name.strip(),
        "p": household.phone.strip(),
        "a": household.address.strip(),
        "m": json.dumps([m.model_dump() for m in household.members], ensure_ascii=False),
        "pets": household.pets,
    }


def request_token(secret: bytes, request_id: uuid.UUID) -> str:
    """The token of the registration sent with ``request_id``: the same request (a second press, a
    retry after a lost answer) always gets the same token, so it cannot register the household twice.
    Unguessable without the install's secret, like a random one (192 bits)."""
    digest = hmac.new(secret, b"household-request:" + request_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def register(conn: Connection, household: HouseholdIn, secret: bytes | None = None) -> str:
    """Store a new household; answers its token (shown to the resident once, as a QR code). With the
    form's ``request_id`` (and the install's ``secret``) a repeated request answers the token of the
    first one and stores nothing."""
    params = _params("", household)  # checks everything before the token matters
    token = request_token(secret, household.request_id) if secret and household.request_id else new_token()
    try:
        with conn.begin_nested():
            conn.execute(
                text("SELECT pub.register_household(:t, :n, :p, :a, CAST(:m AS jsonb), :pets)"),
                {**params, "t": token},
            )
    except IntegrityError:
        if household.request_id is None or not secret:
            raise
        own(conn, token)  # the first request's household (else the error was another one)
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
