"""The printable situation map (状況図): a PDF page drawn from our own layers, no internet.

``frame`` places the ground on paper at a true scale in the city's plane-rectangular zone,
``basemap`` reads our own layers clipped and simplified for that scale, ``pdf`` draws the page
(reportlab, with an embedded Japanese font). The HQ's content (incidents, shelters, units …) is
gathered by gisapp/ops/situation_map.py and handed here as plain values.
"""
