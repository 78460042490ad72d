"""Statements of the demo loader (layers/demo.py), all with bound parameters, run as executemany.

Upserts rewrite a row only when something in it differs, so loading the same demo again leaves the
rows (and their ids) untouched; the PRUNE statements remove what a smaller or changed demo no longer has.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

UPSERT_LAYER = text(
    """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind, geometry_type,
                              source, licence, source_crs)
       VALUES (:slug, :title_ja, :title_en, :dept, :visibility, :kind, :geometry_type, :source, :licence,
               'EPSG:4326')
       ON CONFLICT (slug) DO UPDATE SET
         title_ja = EXCLUDED.title_ja, title_en = EXCLUDED.title_en,
         owner_department_id = EXCLUDED.owner_department_id, visibility = EXCLUDED.visibility,
         kind = EXCLUDED.kind, geometry_type = EXCLUDED.geometry_type, source = EXCLUDED.source,
         licence = EXCLUDED.licence, source_crs = EXCLUDED.source_crs, updated_at = now()
       RETURNING id"""
)

# 延長 from the geography, in metres.
UPSERT_ROAD = text(
    """INSERT INTO gis.road_segment AS t (layer_id, route_no, route_name, road_class, width_m, length_m,
                                          managing_department_id, geom)
       VALUES (:layer_id, :route_no, :route_name, :road_class, :width_m,
               round(CAST(ST_Length(CAST(ST_GeomFromText(:wkt, 4326) AS geography)) AS numeric), 1),
               :dept, ST_GeomFromText(:wkt, 4326))
       ON CONFLICT (layer_id, route_no) DO UPDATE SET
         route_name = EXCLUDED.route_name, road_class = EXCLUDED.road_class, width_m = EXCLUDED.width_m,
         length_m = EXCLUDED.length_m, managing_department_id = EXCLUDED.managing_department_id,
         geom = EXCLUDED.geom
       WHERE (t.route_name, t.road_class, t.width_m, t.length_m, t.managing_department_id, t.geom)
         IS DISTINCT FROM (EXCLUDED.route_name, EXCLUDED.road_class, EXCLUDED.width_m, EXCLUDED.length_m,
                           EXCLUDED.managing_department_id, EXCLUDED.geom)"""
)
PRUNE_ROADS = text("DELETE FROM gis.road_segment WHERE layer_id = :layer_id AND route_no <> ALL(:keys)")

DELETE_HAZARDS = text("DELETE FROM gis.hazard_area WHERE layer_id = :layer_id")
INSERT_HAZARD = text(
    """INSERT INTO gis.hazard_area (layer_id, hazard_type, depth_rank, name, geom)
       VALUES (:layer_id, :hazard_type, :depth_rank, :name, ST_GeomFromText(:wkt, 4326))"""
)

UPSERT_SHELTER = text(
    """INSERT INTO gis.shelter AS t (layer_id, code, name, address, capacity, is_designated_shelter,
         suits_flood, suits_landslide, suits_storm_surge, suits_earthquake, suits_tsunami, suits_fire,
         suits_inland_flood, suits_volcano, geom)
       VALUES (:layer_id, :code, :name, :address, :capacity, :is_designated_shelter,
         :suits_flood, :suits_landslide, :suits_storm_surge, :suits_earthquake, :suits_tsunami, :suits_fire,
         :suits_inland_flood, :suits_volcano, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
       ON CONFLICT (layer_id, code) DO UPDATE SET
         name = EXCLUDED.name, address = EXCLUDED.address, capacity = EXCLUDED.capacity,
         is_designated_shelter = EXCLUDED.is_designated_shelter, suits_flood = EXCLUDED.suits_flood,
         suits_landslide = EXCLUDED.suits_landslide, suits_storm_surge = EXCLUDED.suits_storm_surge,
         suits_earthquake = EXCLUDED.suits_earthquake, suits_tsunami = EXCLUDED.suits_tsunami,
         suits_fire = EXCLUDED.suits_fire, suits_inland_flood = EXCLUDED.suits_inland_flood,
         suits_volcano = EXCLUDED.suits_volcano, geom = EXCLUDED.geom
       WHERE (t.name, t.address, t.capacity, t.is_designated_shelter, t.suits_flood, t.suits_landslide,
              t.suits_storm_surge, t.suits_earthquake, t.suits_tsunami, t.suits_fire, t.suits_inland_flood,
              t.suits_volcano, t.geom)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.address, EXCLUDED.capacity, EXCLUDED.is_designated_shelter,
              EXCLUDED.suits_flood, EXCLUDED.suits_landslide, EXCLUDED.suits_storm_surge,
              EXCLUDED.suits_earthquake, EXCLUDED.suits_tsunami, EXCLUDED.suits_fire,
              EXCLUDED.suits_inland_flood, EXCLUDED.suits_volcano, EXCLUDED.geom)"""
)
PRUNE_SHELTERS = text("DELETE FROM gis.shelter WHERE layer_id = :layer_id AND code <> ALL(:keys)")

UPSERT_SEWER = text(
    """INSERT INTO gis.sewer_pipe AS t (layer_id, pipe_no, pipe_use, material, diameter_mm, laid_year,
         length_m, managing_department_id, geom)
       VALUES (:layer_id, :pipe_no, :pipe_use, :material, :diameter_mm, :laid_year,
         round(ST_Length(ST_GeomFromText(:wkt, 4326)::geography)::numeric, 1), :dept,
         ST_GeomFromText(:wkt, 4326))
       ON CONFLICT (layer_id, pipe_no) DO UPDATE SET pipe_use = EXCLUDED.pipe_use,
         material = EXCLUDED.material, diameter_mm = EXCLUDED.diameter_mm, laid_year = EXCLUDED.laid_year,
         length_m = EXCLUDED.length_m, managing_department_id = EXCLUDED.managing_department_id,
         geom = EXCLUDED.geom
       WHERE (t.pipe_use, t.material, t.diameter_mm, t.laid_year, t.managing_department_id, t.geom)
         IS DISTINCT FROM (EXCLUDED.pipe_use, EXCLUDED.material, EXCLUDED.diameter_mm, EXCLUDED.laid_year,
              EXCLUDED.managing_department_id, EXCLUDED.geom)"""
)
PRUNE_SEWER = text("DELETE FROM gis.sewer_pipe WHERE layer_id = :layer_id AND pipe_no <> ALL(:keys)")
DELETE_GENERIC = text("DELETE FROM gis.feature WHERE layer_id = :layer_id")

# RLS applies: the caller's transaction carries the admin (or welfare) role.
UPSERT_PERSON = text(
    """INSERT INTO restricted.person_needing_help AS t (layer_id, external_id, name, name_kana, birth_year,
         phone, address, care_category, consent, support_persons, geom)
       VALUES (:layer_id, :external_id, :name, :name_kana, :birth_year, :phone, :address, :care_category,
         :consent, :support_persons, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
       ON CONFLICT (layer_id, external_id) DO UPDATE SET
         name = EXCLUDED.name, name_kana = EXCLUDED.name_kana, birth_year = EXCLUDED.birth_year,
         phone = EXCLUDED.phone, address = EXCLUDED.address, care_category = EXCLUDED.care_category,
         consent = EXCLUDED.consent, support_persons = EXCLUDED.support_persons, geom = EXCLUDED.geom,
         updated_at = now()
       WHERE (t.name, t.name_kana, t.birth_year, t.phone, t.address, t.care_category, t.consent,
              t.support_persons, t.geom)
         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.name_kana, EXCLUDED.birth_year, EXCLUDED.phone,
              EXCLUDED.address, EXCLUDED.care_category, EXCLUDED.consent, EXCLUDED.support_persons,
              EXCLUDED.geom)"""
).bindparams(bindparam("support_persons", type_=JSONB))
# Plans first, explicitly: their foreign key RESTRICTs (migration 0020), no cascade past row-level security.
PRUNE_PLANS = text(
    """DELETE FROM restricted.evacuation_plan ep USING restricted.person_needing_help p
        WHERE p.id = ep.person_id AND p.layer_id = :layer_id AND p.external_id <> ALL(:keys)"""
)
PRUNE_PEOPLE = text(
    "DELETE FROM restricted.person_needing_help WHERE layer_id = :layer_id AND external_id <> ALL(:keys)"
)

UPSERT_AREA = text(
    """INSERT INTO gis.feature AS t (layer_id, source_key, properties, geom)
       VALUES (:layer_id, :code, jsonb_build_object('code', CAST(:code AS text), 'name', CAST(:name AS text)),
               ST_GeomFromText(:wkt, 4326))
       ON CONFLICT (layer_id, source_key) DO UPDATE SET properties = EXCLUDED.properties, geom = EXCLUDED.geom"""
)
PRUNE_GENERIC = text("DELETE FROM gis.feature WHERE layer_id = :layer_id AND source_key <> ALL(:keys)")
