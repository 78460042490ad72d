"""OpenStreetMap XML roads: ways tagged ``highway=*``.

GDAL's OSM driver does not know JOSM working files, whose ``action='delete'`` elements are deleted
edits still present in the file, and it turns closed ``highway`` ways into areas. So the XML is read
here (streamed with ElementTree) and shapely builds the lines.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely import LineString

from layers.importers.errors import Problem
from layers.importers.read import Source, unreadable

OSM_CRS = "EPSG:4326"


def read_osm(path: Path) -> Source:
    nodes: dict[str, tuple[float, float]] = {}
    ways: list[tuple[str, list[str], dict[str, str]]] = []
    try:
        for _, el in ET.iterparse(path, events=("end",)):
            if el.tag not in ("node", "way"):
                continue
            if el.get("action") != "delete":
                if el.tag == "node":
                    nodes[el.get("id", "")] = (float(el.get("lon", "nan")), float(el.get("lat", "nan")))
                else:
                    tags = {t.get("k", ""): t.get("v", "") for t in el.iter("tag")}
                    if "highway" in tags:
                        ways.append((el.get("id", ""), [nd.get("ref", "") for nd in el.iter("nd")], tags))
            el.clear()
    except (ET.ParseError, ValueError) as e:
        raise unreadable(f"OSM XML: {e}") from e

    rejected: list[Problem] = []
    records, geoms, numbers = [], [], []
    for n, (way_id, refs, tags) in enumerate(ways, start=1):
        missing = [r for r in refs if r not in nodes]
        if missing or len(refs) < 2:
            rejected.append(
                Problem(
                    n,
                    f"way {way_id}: 節点が足りません（欠落 {len(missing)}）",
                    f"way {way_id}: missing nodes ({len(missing)}) or fewer than two",
                    key=way_id,
                )
            )
            continue
        records.append({"osm_id": way_id, **tags})
        geoms.append(LineString([nodes[r] for r in refs]))
        numbers.append(n)
    frame = gpd.GeoDataFrame(
        pd.DataFrame(records, index=pd.Index(numbers, dtype="int64")), geometry=geoms, crs=OSM_CRS
    )
    return Source(frame, "osm", OSM_CRS, rejected)
