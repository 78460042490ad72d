"""The OwnTracks JSON protocol, as its JSON Schema (owntracks/json-schema ``message.json``,
``messages.json``, ``encryption.json``) says it, and what we make of each message (docs/mqtt.md).

A message the schema accepts is never a dead letter for its form: a location is stored (an unknown
accuracy ``acc: -1`` is stored as unknown), ``lwt`` marks the unit offline, a ``transition`` is a
geofence event, a ``card`` names the unit, a ``status`` is kept as the device's info; every other
valid type (waypoint(s), steps, cmd, request/tour, configuration, beacon, encrypted …) is counted and
otherwise ignored. A message the schema refuses is a dead letter whose reason names the member and
what is wrong with it, in English and Japanese (staff read dead letters).

Our own rules come after the schema's and have their own reason codes: a position outside Japan
(``implausible_location``), a timestamp in the future (``invalid_timestamp``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# The schema's _type enum, and 'encrypted' (encryption.json): a valid message we cannot read.
TYPES = frozenset(
    {"beacon", "card", "cmd", "configuration", "location", "lwt", "request", "status", "steps",
     "transition", "waypoint", "waypoints", "encrypted"}
)  # fmt: skip
ACTIONS = frozenset(
    {"action", "clearWaypoints", "dump", "reportLocation", "reportSteps", "response", "setConfiguration",
     "setWaypoints", "status", "waypoints"}
)  # fmt: skip
REQUESTS = frozenset({"tour", "tours", "untour"})
REQUIRED = {  # per _type (allOf … then required)
    "location": ("lat", "lon", "tst"),
    "lwt": ("tst",),
    "steps": ("from", "steps", "to", "tst"),
    "transition": ("acc", "event", "lat", "lon", "tst", "wtst"),
    "cmd": ("action",),
    "encrypted": ("data",),
}
BASE64 = re.compile(r"^[-A-Za-z0-9+/]*={0,3}$")
MAX_CLOCK_SKEW = timedelta(hours=1)
MAX_NAME = 200


class SchemaError(ValueError):
    """The member and what is wrong with it: ``lat: must be a number / 数値でなければなりません``; its
    dead-letter code is ``unsupported_type`` for a _type OwnTracks does not define."""

    def __init__(self, reason: str, code: str = "invalid_payload") -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Transition:
    """A region set on the phone entered or left (``_type: transition``)."""

    device_id: str
    event: str  # 'enter' | 'leave'
    region_id: str
    region_name: str
    at: datetime
    lon: float
    lat: float


@dataclass(frozen=True)
class Card:
    device_id: str
    name: str


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    info: dict[str, Any]


@dataclass(frozen=True)
class Ignored:
    """A valid message with nothing for us to store: counted per device and type."""

    device_id: str
    msg_type: str


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_integer(v: object) -> bool:
    # JSON Schema: 5.0 is an integer; true is not.
    return _is_number(v) and float(v).is_integer()  # type: ignore[arg-type]


_TYPE_JA = {"number": "数値", "integer": "整数", "string": "文字列", "array": "配列"}


def _need(doc: dict, key: str, kind: str) -> None:
    if key not in doc:
        return
    v = doc[key]
    ok = {
        "number": _is_number,
        "integer": _is_integer,
        "string": lambda x: isinstance(x, str),
        "array": lambda x: isinstance(x, list),
    }[kind](v)
    if not ok:
        article = "an" if kind[0] in "ai" else "a"
        raise SchemaError(f"{key}: must be {article} {kind} / {_TYPE_JA[kind]}でなければなりません")


def _one_of(doc: dict, key: str, allowed: frozenset[str]) -> None:
    if key in doc and doc[key] not in allowed:
        raise SchemaError(
            f"{key}: {str(doc[key])[:40]!r} is not one of {', '.join(sorted(allowed))} / 定義されていない値です"
        )


def check_schema(doc: dict) -> str:
    """The message's _type if the OwnTracks schema accepts ``doc``; SchemaError (why) if not."""
    if "_type" not in doc:
        raise SchemaError("_type: is required / _type は必須です")
    kind = doc["_type"]
    if not isinstance(kind, str):
        raise SchemaError("_type: must be a string / 文字列でなければなりません")
    if kind not in TYPES:
        raise SchemaError(
            f"_type: {kind[:40]!r} is not an OwnTracks message type / 定義されていない種類です",
            "unsupported_type",
        )
    if kind == "encrypted":  # encryption.json
        _need(doc, "data", "string")
        if "data" not in doc:
            raise SchemaError("data: is required / data は必須です")
        if not BASE64.match(doc["data"]):
            raise SchemaError("data: must be base64 / base64 でなければなりません")
        return kind
    for key in ("lat", "lon"):  # the members typed at the top of message.json, for every type
        _need(doc, key, "number")
    _need(doc, "tst", "integer")
    _need(doc, "ntours", "integer")
    _need(doc, "tours", "array")
    _need(doc, "uuid", "string")
    for key, allowed in (("action", ACTIONS), ("request", REQUESTS)):
        _need(doc, key, "string")
        _one_of(doc, key, allowed)
    if _is_integer(doc.get("ntours")) and doc["ntours"] < 0:
        raise SchemaError("ntours: must be at least 0 / 0 以上でなければなりません")
    for key in REQUIRED.get(kind, ()):
        if key not in doc:
            raise SchemaError(f"{key}: is required for _type {kind} / {kind} には {key} が必須です")
    if kind == "steps":
        for key in ("distance", "floorsdown", "floorsup", "from", "steps", "to"):
            _need(doc, key, "integer")
    if kind == "card":
        _need(doc, "name", "string")
        _need(doc, "face", "string")
        if isinstance(doc.get("face"), str) and not BASE64.match(doc["face"]):
            raise SchemaError("face: must be base64 (a PNG) / base64 でなければなりません")
    if doc.get("action") == "response" and "response" in doc and "request" not in doc:
        raise SchemaError("request: is required with action response / request は必須です")
    if doc.get("request") == "untour" and "uuid" not in doc:
        raise SchemaError("uuid: is required with request untour / uuid は必須です")
    return kind


def timestamp(value: int | float) -> datetime:
    """Epoch seconds as UTC (OverflowError / OSError / ValueError when out of range)."""
    return datetime.fromtimestamp(int(value), UTC)


def in_future(ts: datetime) -> bool:
    return ts > datetime.now(UTC) + MAX_CLOCK_SKEW


def optional_measures(doc: dict) -> dict[str, float | int | None]:
    """What we store beside a position. The schema does not type these at the top level; a value we
    cannot use is stored as unknown rather than losing the position (a vehicle tracker's ``acc: -1``)."""

    def num(key: str, lo: float | None = None, hi: float | None = None) -> float | None:
        v = doc.get(key)
        if not _is_number(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
            return None
        return float(v)

    batt = doc.get("batt")
    return {
        "accuracy_m": num("acc", 0),
        "altitude_m": num("alt"),
        "battery_pct": int(batt) if _is_integer(batt) and 0 <= batt <= 100 else None,
        "speed_kmh": num("vel", 0),
        "course_deg": num("cog", 0, 360),
    }


def transition(device_id: str, doc: dict) -> Transition | Ignored:
    """A schema-valid transition as a geofence event; one we cannot place (an event other than
    enter/leave, a non-integer time) is counted as ignored."""
    event, tst = doc.get("event"), doc.get("tst")
    if event not in ("enter", "leave") or not _is_integer(tst):
        return Ignored(device_id, "transition")
    desc = doc.get("desc") if isinstance(doc.get("desc"), str) else ""
    rid = doc.get("rid") if isinstance(doc.get("rid"), str) and doc.get("rid") else None
    region_id = rid or (str(int(doc["wtst"])) if _is_integer(doc.get("wtst")) else desc) or "?"
    return Transition(
        device_id,
        event,
        region_id[:100],
        desc[:MAX_NAME],
        timestamp(tst),
        float(doc["lon"]),
        float(doc["lat"]),
    )


def card(device_id: str, doc: dict) -> Card | Ignored:
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        return Ignored(device_id, "card")  # a face without a name: nothing we show
    return Card(device_id, name.strip()[:MAX_NAME])


def status(device_id: str, doc: dict) -> DeviceInfo:
    """The app's state object (``iOS`` / ``android``), kept small: scalar members only."""
    info: dict[str, Any] = {}
    for platform, body in doc.items():
        if platform != "_type" and isinstance(body, dict):
            info[platform[:40]] = {
                k[:60]: v if not isinstance(v, str) else v[:200]
                for k, v in list(body.items())[:60]
                if isinstance(v, str | int | float | bool) or v is None
            }
    return DeviceInfo(device_id, info)
