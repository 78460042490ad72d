"""The MQTT topic contract (see docs/mqtt.md).

    gisapp/v1/radio/{device_id}/position   radio-unit position (our JSON or any OwnTracks message)
    gisapp/v1/radio/{device_id}/{sub}      the OwnTracks app's subtopics (event, info, waypoint, …), with
                                           the app's base topic set to …/{device_id} or …/{device_id}/position
    gisapp/v1/radio/{device_id}/incident   a disaster location reported from the field (→ HQ incident)
    gisapp/v1/gauge/{device_id}/rain       rain gauge: rainfall in the 10 minutes ending at ts
    gisapp/v1/gauge/{device_id}/level      water gauge: water level in metres

The device id in the topic is the authenticated MQTT username (the ACL enforces it), so the payload
never decides which device it is.
"""

from __future__ import annotations

import re

TOPIC_ROOT = "gisapp/v1"
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

# device kind -> topic segment
KIND_SEGMENT = {"radio_unit": "radio", "rain_gauge": "gauge", "water_gauge": "gauge"}


def device_topic_filter(kind: str, device_id: str) -> str:
    return f"{TOPIC_ROOT}/{KIND_SEGMENT[kind]}/{device_id}/#"


def radio_position_topic(device_id: str) -> str:
    return f"{TOPIC_ROOT}/radio/{device_id}/position"


def radio_incident_topic(device_id: str) -> str:
    return f"{TOPIC_ROOT}/radio/{device_id}/incident"


# gauge topic leaf -> the device kind allowed to publish it
GAUGE_LEAF_KIND = {"rain": "rain_gauge", "level": "water_gauge"}


def gauge_topic(device_id: str, leaf: str) -> str:
    if leaf not in GAUGE_LEAF_KIND:
        raise ValueError(f"unknown gauge topic leaf {leaf!r}")
    return f"{TOPIC_ROOT}/gauge/{device_id}/{leaf}"


# What an OwnTracks app publishes below its base topic (booklet: "Topics"); its base topic itself is
# the position topic. ``status`` is shared with our own ``{"online": …}`` form.
OWNTRACKS_SUBTOPICS = frozenset(
    {"event", "info", "waypoint", "waypoints", "step", "steps", "status", "cmd", "request", "dump", "beacon"}
)


def parse(topic: str) -> tuple[str, str, str] | None:
    """'gisapp/v1/radio/R001/position' -> ('radio', 'R001', 'position'); None if not ours.

    An OwnTracks app whose base topic is ``gisapp/v1/radio/R001`` publishes locations there (leaf
    'position') and the rest on ``…/R001/event`` etc.; with ``…/R001/position`` as its base, on
    ``…/R001/position/event`` (leaf 'event'). The ACL (``…/R001/#``) allows all of them."""
    parts = topic.split("/")
    if "/".join(parts[:2]) != TOPIC_ROOT or len(parts) not in (4, 5, 6):
        return None
    segment, device_id = parts[2], parts[3]
    if not DEVICE_ID_RE.match(device_id):
        return None
    if len(parts) == 4:
        return (segment, device_id, "position") if segment == "radio" else None
    if len(parts) == 6:
        if segment != "radio" or parts[4] != "position" or parts[5] not in OWNTRACKS_SUBTOPICS:
            return None
        return segment, device_id, parts[5]
    return segment, device_id, parts[4]
