"""The unit board (無線機・班の状況): every radio unit and team with its duty state, its communication
state, its last position and battery, and the incident it is on; and the dispatch recommendations,
which leave out the units the HQ cannot send — out of contact (通信途絶), off duty (休止) or busy — and
list the first two apart with the reason, so the HQ knows why a near unit is missing.

A unit on an assignment not cleared reads 出動中 / 現着 from the assignment itself, whatever the
duty events say (assignments made before duty events existed stay right).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from gisapp.ops import dispatch
from gisapp.ops.unit_duty import COMM_STATES, DUTY_STATES, NOT_REPORTING
from layers.routing import recommend_units

_UNITS = text(
    """SELECT d.id AS device_id, d.name, h.state AS comm_state, h.last_seen, h.last_will_at, s.silent_since,
              p.device_ts AS position_ts, p.battery_pct, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
              CASE WHEN a.state IN ('dispatched', 'on_scene') THEN a.state
                   ELSE coalesce(e.state, 'standby') END AS duty_state,
              coalesce(e.at, a.dispatched_at) AS duty_since,
              t.id AS team_id, t.name AS team_name,
              a.id AS assignment_id, a.incident_id, i.title AS incident_title,
              ST_Distance(CAST(p.geom AS geography),
                          CAST(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geography)) AS straight_m
         FROM sensor.device d
         JOIN sensor.device_health h ON h.device_id = d.id
         LEFT JOIN sensor.device_status s ON s.device_id = d.id
         LEFT JOIN LATERAL (SELECT rp.geom, rp.device_ts, rp.battery_pct FROM sensor.radio_position rp
                             WHERE rp.device_id = d.id ORDER BY rp.device_ts DESC LIMIT 1) p ON true
         LEFT JOIN LATERAL (SELECT de.state, de.at FROM ops.duty_event de
                             WHERE de.unit_id = d.id ORDER BY de.id DESC LIMIT 1) e ON true
         LEFT JOIN ops.team t ON t.radio_unit_id = d.id
         LEFT JOIN ops.assignment a ON a.unit_id = d.id AND a.state <> 'cleared'
         LEFT JOIN ops.incident i ON i.id = a.incident_id
        WHERE d.kind = 'radio_unit' AND d.enabled
        ORDER BY d.id"""
)

_TEAMS = text(
    """SELECT t.id AS team_id, t.name, t.radio_unit_id, d.name AS radio_name, h.state AS comm_state,
              CASE WHEN a.state IN ('dispatched', 'on_scene') THEN a.state
                   ELSE coalesce(e.state, 'standby') END AS duty_state,
              coalesce(e.at, a.dispatched_at) AS duty_since,
              a.id AS assignment_id, a.incident_id, i.title AS incident_title
         FROM ops.team t
         LEFT JOIN sensor.device d ON d.id = t.radio_unit_id
         LEFT JOIN sensor.device_health h ON h.device_id = d.id
         LEFT JOIN LATERAL (SELECT de.state, de.at FROM ops.duty_event de
                             WHERE de.team_id = t.id ORDER BY de.id DESC LIMIT 1) e ON true
         LEFT JOIN ops.assignment a ON a.team_id = t.id AND a.state <> 'cleared'
         LEFT JOIN ops.incident i ON i.id = a.incident_id
        WHERE t.active
        ORDER BY t.id"""
)


def _words(row: dict) -> dict:
    row["duty_ja"], row["duty_en"] = DUTY_STATES[row["duty_state"]]
    comm = row.get("comm_state")
    if comm is not None:
        row["comm_ja"], row["comm_en"] = COMM_STATES[comm]
    return row


def units(conn: Connection, lon: float | None = None, lat: float | None = None) -> list[dict]:
    """Every enabled radio unit (with ``straight_m`` from (lon, lat) when given)."""
    rows = conn.execute(_UNITS, {"lon": lon, "lat": lat})
    return [_words(dict(r._mapping)) for r in rows]


def board(conn: Connection) -> dict:
    """The board: ``units`` and ``teams``, each with duty and communication states in both languages."""
    out = []
    for u in units(conn):
        u.pop("straight_m")
        out.append(u)
    return {"units": out, "teams": [_words(dict(r._mapping)) for r in conn.execute(_TEAMS)]}


def unavailable_reason(unit: dict) -> str | None:
    """Why the HQ cannot send this unit now: 'offline' / 'silent' (通信途絶), 'off_duty' (休止), 'busy'."""
    if unit["assignment_id"] is not None:
        return "busy"
    if unit["comm_state"] in NOT_REPORTING:
        return unit["comm_state"]
    if unit["duty_state"] == "off_duty":
        return "off_duty"
    return None


REASONS = {  # reason: (日本語, English)
    "offline": ("通信途絶", "Out of contact"),
    "silent": ("通信途絶", "Out of contact"),
    "off_duty": ("休止", "Off duty"),
}


def recommendations(conn: Connection, lon: float, lat: float, limit: int = 5) -> dict:
    """``units``: the nearest units the HQ can send, by ETA (layers.routing); ``unavailable``: the units
    near enough to matter that are out of contact or off duty, nearest first, each with its reason.
    Busy units are in neither (the incident panel shows whom each incident holds)."""
    every = units(conn, lon, lat)
    reason = {u["device_id"]: unavailable_reason(u) for u in every}
    exclude = {d for d, r in reason.items() if r is not None} | dispatch.busy_units(conn)
    found = recommend_units(conn, lon, lat, limit=limit, exclude=frozenset(exclude))
    by_id = {u["device_id"]: u for u in every}
    recommended = []
    for rec in found:
        unit = by_id.get(rec.device_id, {})
        recommended.append(
            {**rec.as_json(), "duty_state": unit.get("duty_state", "standby"),
             "comm_state": unit.get("comm_state")}
        )  # fmt: skip
    apart = sorted(
        (u for u in every if reason[u["device_id"]] in REASONS and u["straight_m"] is not None),
        key=lambda u: (u["straight_m"], u["device_id"]),
    )[:limit]
    return {
        "units": recommended,
        "unavailable": [
            {
                "device_id": u["device_id"],
                "name": u["name"],
                "reason": reason[u["device_id"]],
                "reason_ja": REASONS[reason[u["device_id"]]][0],
                "reason_en": REASONS[reason[u["device_id"]]][1],
                "comm_state": u["comm_state"],
                "comm_ja": u["comm_ja"],
                "comm_en": u["comm_en"],
                "duty_state": u["duty_state"],
                "last_seen": u["last_seen"],
                "position_ts": u["position_ts"],
                "straight_m": round(float(u["straight_m"]), 1),
                "lon": u["lon"],
                "lat": u["lat"],
            }
            for u in apart
        ],
    }
