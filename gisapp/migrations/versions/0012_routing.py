"""Road network for routing (pgRouting): topology of the road ledger and road closures.

- ``gis.road_edge``: the linestring parts of ``gis.road_segment`` (道路台帳), each cut at inner
  vertices where another road meets it, cost and reverse cost in metres (geography),
  ``source``/``target`` in ``gis.road_vertex``. Ends closer than 0.5 m share one vertex.
- The network follows the road ledger by itself: statement triggers on ``gis.road_segment`` rebuild
  the edges of the rows a statement inserted, changed (geometry) or deleted, and of their neighbours.
  They run as the owner (SECURITY DEFINER), so the app's role can read the network but not write it.
  ``gis.rebuild_road_network()`` rebuilds it all (after a restore; run as the owner).
- ``gis.road_closure`` (通行止め): active while ``reopened_at`` is NULL, at most one active closure
  per segment; closed segments are left out of routing. Changes NOTIFY ``gisapp_events`` with
  ``{"type": "road_closure", ...}``.

pgRouting itself is created by a superuser where the cluster is set up (the local stack's bootstrap,
deploy/postgres/initdb): it is not a trusted extension, so the migration role can only check it.
Only ``gisapp_rw`` is granted; the public role gets nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = r"""
DO $$ BEGIN
  CREATE EXTENSION IF NOT EXISTS pgrouting;
EXCEPTION WHEN insufficient_privilege THEN
  -- The network itself needs no pgRouting (migrating a bare test database works); routing does.
  RAISE WARNING 'pgrouting is not installed and this role cannot create it: a superuser must run '
                'CREATE EXTENSION pgrouting before routing is used (pgRouting がありません。管理者が作成してください)';
END $$;

CREATE TABLE gis.road_vertex (
  id    bigserial PRIMARY KEY,
  geom  geometry(Point, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX road_vertex_geom_idx ON gis.road_vertex USING gist (geom);

CREATE TABLE gis.road_edge (
  id               bigserial PRIMARY KEY,
  road_segment_id  bigint NOT NULL REFERENCES gis.road_segment(id) ON DELETE CASCADE,
  part             int NOT NULL,              -- 1-based part of the MultiLineString
  seq              int NOT NULL,              -- 1-based piece of the part, split at junctions
  source           bigint NOT NULL REFERENCES gis.road_vertex(id),
  target           bigint NOT NULL REFERENCES gis.road_vertex(id),
  cost             double precision NOT NULL, -- metres, source → target
  reverse_cost     double precision NOT NULL, -- metres, target → source (one-way roads: -1)
  geom             geometry(LineString, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  UNIQUE (road_segment_id, part, seq)
);
CREATE INDEX road_edge_geom_idx ON gis.road_edge USING gist (geom);
CREATE INDEX road_edge_source_idx ON gis.road_edge (source);
CREATE INDEX road_edge_target_idx ON gis.road_edge (target);

-- Tolerances: 0.5 m on the geography; 1e-5° (over 0.5 m in both axes up to 60°N) as the bounding
-- test that lets the GiST indexes find the candidates first.

-- The vertex at p: an existing one within 0.5 m, else a new one.
CREATE FUNCTION gis.road_vertex_at(p geometry) RETURNS bigint
  LANGUAGE plpgsql SET search_path = gis, public AS $f$
DECLARE
  v bigint;
BEGIN
  SELECT id INTO v FROM gis.road_vertex
   WHERE ST_DWithin(geom, p, 0.00001) AND ST_DWithin(geom::geography, p::geography, 0.5)
   ORDER BY geom <-> p LIMIT 1;
  IF v IS NULL THEN
    INSERT INTO gis.road_vertex (geom) VALUES (p) RETURNING id INTO v;
  END IF;
  RETURN v;
END $f$;

-- Edges of the given segments: each part is cut at its inner vertices where another road (or another
-- part) passes within 0.5 m, so ways that share a node mid-way (OpenStreetMap, route-long ledger
-- lines) meet there; a road that crosses without a shared vertex (a bridge over it) does not.
CREATE FUNCTION gis.road_network_add(segment_ids bigint[]) RETURNS void
  LANGUAGE plpgsql SET search_path = gis, public AS $f$
DECLARE
  r record;
  pts geometry[];
  cuts int[];
  i int;
  piece geometry;
  src bigint;
  tgt bigint;
  len double precision;
BEGIN
  -- One piece at a time: a later piece's ends must find the vertices an earlier one made.
  FOR r IN SELECT s.id, s.geom AS whole, d.path[1] AS part, d.geom
             FROM gis.road_segment s CROSS JOIN LATERAL ST_Dump(s.geom) d
            WHERE s.id = ANY(segment_ids) ORDER BY s.id, d.path[1] LOOP
    pts := ARRAY(SELECT p.geom FROM ST_DumpPoints(r.geom) p ORDER BY p.path[1]);
    cuts := ARRAY(
      SELECT k FROM generate_subscripts(pts, 1) k
       WHERE k > 1 AND k < cardinality(pts)
         AND (EXISTS (SELECT 1 FROM gis.road_segment o
                       WHERE o.id <> r.id AND ST_DWithin(o.geom, pts[k], 0.00001)
                         AND ST_DWithin(o.geom::geography, pts[k]::geography, 0.5))
              OR EXISTS (SELECT 1 FROM ST_Dump(r.whole) o
                          WHERE o.path[1] <> r.part AND ST_DWithin(o.geom, pts[k], 0.00001)
                            AND ST_DWithin(o.geom::geography, pts[k]::geography, 0.5)))
       ORDER BY k);
    cuts := 1 || cuts || cardinality(pts);
    FOR i IN 1 .. cardinality(cuts) - 1 LOOP
      piece := ST_MakeLine(pts[cuts[i] : cuts[i + 1]]);  -- spaced: SQLAlchemy reads colon+word as a bind
      src := gis.road_vertex_at(pts[cuts[i]]);
      tgt := gis.road_vertex_at(pts[cuts[i + 1]]);
      len := ST_Length(piece::geography);
      INSERT INTO gis.road_edge (road_segment_id, part, seq, source, target, cost, reverse_cost, geom)
      VALUES (r.id, r.part, i, src, tgt, len, len, piece);
    END LOOP;
  END LOOP;
END $f$;

-- Vertices near the given lines that no edge uses any more.
CREATE FUNCTION gis.road_network_prune(near geometry[]) RETURNS void
  LANGUAGE sql SET search_path = gis, public AS $f$
  DELETE FROM gis.road_vertex v
   WHERE v.id IN (SELECT v2.id FROM gis.road_vertex v2 JOIN unnest(near) g ON ST_DWithin(v2.geom, g, 0.00001))
     AND NOT EXISTS (SELECT 1 FROM gis.road_edge e WHERE e.source = v.id)
     AND NOT EXISTS (SELECT 1 FROM gis.road_edge e WHERE e.target = v.id)
$f$;

-- Rebuild the edges of the segments a statement changed and of the segments they touch (before or
-- after), whose cuts may change with them. The result depends on the ledger only.
CREATE FUNCTION gis.road_network_sync() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = gis, public AS $f$
DECLARE
  changed bigint[];
  touched geometry[];
  rebuild bigint[];
BEGIN
  -- One writer of the network at a time, so two imports cannot make twin vertices.
  PERFORM pg_advisory_xact_lock(hashtext('gis.road_network'));
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM gis.road_vertex v WHERE NOT EXISTS (SELECT 1 FROM gis.road_edge e WHERE e.source = v.id)
                                    AND NOT EXISTS (SELECT 1 FROM gis.road_edge e WHERE e.target = v.id);
    RETURN NULL;
  ELSIF TG_OP = 'INSERT' THEN
    changed := ARRAY(SELECT id FROM new_rows);
    touched := ARRAY(SELECT geom FROM new_rows);
  ELSIF TG_OP = 'UPDATE' THEN
    -- Attribute-only updates (route name, width …) leave the network alone.
    changed := ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o USING (id) WHERE n.geom IS DISTINCT FROM o.geom);
    touched := ARRAY(SELECT geom FROM new_rows WHERE id = ANY(changed)
                     UNION ALL SELECT geom FROM old_rows WHERE id = ANY(changed));
  ELSE  -- DELETE: the foreign key has already cascaded to the segments' own edges.
    changed := ARRAY(SELECT id FROM old_rows);
    touched := ARRAY(SELECT geom FROM old_rows);
  END IF;
  IF cardinality(changed) = 0 THEN
    RETURN NULL;
  END IF;
  rebuild := ARRAY(
    SELECT s.id FROM gis.road_segment s WHERE s.id = ANY(changed)
    UNION
    SELECT s.id FROM gis.road_segment s JOIN unnest(touched) g ON ST_DWithin(s.geom, g, 0.00001));
  touched := touched || ARRAY(SELECT geom FROM gis.road_edge WHERE road_segment_id = ANY(rebuild));
  DELETE FROM gis.road_edge WHERE road_segment_id = ANY(rebuild);
  PERFORM gis.road_network_prune(touched);
  PERFORM gis.road_network_add(rebuild);
  RETURN NULL;
END $f$;

CREATE TRIGGER road_network_insert AFTER INSERT ON gis.road_segment REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gis.road_network_sync();
CREATE TRIGGER road_network_update AFTER UPDATE ON gis.road_segment
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gis.road_network_sync();
CREATE TRIGGER road_network_delete AFTER DELETE ON gis.road_segment REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION gis.road_network_sync();
CREATE TRIGGER road_network_truncate AFTER TRUNCATE ON gis.road_segment
  FOR EACH STATEMENT EXECUTE FUNCTION gis.road_network_sync();

CREATE FUNCTION gis.rebuild_road_network() RETURNS void
  LANGUAGE plpgsql SET search_path = gis, public AS $f$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('gis.road_network'));
  DELETE FROM gis.road_edge;
  DELETE FROM gis.road_vertex;
  PERFORM gis.road_network_add(ARRAY(SELECT id FROM gis.road_segment));
END $f$;

SELECT gis.rebuild_road_network();

-- 通行止め road closures
CREATE TABLE gis.road_closure (
  id               bigserial PRIMARY KEY,
  road_segment_id  bigint NOT NULL REFERENCES gis.road_segment(id) ON DELETE CASCADE,
  reason           text NOT NULL CHECK (btrim(reason) <> ''),
  closed_at        timestamptz NOT NULL DEFAULT now(),
  reopened_at      timestamptz,              -- NULL: still closed
  created_by       text NOT NULL,
  reopened_by      text,
  CHECK (reopened_at IS NULL OR reopened_at >= closed_at),
  CHECK ((reopened_at IS NULL) = (reopened_by IS NULL))
);
CREATE UNIQUE INDEX road_closure_active_idx ON gis.road_closure (road_segment_id) WHERE reopened_at IS NULL;

CREATE FUNCTION gis.notify_road_closure() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'road_closure', 'id', NEW.id, 'road_segment_id', NEW.road_segment_id,
    'active', NEW.reopened_at IS NULL)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER road_closure_notify AFTER INSERT OR UPDATE ON gis.road_closure
  FOR EACH ROW EXECUTE FUNCTION gis.notify_road_closure();

-- Functions are executable by PUBLIC by default: the network is written by the triggers only.
REVOKE ALL ON FUNCTION gis.road_vertex_at(geometry), gis.road_network_add(bigint[]),
  gis.road_network_prune(geometry[]), gis.road_network_sync(), gis.rebuild_road_network() FROM PUBLIC;
GRANT SELECT ON gis.road_vertex, gis.road_edge TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE, DELETE ON gis.road_closure TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE gis.road_closure_id_seq TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP TABLE gis.road_closure;
DROP FUNCTION gis.notify_road_closure();
DROP TRIGGER road_network_insert ON gis.road_segment;
DROP TRIGGER road_network_update ON gis.road_segment;
DROP TRIGGER road_network_delete ON gis.road_segment;
DROP TRIGGER road_network_truncate ON gis.road_segment;
DROP FUNCTION gis.rebuild_road_network();
DROP FUNCTION gis.road_network_sync();
DROP FUNCTION gis.road_network_prune(geometry[]);
DROP FUNCTION gis.road_network_add(bigint[]);
DROP FUNCTION gis.road_vertex_at(geometry);
DROP TABLE gis.road_edge;
DROP TABLE gis.road_vertex;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
