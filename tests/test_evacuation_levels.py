"""GET /api/evacuation-info/levels: the words and colours of 警戒レベル 3–5 and the hazards, as
gisapp/ops/evac_levels.py has them (the HQ map's issue form names every level from here)."""

from __future__ import annotations

from gisapp.ops import evac_levels
from tests.fixtures_data import seed


def test_staff_read_every_level_and_hazard_with_their_words(client, app_engine):
    s = seed(app_engine, "evlv")
    r = client.get("/api/evacuation-info/levels", headers=s.bearer(client, "staff"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [lv["level"] for lv in doc["levels"]] == [3, 4, 5]
    five = doc["levels"][2]
    assert (five["name_ja"], five["colour"], five["text_colour"]) == ("緊急安全確保", "#0c000c", "#ffffff")
    assert five["level_label_ja"] == "警戒レベル5" and five["action_ja"] == evac_levels.LEVELS[5].action_ja
    hazards = {h["hazard"]: (h["hazard_ja"], h["hazard_en"]) for h in doc["hazards"]}
    assert hazards == evac_levels.HAZARDS


def test_anonymous_is_refused(client):
    r = client.get("/api/evacuation-info/levels")
    assert r.status_code == 401
    assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]
