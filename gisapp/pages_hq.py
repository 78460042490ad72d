"""The HQ map page (災害対策本部 地図): the template, its modules and the rules its JS draws with.

Status rules come from the domain here, not from the JS: which incident status may follow which
(``ops.incidents.TRANSITIONS``), which assignment state may follow which (``ops.dispatch.NEXT_STATES``),
the congestion levels of a shelter, which gauge level is how severe (``sensors.thresholds``) and
which device states count as not reporting. How each state is drawn comes from ``frontend.symbols``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from frontend.catalogue import normalise_lang
from frontend.render import RenderedPage, render_page
from frontend.symbols import symbols
from gisapp.ops.damage import fields_json as damage_fields
from gisapp.ops.dispatch import NEXT_STATES, NO_DISPATCH_STATUSES
from gisapp.ops.evac_info import ISSUE_LEVELS
from gisapp.ops.evac_levels import HAZARDS
from gisapp.ops.incidents import STATUSES, TRANSITIONS
from gisapp.ops.shelters import LEVEL_LABELS
from gisapp.ops.unit_duty import DUTY_STATES, SET_BY_HQ
from sensors.thresholds import RAIN_LEVELS, WATER_LEVELS

# Device states (/api/devices/status) drawn as "not reporting": the last will came, or silent too long.
NOT_REPORTING = ("offline", "silent")

TEXT_SECTIONS = (
    "hq", "hq_incidents", "hq_shelters", "hq_gauges", "hq_evacinfo", "hq_log", "hq_units", "hq_damage", "symbols",
)  # fmt: skip


def hq_rules() -> dict[str, Any]:
    """The rules the page applies, as data: ``incident_statuses`` in order, ``transitions`` (status →
    allowed next statuses, in the order of ``incident_statuses``), ``dispatchable`` (statuses that take a dispatch), ``assignment_next``,
    ``congestion_levels``, ``gauge_level_state`` (a level name → the gauge symbol's state: its rank
    among its kind's levels, 1 = the lowest) ``not_reporting`` (device states), ``evac_issue_levels`` and ``evac_hazards`` (what an
    evacuation order may be issued with), ``duty_states`` in order and ``duty_set_by_hq`` (the unit
    board), ``unit_legend`` (the unit symbols the HQ map draws, in legend order)."""
    order = list(STATUSES)
    gauge_state = {
        name: f"level_{i + 1}" for levels in (RAIN_LEVELS, WATER_LEVELS) for i, name in enumerate(levels)
    }
    return {
        "incident_statuses": order,
        "transitions": {s: [t for t in order if t in TRANSITIONS[s]] for s in order},
        "dispatchable": [s for s in order if s not in NO_DISPATCH_STATUSES],
        "assignment_next": {
            s: sorted(nxt, key=["on_scene", "cleared"].index) for s, nxt in NEXT_STATES.items()
        },
        "congestion_levels": list(LEVEL_LABELS),
        "gauge_level_state": gauge_state,
        "gauge_states": ["normal", "level_1", "level_2", "level_3", "level_4"],
        "not_reporting": list(NOT_REPORTING),
        "evac_issue_levels": list(ISSUE_LEVELS),
        "evac_hazards": list(HAZARDS),
        "duty_states": list(DUTY_STATES),
        "duty_set_by_hq": list(SET_BY_HQ),
        "unit_legend": [*DUTY_STATES, *NOT_REPORTING, "never"],
    }


def hq_page(lang: str = "ja", offline: bool = False, query: Mapping[str, str] | None = None) -> RenderedPage:
    """The page for ``lang``; ``query`` is kept in the language links (``lang`` replaced)."""
    code = normalise_lang(lang)
    drawn = symbols(code)
    return render_page(
        "hq.html",
        lang=code,
        path="/hq",
        query=query or {},
        entry="pages/hq.js",
        styles=[
            "vendor/leaflet/leaflet.css",
            "css/hq_incidents.css",
            "css/hq_gauges.css",
            "css/hq_evacinfo.css",
            "css/hq_damage.css",
            "css/hq.css",
        ],
        scripts=["vendor/leaflet/leaflet.js", "vendor/chartjs/chart.umd.js"],
        # JSON objects lose their order on the way (tojson sorts keys): the order of each kind's states
        # (for legends) travels as lists.
        data={
            "symbols": drawn,
            "symbol_order": {kind: list(states) for kind, states in drawn.items()},
            "rules": hq_rules(),
            "damage_fields": damage_fields(code),  # 被害報: the 第4号様式 figures with their labels
        },
        text_sections=TEXT_SECTIONS,
        offline=offline,
        nav_query="?lang=en" if code == "en" else "",
    )
