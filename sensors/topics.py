"""The MQTT topic contract (see docs/mqtt.md).

    gisapp/v1/radio/{device_id}/position   radio-unit position (our JSON or OwnTracks location JSON)

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


def parse(topic: str) -> tuple[str, str, str] | None:
    """'gisapp/v1/radio/R001/position' -> ('radio', 'R001', 'position'); None if not ours."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != TOPIC_ROOT:
        return None
    _, _, segment, device_id, leaf = parts
    if not DEVICE_ID_RE.match(device_id):
        return None
    return segment, device_id, leaf
