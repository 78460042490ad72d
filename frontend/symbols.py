"""How a state is drawn, one place for every page: shape and colours here, letter and words in the
text catalogue (``symbols.toml``). Pages get ``symbols(lang)`` in their data block and draw markers,
badges and legends from it (lib/map.js ``letterMarker`` / ``legend``), so no page's JS repeats a
status rule, and a state never reads by colour alone.

Shapes keep kinds apart at a glance: incidents are squares/rounded/circles as before (未対応 a red
square), shelters a house (pentagon), gauges a diamond, radio units a small circle (a hexagon when busy, a square off duty). Colours: the
fill is >= 3:1 against the basemap, the letter (``ink``) >= 4.5:1 on the fill.
"""

from __future__ import annotations

from typing import Any

from frontend.catalogue import Lang, text

# kind -> state -> (shape, fill, ink)
_DRAWN: dict[str, dict[str, tuple[str, str, str]]] = {
    "incident": {  # gisapp/ops/incidents.py STATUSES
        "unhandled": ("square", "#b3261e", "#ffffff"),  # 未対応
        "in_progress": ("rounded", "#f2b705", "#1a1a1a"),  # 対応中
        "done": ("circle", "#1e7b34", "#ffffff"),  # 対応済
        "cancelled": ("circle-dashed", "#5f6368", "#ffffff"),  # 取消
    },
    "shelter": {  # ops.congestion_level(): vacant 空き / moderate やや混雑 / crowded 混雑 / full 満員
        "vacant": ("house", "#1e6b34", "#ffffff"),
        "moderate": ("house", "#8a5a00", "#ffffff"),
        "crowded": ("house", "#b35900", "#ffffff"),
        "full": ("house", "#7a1f1f", "#ffffff"),
        "unknown": ("house", "#5f6368", "#ffffff"),
        "closed": ("house-dashed", "#5f6368", "#ffffff"),
    },
    "gauge": {  # the most severe level a gauge has reached (sensors.thresholds: rain 注意/警戒/危険 are
        # ranks 1-3, river 水防団待機水位/氾濫注意水位/避難判断水位/氾濫危険水位 ranks 1-4; rank 0 = none),
        # and the device's state when it is not reporting (offline: last will; silent: not heard from)
        "normal": ("diamond", "#1f5fa8", "#ffffff"),
        "level_1": ("diamond", "#2a6f66", "#ffffff"),
        "level_2": ("diamond", "#8a5a00", "#ffffff"),
        "level_3": ("diamond", "#b3261e", "#ffffff"),
        "level_4": ("diamond", "#5b1a8c", "#ffffff"),
        "silent": ("diamond-dashed", "#5f6368", "#ffffff"),
        "offline": ("diamond-dashed", "#5f6368", "#ffffff"),
    },
    "closure": {  # road closures (通行止め) as residents read them: closed / open again
        "closed": ("square", "#1a1a1a", "#ffffff"),
        "reopened": ("circle-dashed", "#5f6368", "#ffffff"),
    },
    "unit": {
        # Radio units on the HQ map: free (待機 / 帰署: a blue circle), busy (出動中 / 現着: an orange
        # hexagon), off duty (休止: a grey square), and out of contact (silent / offline / never heard:
        # faded — a translucent grey with a dashed ring and dark letter), from the unit board's duty
        # state (gisapp/ops/unit_duty.py) and the device state (/api/devices/status). "online": a unit
        # whose duty is not known (the replay page draws positions only).
        "standby": ("circle", "#0b3d91", "#ffffff"),
        "returning": ("circle", "#0b3d91", "#ffffff"),
        "dispatched": ("hexagon", "#a33a00", "#ffffff"),
        "on_scene": ("hexagon", "#a33a00", "#ffffff"),
        "off_duty": ("square", "#4a4a4a", "#ffffff"),
        "silent": ("circle-dashed", "rgba(95, 99, 104, 0.45)", "#1a1a1a"),
        "offline": ("circle-dashed", "rgba(95, 99, 104, 0.45)", "#1a1a1a"),
        "never": ("circle-dashed", "rgba(95, 99, 104, 0.45)", "#1a1a1a"),
        "online": ("circle", "#0b3d91", "#ffffff"),
    },
}


def symbols(lang: Lang) -> dict[str, dict[str, dict[str, Any]]]:
    """Every kind's states: ``{"incident": {"unhandled": {"shape", "colour", "ink", "letter",
    "label"}, …}, …}`` for the page's language."""
    words = text(lang, "symbols")
    return {
        kind: {
            state: {
                "shape": shape,
                "colour": fill,
                "ink": ink,
                "letter": words[kind][state]["letter"],
                "label": words[kind][state]["label"],
            }
            for state, (shape, fill, ink) in states.items()
        }
        for kind, states in _DRAWN.items()
    }


def symbols_css() -> str:
    """The fill and ink of every state as CSS classes (``.gisapp-symbol-<kind>-<state>``), for badges
    rendered on the server: the page may carry no inline style (CSP), and the colours stay here."""
    return "\n".join(
        f".gisapp-symbol-{kind}-{state} {{ --marker-colour: {fill}; --marker-ink: {ink}; }}"
        for kind, states in _DRAWN.items()
        for state, (_shape, fill, ink) in states.items()
    )
