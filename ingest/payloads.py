"""Payload schemas for radio-unit positions (see docs/mqtt.md).

Two forms are accepted on ``gisapp/v1/radio/{device_id}/position``:

- our own: ``{"lat": 35.39, "lon": 139.31, "ts": "2026-11-21T10:00:00+09:00", "acc": 5, ...}``
- every OwnTracks message, unchanged (ingest/owntracks.py): ``{"_type": "location", "lat": …, "lon": …,
  "tst": 1700000000, …}``, ``transition``, ``card``, ``lwt``, ``status``, … (also on the app's subtopics)

A JSON array of such messages is taken element by element. Timestamps are the device's own: a
missing one is an error, never replaced by "now". Types are strict: ``"lat": "35.1"`` is rejected.

Gauges (same rules): ``gisapp/v1/gauge/{device_id}/rain`` ``{"ts": …, "rain_10min_mm": 3.5}`` and
``gisapp/v1/gauge/{device_id}/level`` ``{"ts": …, "level_m": 1.82}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from common.geo import REASONS, location_problem
from ingest import owntracks
from ingest.owntracks import Card, DeviceInfo, Ignored, SchemaError, Transition

MAX_PAYLOAD_BYTES = 64 * 1024
# A device clock this far ahead is wrong, not early.
MAX_CLOCK_SKEW = timedelta(hours=1)

Lat = Annotated[float, Field(ge=-90, le=90, strict=True)]
Lon = Annotated[float, Field(ge=-180, le=180, strict=True)]
OptNum = Annotated[float | None, Field(strict=True)]


class PayloadError(ValueError):
    """Why a payload cannot be stored: a stable reason code plus a human-readable reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class RadioPosition:
    device_id: str
    device_ts: datetime
    lon: float
    lat: float
    accuracy_m: float | None = None
    altitude_m: float | None = None
    battery_pct: int | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None


@dataclass(frozen=True)
class LastWill:
    """The device is gone: its last will (MQTT) or an explicit goodbye arrived."""

    device_id: str


class _Status(BaseModel):
    model_config = ConfigDict(extra="forbid")
    online: Annotated[bool, Field(strict=True)]


def is_owntracks(payload: bytes) -> bool:
    """An OwnTracks message on a topic we share with our own form (``…/status``): it names its _type,
    which our own status (no other member allowed) cannot."""
    return b'"_type"' in payload


def parse_status(device_id: str, payload: bytes) -> LastWill | None | PayloadError:
    """``{"online": false}`` (the last will devices set) -> LastWill; ``{"online": true}`` -> None."""
    try:
        status = _Status.model_validate_json(payload)
    except ValidationError as e:
        return PayloadError("invalid_payload", _describe(e))
    return None if status.online else LastWill(device_id)


class _Common(BaseModel):
    model_config = ConfigDict(extra="allow")
    lat: Lat
    lon: Lon
    acc: OptNum = None  # negative: unknown (a vehicle tracker's -1), stored as NULL
    alt: OptNum = None
    batt: Annotated[int | None, Field(ge=0, le=100, strict=True)] = None
    vel: OptNum = Field(None, ge=0)
    cog: OptNum = Field(None, ge=0, le=360)


class OwnPosition(_Common):
    model_config = ConfigDict(extra="forbid")
    ts: AwareDatetime | Annotated[int, Field(gt=0, strict=True)]


Message = RadioPosition | LastWill | Transition | Card | DeviceInfo | Ignored | PayloadError


def parse_radio_position(device_id: str, payload: bytes, *, own_form: bool = True) -> list[Message]:
    """One result per message in the payload: what to store, what to count, or why it is refused.
    ``own_form``: our own position form (no ``_type``) is taken too (the position topic); the
    OwnTracks subtopics carry OwnTracks messages only."""
    messages = _messages(payload)
    if isinstance(messages, PayloadError):
        if messages.code == "empty":  # valid in OwnTracks (messages.json): nothing to store
            return [Ignored(device_id, "empty")]
        return [messages]
    return [_one(device_id, item, index, own_form) for index, item in messages]


def _messages(payload: bytes) -> list[tuple[int | None, object]] | PayloadError:
    """The JSON messages of a payload, with their index when it was an array (for the reasons)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return PayloadError("payload_too_large", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return PayloadError("invalid_json", str(e)[:200])
    if not isinstance(doc, list):
        return [(None, doc)]
    if not doc:
        return PayloadError("empty", "empty array")
    return list(enumerate(doc))


def _one(device_id: str, item: object, index: int | None, own_form: bool) -> Message:
    where = f"[{index}] " if index is not None else ""
    if not isinstance(item, dict):
        return PayloadError("invalid_payload", f"{where}not a JSON object")
    if "_type" in item or not own_form:
        return _owntracks(device_id, item, where)
    try:
        m = OwnPosition.model_validate(item)
        raw = m.ts
        ts = raw if isinstance(raw, datetime) else datetime.fromtimestamp(raw, UTC)
    except ValidationError as e:
        return PayloadError("invalid_payload", where + _describe(e))
    except (OverflowError, OSError, ValueError) as e:
        return PayloadError("invalid_timestamp", f"{where}{e}")
    if ts > datetime.now(UTC) + MAX_CLOCK_SKEW:
        return PayloadError("invalid_timestamp", f"{where}timestamp {ts.isoformat()} is in the future")
    if bad := _implausible(m.lon, m.lat, where):
        return bad
    return RadioPosition(
        device_id=device_id,
        device_ts=ts,
        lon=m.lon,
        lat=m.lat,
        accuracy_m=m.acc if m.acc is not None and m.acc >= 0 else None,
        altitude_m=m.alt,
        battery_pct=m.batt,
        speed_kmh=m.vel,
        course_deg=m.cog,
    )


def _owntracks(device_id: str, item: dict, where: str) -> Message:
    """An OwnTracks message: the schema first (ingest/owntracks.py), then what we make of it."""
    try:
        kind = owntracks.check_schema(item)
    except SchemaError as e:
        return PayloadError(e.code, f"{where}{e}")
    if kind == "lwt":
        return LastWill(device_id)  # the broker says the device dropped off
    if kind == "card":
        return owntracks.card(device_id, item)
    if kind == "status":
        return owntracks.status(device_id, item)
    if kind not in ("location", "transition"):
        return Ignored(device_id, kind)
    try:
        ts = owntracks.timestamp(item["tst"])
    except (OverflowError, OSError, ValueError) as e:
        return PayloadError("invalid_timestamp", f"{where}tst: {e}")
    if owntracks.in_future(ts):
        return PayloadError("invalid_timestamp", f"{where}timestamp {ts.isoformat()} is in the future")
    if bad := _implausible(item["lon"], item["lat"], where):
        return bad
    if kind == "transition":
        return owntracks.transition(device_id, item)
    return RadioPosition(
        device_id, ts, float(item["lon"]), float(item["lat"]), **owntracks.optional_measures(item)
    )


@dataclass(frozen=True)
class GaugeObservation:
    device_id: str
    kind: str  # 'rain_10min' | 'level' (sensor.observation.kind)
    device_ts: datetime
    value: float


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Timestamp = AwareDatetime | Annotated[int, Field(gt=0, strict=True)]


class RainPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: Timestamp
    rain_10min_mm: Annotated[Number, Field(ge=0)]


class LevelPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: Timestamp
    level_m: Number


# topic leaf -> (payload model, value field, observation kind)
GAUGE_LEAVES: dict[str, tuple[type[BaseModel], str, str]] = {
    "rain": (RainPayload, "rain_10min_mm", "rain_10min"),
    "level": (LevelPayload, "level_m", "level"),
}


def parse_gauge(device_id: str, leaf: str, payload: bytes) -> list[GaugeObservation | PayloadError]:
    """One result per message in the payload (an object or an array of objects)."""
    model, field_name, kind = GAUGE_LEAVES[leaf]
    messages = _messages(payload)
    if isinstance(messages, PayloadError):
        return [messages]
    out: list[GaugeObservation | PayloadError] = []
    for index, item in messages:
        where = f"[{index}] " if index is not None else ""
        if not isinstance(item, dict):
            out.append(PayloadError("invalid_payload", f"{where}not a JSON object"))
            continue
        try:
            m = model.model_validate(item)
            raw = m.ts  # type: ignore[attr-defined]
            ts = raw if isinstance(raw, datetime) else datetime.fromtimestamp(raw, UTC)
        except ValidationError as e:
            out.append(PayloadError("invalid_payload", where + _describe(e)))
            continue
        except (OverflowError, OSError, ValueError) as e:
            out.append(PayloadError("invalid_timestamp", f"{where}{e}"))
            continue
        if ts > datetime.now(UTC) + MAX_CLOCK_SKEW:
            out.append(
                PayloadError("invalid_timestamp", f"{where}timestamp {ts.isoformat()} is in the future")
            )
            continue
        out.append(GaugeObservation(device_id, kind, ts, float(getattr(m, field_name))))
    return out


@dataclass(frozen=True)
class RadioIncident:
    """A disaster location reported from the field by a radio unit."""

    device_id: str
    device_ts: datetime
    lon: float
    lat: float
    category: str
    title: str
    description: str
    priority: int
    message_id: str | None

    @property
    def source_ref(self) -> str:
        """Its identity: the unit's own message id, or its timestamp (a redelivery is one incident)."""
        return f"{self.device_id}/{self.message_id or self.device_ts.isoformat()}"


class IncidentPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: Timestamp
    lat: Lat
    lon: Lon
    category: Annotated[str, Field(min_length=1, max_length=40, strict=True)]
    title: Annotated[str, Field(max_length=200, strict=True)] = ""
    description: Annotated[str, Field(max_length=2000, strict=True)] = ""
    priority: Annotated[int, Field(ge=1, le=5, strict=True)] = 3
    id: Annotated[str | None, Field(min_length=1, max_length=64, strict=True)] = None


def parse_radio_incident(device_id: str, payload: bytes) -> RadioIncident | PayloadError:
    """``gisapp/v1/radio/{id}/incident``: one JSON object (see docs/mqtt.md)."""
    messages = _messages(payload)
    if isinstance(messages, PayloadError):
        return messages
    if len(messages) != 1 or messages[0][0] is not None:
        return PayloadError("invalid_payload", "an incident report is one JSON object, not an array")
    item = messages[0][1]
    if not isinstance(item, dict):
        return PayloadError("invalid_payload", "not a JSON object")
    try:
        m = IncidentPayload.model_validate(item)
        ts = m.ts if isinstance(m.ts, datetime) else datetime.fromtimestamp(m.ts, UTC)
    except ValidationError as e:
        return PayloadError("invalid_payload", _describe(e))
    except (OverflowError, OSError, ValueError) as e:
        return PayloadError("invalid_timestamp", str(e))
    if ts > datetime.now(UTC) + MAX_CLOCK_SKEW:
        return PayloadError("invalid_timestamp", f"timestamp {ts.isoformat()} is in the future")
    if bad := _implausible(m.lon, m.lat):
        return bad
    return RadioIncident(
        device_id, ts, m.lon, m.lat, m.category, m.title.strip(), m.description, m.priority, m.id
    )


def _implausible(lon: float, lat: float, where: str = "") -> PayloadError | None:
    """A position outside Japan (a unit without a GPS fix sends (0, 0)): dead-lettered with the reason,
    in Japanese and English, since staff read dead letters."""
    code = location_problem(lon, lat)
    if code is None:
        return None
    ja, en = REASONS[code]
    return PayloadError("implausible_location", f"{where}({lon}, {lat}): {en} / {ja}")


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "payload"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
