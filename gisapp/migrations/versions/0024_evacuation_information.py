"""Evacuation information (避難情報): JMA telegrams in, 警戒レベル相当 and 発令基準 as data, suggestions,
issuances with their versions, the public's view of them, and the HQ log (the start of a クロノロジー).

Sections (each owned by one part of the code; docs/evacuation-info.md describes the whole loop):

1. JMA 防災情報XML (``ingest/jmaxml.py`` parses, ``gisapp/ops/jma.py`` stores):
   - ``ops.jma_telegram``: every telegram that concerns this municipality, once (by its bytes' hash),
     with ``applied = false`` when it arrived after a newer one of the same event (changed nothing).
   - ``ops.jma_condition``: what is in force per area, replaced by each newer telegram of the same
     event; a 取消 removes the event's rows.
   - ``ops.jma_feed``: per polled Atom feed, its validators and its last success / error.
2. ``ops.alert_level_rule``: 警戒レベル相当 of a JMA kind or a gauge level (Cabinet Office guideline),
   data, not code.
3. ``ops.issuance_criterion`` (発令基準), ``ops.evac_area`` (the 町丁目/自治会 polygons orders target),
   ``ops.evac_suggestion`` (what the criteria suggest; a person decides).
4. ``ops.evac_order`` (one row per 避難情報, its current version) and ``ops.evac_order_version``
   (append-only: issue, change of level, change of areas, cancel), NOTIFYing ``gisapp_events``.
   ``pub.evac_order`` / ``pub.evac_order_version`` are what the citizen-facing role may read.
5. ``ops.hq_log``: time-ordered entries written by triggers (issuances, suggestions, applied JMA
   telegrams, gauge alerts) and by people; NOTIFYs ``gisapp_events``.
6. ``sensor.alert`` gets an acknowledgement (who, when) and its 警戒レベル相当 (filled by a trigger from
   ``ops.alert_level_rule``); alerts into or out of a level with one go into the HQ log. The 要支援者
   priority's ``restricted.person_hazard`` also records the kinds of hazard area of each residence.
7. Public outputs (``gisapp/ops/evac_public.py``, ``gisapp/evac_watch.py``): each order version also
   NOTIFYs ``gisapp_public`` with nothing but public values, so the citizen-facing instance listens there
   and never receives the internal events of ``gisapp_events``.
8. The suggestion engine: ``ops.refresh_evac_suggestions()``, run at commit by deferred triggers.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ======================================================================== 1. JMA 防災情報XML
CREATE TABLE ops.jma_telegram (
  id           bigserial PRIMARY KEY,
  info_kind    text NOT NULL CHECK (info_kind IN ('気象警報・注意報', '土砂災害警戒情報', '指定河川洪水予報')),
  event_id     text NOT NULL,
  serial       int,                         -- NULL where the telegram has none (気象警報・注意報)
  info_type    text NOT NULL CHECK (info_type IN ('発表', '訂正', '取消')),
  title        text NOT NULL,
  headline     text NOT NULL DEFAULT '',
  office       text NOT NULL DEFAULT '',
  report_at    timestamptz NOT NULL,        -- Head/ReportDateTime
  source       text NOT NULL,               -- 'feed:<url>' or 'file:<name>'
  sha256       text NOT NULL UNIQUE,        -- the same telegram twice is stored once
  applied      boolean NOT NULL,            -- false: an older one arriving late; it changed nothing
  area_codes   text[] NOT NULL DEFAULT '{}',  -- our areas it speaks of (in force or not): 気象警報 replace by area
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jma_telegram_event_idx ON ops.jma_telegram (info_kind, event_id, report_at);

CREATE TABLE ops.jma_condition (
  info_kind    text NOT NULL,
  event_id     text NOT NULL,
  area_code    text NOT NULL,               -- JMA area code (気象情報／市町村等 etc.), as in the telegram
  area_name    text NOT NULL,
  kind_name    text NOT NULL,               -- 大雨警報, 土砂災害警戒情報, 氾濫危険情報 …
  kind_code    text NOT NULL DEFAULT '',
  condition    text NOT NULL DEFAULT '',    -- 土砂災害 / 浸水害 / … (大雨警報's Condition)
  status       text NOT NULL,               -- 発表 / 継続 / 警戒 / 切替 …
  river        text NOT NULL DEFAULT '',    -- 指定河川洪水予報: the river (e.g. 揖斐川)
  hazard       text CHECK (hazard IN ('landslide', 'flood', 'inland_flood')),
  alert_level  smallint CHECK (alert_level BETWEEN 1 AND 5),   -- 警戒レベル相当 (ops.alert_level_rule)
  telegram_id  bigint NOT NULL REFERENCES ops.jma_telegram(id),
  since        timestamptz NOT NULL,
  -- One row per Condition part: 大雨特別警報 with 土砂災害、浸水害 is two rows (landslide, inland_flood).
  PRIMARY KEY (info_kind, event_id, area_code, kind_name, condition)
);

CREATE TABLE ops.jma_feed (
  url            text PRIMARY KEY,
  etag           text,
  last_modified  text,
  polled_at      timestamptz,
  ok_at          timestamptz,
  error          text,
  error_at       timestamptz,
  entries_seen   int NOT NULL DEFAULT 0,
  -- The Atom ids of the entries already handled that are still in the feed: a poll fetches only new
  -- telegrams (ids that left the feed are dropped, so this stays as small as the feed).
  entry_ids      text[] NOT NULL DEFAULT '{}'
);

-- ======================================================================== 2. 警戒レベル相当 (data)
CREATE TABLE ops.alert_level_rule (
  id      serial PRIMARY KEY,
  source  text NOT NULL CHECK (source IN ('jma', 'gauge')),
  -- jma: the kind name, with the Condition in parentheses where it matters: 大雨警報(土砂災害);
  -- gauge: the level name of sensor.alert.level_to (氾濫危険水位, 危険, …) and, for rain, the measure
  match   text NOT NULL,
  hazard  text NOT NULL CHECK (hazard IN ('landslide', 'flood', 'inland_flood')),
  level   smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
  note    text NOT NULL DEFAULT '',
  UNIQUE (source, match, hazard)
);
-- 内閣府「避難情報に関するガイドライン」(令和3年5月, 令和4年9月改定) の 警戒レベル相当情報.
INSERT INTO ops.alert_level_rule (source, match, hazard, level, note) VALUES
  ('jma', '大雨特別警報(土砂災害)', 'landslide', 5, '警戒レベル5相当'),
  ('jma', '大雨特別警報(浸水害)', 'inland_flood', 5, '警戒レベル5相当'),
  ('jma', '大雨特別警報', 'landslide', 5, 'Condition の無い大雨特別警報'),
  ('jma', '土砂災害警戒情報', 'landslide', 4, '警戒レベル4相当'),
  ('jma', '氾濫発生情報', 'flood', 5, '警戒レベル5相当'),
  ('jma', '氾濫危険情報', 'flood', 4, '警戒レベル4相当'),
  ('jma', '氾濫警戒情報', 'flood', 3, '警戒レベル3相当'),
  ('jma', '氾濫注意情報', 'flood', 2, '警戒レベル2相当'),
  ('jma', '大雨警報(土砂災害)', 'landslide', 3, '警戒レベル3相当'),
  ('jma', '洪水警報', 'flood', 3, '警戒レベル3相当'),
  ('jma', '大雨注意報', 'landslide', 2, '警戒レベル2'),
  ('jma', '洪水注意報', 'flood', 2, '警戒レベル2'),
  ('gauge', '氾濫危険水位', 'flood', 4, '警戒レベル4相当'),
  ('gauge', '避難判断水位', 'flood', 3, '警戒レベル3相当'),
  ('gauge', '氾濫注意水位', 'flood', 2, '警戒レベル2相当'),
  ('gauge', '危険', 'landslide', 4, '市の雨量基準（土砂災害）'),
  ('gauge', '警戒', 'landslide', 3, '市の雨量基準（土砂災害）'),
  ('gauge', '注意', 'landslide', 2, '市の雨量基準（土砂災害）');

-- ======================================================================== 3. 発令基準, areas, suggestions
-- The areas an order can target: 町丁目 / 自治会 polygons (loaded from a layer; the demo's community areas).
CREATE TABLE ops.evac_area (
  code      text PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 40),
  name      text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  layer_id  int REFERENCES gis.layer(id) ON DELETE SET NULL,   -- the layer it was loaded from
  geom      geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom))
);
CREATE INDEX evac_area_geom_idx ON ops.evac_area USING gist (geom);

CREATE TABLE ops.issuance_criterion (
  id             serial PRIMARY KEY,
  name           text NOT NULL,             -- e.g. 土砂災害警戒情報 → 避難指示（土砂災害警戒区域を含む町丁目）
  hazard         text NOT NULL CHECK (hazard IN ('landslide', 'flood', 'inland_flood')),
  source         text NOT NULL CHECK (source IN ('jma', 'gauge')),
  min_level      smallint NOT NULL CHECK (min_level BETWEEN 1 AND 5),  -- 警戒レベル相当 at or above
  jma_area_codes text[] NOT NULL DEFAULT '{}',   -- source jma: the JMA areas that count ('{}': any of ours)
  jma_kind       text,                      -- source jma: only this kind (NULL: any with the hazard)
  device_id      text REFERENCES sensor.device(id) ON DELETE CASCADE,  -- source gauge (NULL: any)
  river          text NOT NULL DEFAULT '',  -- the river whose flood polygons define the areas
  suggest_level  smallint NOT NULL CHECK (suggest_level IN (3, 4, 5)),
  target         text NOT NULL CHECK (target IN ('hazard_areas', 'listed_areas', 'all_areas')),
  area_codes     text[] NOT NULL DEFAULT '{}',    -- target listed_areas
  enabled        boolean NOT NULL DEFAULT true,
  UNIQUE (name)
);

CREATE TABLE ops.evac_suggestion (
  id            bigserial PRIMARY KEY,
  criterion_id  int NOT NULL REFERENCES ops.issuance_criterion(id) ON DELETE CASCADE,
  hazard        text NOT NULL,
  level         smallint NOT NULL CHECK (level IN (3, 4, 5)),
  area_codes    text[] NOT NULL,
  shelter_ids   bigint[] NOT NULL DEFAULT '{}',  -- suitable shelters in or near the areas, to open
  reason_ja     text NOT NULL,
  reason_en     text NOT NULL,
  trigger       jsonb NOT NULL DEFAULT '{}',     -- {"telegram_id": …} / {"alert_id": …, "device_id": …}
  state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'issued', 'dismissed', 'lapsed')),
  order_id      bigint,
  decided_by    text,
  decided_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- One open suggestion per criterion: a criterion that keeps holding updates it, never repeats it.
CREATE UNIQUE INDEX evac_suggestion_open_idx ON ops.evac_suggestion (criterion_id) WHERE state = 'open';

-- ======================================================================== 4. issuances
CREATE TABLE ops.evac_order (
  id            bigserial PRIMARY KEY,
  disaster_id   int REFERENCES ops.disaster(id),
  version       int NOT NULL DEFAULT 1 CHECK (version >= 1),
  level         smallint NOT NULL CHECK (level IN (3, 4, 5)),  -- 3 高齢者等避難, 4 避難指示, 5 緊急安全確保
  hazard        text NOT NULL CHECK (hazard IN ('landslide', 'flood', 'inland_flood', 'storm_surge',
                                                'tsunami', 'fire', 'earthquake', 'volcano')),
  area_codes    text[] NOT NULL,            -- ops.evac_area codes; '{}' for a drawn area only
  area_names    text[] NOT NULL,
  geom          geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom)),
  reason        text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 1000),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
  issued_at     timestamptz NOT NULL DEFAULT now(),
  issued_by     text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  updated_by    text NOT NULL,
  cancelled_at  timestamptz,
  CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX evac_order_geom_idx ON ops.evac_order USING gist (geom);
CREATE INDEX evac_order_active_idx ON ops.evac_order (status, updated_at);

CREATE TABLE ops.evac_order_version (
  order_id    bigint NOT NULL REFERENCES ops.evac_order(id),
  version     int NOT NULL,
  action      text NOT NULL CHECK (action IN ('issue', 'change_level', 'change_areas', 'change', 'cancel')),
  level       smallint NOT NULL,
  hazard      text NOT NULL,
  area_codes  text[] NOT NULL,
  area_names  text[] NOT NULL,
  geom        geometry(MultiPolygon, 4326) NOT NULL,
  reason      text NOT NULL,
  actor       text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, version)
);

CREATE FUNCTION ops.notify_evac_order() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'evacuation', 'id', NEW.order_id, 'version', NEW.version, 'action', NEW.action,
    'level', NEW.level, 'at', NEW.at)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER evac_order_version_notify AFTER INSERT ON ops.evac_order_version
  FOR EACH ROW EXECUTE FUNCTION ops.notify_evac_order();

CREATE FUNCTION ops.notify_evac_suggestion() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'evac_suggestion', 'id', NEW.id, 'state', NEW.state, 'level', NEW.level,
    'hazard', NEW.hazard)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER evac_suggestion_notify AFTER INSERT OR UPDATE ON ops.evac_suggestion
  FOR EACH ROW EXECUTE FUNCTION ops.notify_evac_suggestion();

-- What citizens may read: the orders and their history, without who pressed the button.
CREATE VIEW pub.evac_order AS
  SELECT id, version, level, hazard, area_codes, area_names, geom, status, issued_at, updated_at, cancelled_at
  FROM ops.evac_order;
CREATE VIEW pub.evac_order_version AS
  SELECT order_id, version, action, level, hazard, area_codes, area_names, geom, at
  FROM ops.evac_order_version;
CREATE VIEW pub.evac_area AS SELECT code, name, geom FROM ops.evac_area;
GRANT SELECT ON pub.evac_order, pub.evac_order_version, pub.evac_area TO gisapp_read_public, gisapp_rw;

-- ======================================================================== 5. HQ log (クロノロジー)
CREATE TABLE ops.hq_log (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  kind         text NOT NULL CHECK (kind IN ('evacuation', 'suggestion', 'jma', 'gauge_alert', 'note')),
  level        smallint,                    -- 警戒レベル(相当) where there is one
  summary_ja   text NOT NULL,
  summary_en   text NOT NULL DEFAULT '',
  ref          jsonb NOT NULL DEFAULT '{}', -- {"order_id": …, "version": …} / {"telegram_id": …} / …
  actor        text NOT NULL DEFAULT 'system',
  disaster_id  int REFERENCES ops.disaster(id)
);
CREATE INDEX hq_log_at_idx ON ops.hq_log (at);

CREATE FUNCTION ops.notify_hq_log() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'hq_log', 'id', NEW.id, 'kind', NEW.kind, 'level', NEW.level, 'at', NEW.at,
    'summary_ja', left(NEW.summary_ja, 300), 'summary_en', left(NEW.summary_en, 300))::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER hq_log_notify AFTER INSERT ON ops.hq_log
  FOR EACH ROW EXECUTE FUNCTION ops.notify_hq_log();

-- Issuances are logged by the database itself, so no code path can change an order unlogged.
CREATE FUNCTION ops.log_evac_order_version() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  label_ja text := CASE NEW.level WHEN 3 THEN '高齢者等避難' WHEN 4 THEN '避難指示' ELSE '緊急安全確保' END;
  label_en text := CASE NEW.level WHEN 3 THEN 'Elderly and others evacuate' WHEN 4 THEN 'Evacuation order'
                   ELSE 'Emergency safety measure' END;
  verb_ja text := CASE NEW.action WHEN 'issue' THEN '発令' WHEN 'cancel' THEN '解除'
                  WHEN 'change_level' THEN 'レベル変更' WHEN 'change_areas' THEN '対象地域変更' ELSE '変更' END;
  verb_en text := CASE NEW.action WHEN 'issue' THEN 'issued' WHEN 'cancel' THEN 'cancelled'
                  WHEN 'change_level' THEN 'level changed' WHEN 'change_areas' THEN 'areas changed' ELSE 'changed' END;
BEGIN
  INSERT INTO ops.hq_log (at, kind, level, summary_ja, summary_en, ref, actor, disaster_id)
  SELECT NEW.at, 'evacuation', NEW.level,
         format('【警戒レベル%s】%s %s：%s（%s）', NEW.level, label_ja, verb_ja,
                array_to_string(NEW.area_names, '、'), NEW.reason),
         format('[Level %s] %s %s: %s (%s)', NEW.level, label_en, verb_en,
                array_to_string(NEW.area_codes, ', '), NEW.reason),
         jsonb_build_object('order_id', NEW.order_id, 'version', NEW.version, 'action', NEW.action),
         NEW.actor, o.disaster_id
    FROM ops.evac_order o WHERE o.id = NEW.order_id;
  RETURN NULL;
END $f$;
CREATE TRIGGER evac_order_version_log AFTER INSERT ON ops.evac_order_version
  FOR EACH ROW EXECUTE FUNCTION ops.log_evac_order_version();

-- ======================================================================== 6. gauge alerts
ALTER TABLE sensor.alert
  ADD COLUMN acknowledged_by  text,
  ADD COLUMN acknowledged_at  timestamptz,
  ADD COLUMN alert_level      smallint CHECK (alert_level BETWEEN 1 AND 5),  -- 警戒レベル相当 of level_to
  ADD CONSTRAINT alert_ack_pair CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL));
CREATE INDEX alert_unacknowledged_idx ON sensor.alert (id) WHERE acknowledged_at IS NULL;

-- 警戒レベル相当 of the level reached, from the rules (data), in the inserting transaction. A rule's
-- match is the level name, or '<measure>:<level>' (e.g. '60min_mm:危険') where one measure differs.
CREATE FUNCTION sensor.alert_level_fill() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NEW.alert_level IS NULL AND NEW.level_to IS NOT NULL THEN
    SELECT r.level INTO NEW.alert_level FROM ops.alert_level_rule r
     WHERE r.source = 'gauge' AND r.match IN (NEW.measure || ':' || NEW.level_to, NEW.level_to)
     ORDER BY (r.match = NEW.level_to), r.level DESC LIMIT 1;
  END IF;
  RETURN NEW;
END $f$;
CREATE TRIGGER alert_level_fill BEFORE INSERT ON sensor.alert
  FOR EACH ROW EXECUTE FUNCTION sensor.alert_level_fill();

-- The gauge_alert event now carries the alert's id (for 確認) and its 警戒レベル相当.
CREATE OR REPLACE FUNCTION sensor.notify_gauge_alert() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'gauge_alert', 'id', NEW.id, 'device_id', NEW.device_id, 'measure', NEW.measure,
    'from', NEW.level_from, 'to', NEW.level_to, 'value', NEW.value, 'at', NEW.at,
    'alert_level', NEW.alert_level)::text);
  RETURN NULL;
END $f$;

-- A gauge alert into or out of a level with a 警戒レベル相当 goes into the HQ log.
CREATE FUNCTION sensor.log_gauge_alert() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  m_ja text := CASE NEW.measure WHEN '10min_mm' THEN '10分雨量' WHEN '60min_mm' THEN '60分雨量'
               WHEN 'continuous_mm' THEN '連続雨量' WHEN 'combined' THEN '複合基準' WHEN 'level_m' THEN '水位'
               ELSE NEW.measure END;
  m_en text := CASE NEW.measure WHEN '10min_mm' THEN '10-min rain' WHEN '60min_mm' THEN '60-min rain'
               WHEN 'continuous_mm' THEN 'continuous rain' WHEN 'combined' THEN 'combined rule'
               WHEN 'level_m' THEN 'water level' ELSE NEW.measure END;
  unit text := CASE WHEN NEW.measure = 'level_m' THEN 'm' ELSE 'mm' END;
  from_level smallint;
BEGIN
  SELECT r.level INTO from_level FROM ops.alert_level_rule r
   WHERE r.source = 'gauge' AND r.match IN (NEW.measure || ':' || NEW.level_from, NEW.level_from)
   ORDER BY (r.match = NEW.level_from), r.level DESC LIMIT 1;
  IF NEW.alert_level IS NULL AND from_level IS NULL THEN
    RETURN NULL;
  END IF;
  -- In the disaster in progress (the latest open one, as gisapp.ops.disasters.current_disaster_id).
  INSERT INTO ops.hq_log (at, kind, level, summary_ja, summary_en, ref, disaster_id)
  SELECT NEW.at, 'gauge_alert', NEW.alert_level,
         format('%s %s：%s → %s（%s %s）%s', d.name, m_ja, coalesce(NEW.level_from, '基準未満'),
                coalesce(NEW.level_to, '基準未満'), round(NEW.value::numeric, 2), unit,
                CASE WHEN NEW.alert_level IS NOT NULL THEN format('【警戒レベル%s相当】', NEW.alert_level) ELSE '' END),
         format('%s %s: %s -> %s (%s %s)%s', d.id, m_en, coalesce(NEW.level_from, 'below'),
                coalesce(NEW.level_to, 'below'), round(NEW.value::numeric, 2), unit,
                CASE WHEN NEW.alert_level IS NOT NULL THEN format(' [level %s equivalent]', NEW.alert_level) ELSE '' END),
         jsonb_build_object('alert_id', NEW.id, 'device_id', NEW.device_id),
         (SELECT x.id FROM ops.disaster x WHERE x.closed_at IS NULL ORDER BY x.opened_at DESC, x.id DESC LIMIT 1)
    FROM sensor.device d WHERE d.id = NEW.device_id;
  RETURN NULL;
END $f$;
CREATE TRIGGER alert_hq_log AFTER INSERT ON sensor.alert
  FOR EACH ROW EXECUTE FUNCTION sensor.log_gauge_alert();

-- 要支援者 priority (gisapp.ops.people): which kinds of hazard area a residence lies in, so a gauge in
-- alert or an issued order raises only the people of its hazard (evac_levels.HAZARD_AREA_TYPES):
-- a bit mask, 1 landslide (土砂災害警戒区域・特別警戒区域), 2 flood (洪水), 4 inland_flood (内水).
ALTER TABLE restricted.person_hazard ADD COLUMN kinds smallint NOT NULL DEFAULT 0;
CREATE FUNCTION restricted.hazard_kind_bit(hazard_type text) RETURNS smallint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT (CASE WHEN hazard_type LIKE 'landslide%' THEN 1 WHEN hazard_type = 'flood' THEN 2
               WHEN hazard_type = 'inland_flood' THEN 4 ELSE 0 END)::smallint
$f$;
GRANT EXECUTE ON FUNCTION restricted.hazard_kind_bit(text) TO gisapp_rw;
CREATE OR REPLACE FUNCTION restricted.refresh_person_hazard(p_ids bigint[] DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);
  IF p_ids IS NULL THEN
    DELETE FROM restricted.person_hazard;
  ELSE
    DELETE FROM restricted.person_hazard WHERE person_id = ANY(p_ids);
  END IF;
  INSERT INTO restricted.person_hazard (person_id, worst, kinds)
  SELECT p.id, x.worst, coalesce(x.kinds, 0)
    FROM restricted.person_needing_help p
    CROSS JOIN LATERAL (
      SELECT min(restricted.hazard_rank(hz.hazard_type, hz.depth_rank)::bigint * 1000000000000 + hz.id) AS worst,
             bit_or(restricted.hazard_kind_bit(hz.hazard_type)) AS kinds
        FROM gis.hazard_area hz JOIN gis.layer l ON l.id = hz.layer_id
       WHERE ST_Intersects(hz.geom, p.geom) AND l.deleted_at IS NULL) x   -- deleted layers rank nobody (0020)
   WHERE p_ids IS NULL OR p.id = ANY(p_ids);
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
SELECT restricted.refresh_person_hazard(NULL);

-- ======================================================================== 7. public outputs
-- The citizen-facing processes LISTEN here (gisapp/evac_watch.py): a change counter for their response
-- cache and their push stream. Only values the pub views show anyway; delivered at commit.
CREATE FUNCTION ops.notify_evac_public() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_public', json_build_object(
    'type', 'evacuation', 'id', NEW.order_id, 'version', NEW.version, 'action', NEW.action)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER evac_order_version_public_notify AFTER INSERT ON ops.evac_order_version
  FOR EACH ROW EXECUTE FUNCTION ops.notify_evac_public();

-- ======================================================================== 8. the suggestion engine
-- Evaluated by the database whenever what it depends on changes (a JMA condition, a gauge's level,
-- a criterion, an area, an order), in the transaction that changed it, whichever process wrote:
-- the ingest worker (gauges), the JMA importer, the HQ. It only suggests; a person issues.
--
-- Per enabled criterion: does it hold (the worst matching JMA condition or gauge level, by its
-- 警戒レベル相当 from ops.alert_level_rule)? Which areas (those containing hazard areas of its
-- hazard — of its river when given —, a list, or all), minus those an active order of the same
-- hazard at the suggested level or above already covers? Then one open suggestion per criterion is
-- created, updated (only when something changed) or closed: 'issued' when orders now cover it,
-- 'lapsed' when the criterion no longer holds.
CREATE FUNCTION ops.refresh_evac_suggestions() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  cr record;
  hit record;
  held boolean;
  areas text[];
  names text[];
  shelters bigint[];
  covering bigint;
  cur ops.evac_suggestion;
  last ops.evac_suggestion;
  r_ja text;
  r_en text;
  trig jsonb;
BEGIN
  -- One evaluation at a time: two writers never create the same suggestion twice.
  PERFORM pg_advisory_xact_lock(hashtext('ops.refresh_evac_suggestions'));
  -- A criterion switched off withdraws its open suggestion.
  UPDATE ops.evac_suggestion s SET state = 'lapsed', decided_at = now(), updated_at = now()
    FROM ops.issuance_criterion c
   WHERE c.id = s.criterion_id AND s.state = 'open' AND NOT c.enabled;
  -- Most severe first, so a criterion suggesting less for areas a more severe one already
  -- suggests stays quiet (土砂災害警戒情報 holds 大雨警報's criterion too).
  FOR cr IN SELECT * FROM ops.issuance_criterion WHERE enabled ORDER BY suggest_level DESC, id LOOP
    IF cr.source = 'jma' THEN
      SELECT c.alert_level AS level, c.kind_name, c.area_name, c.telegram_id, c.since INTO hit
        FROM ops.jma_condition c
       WHERE c.hazard = cr.hazard AND c.alert_level >= cr.min_level
         AND (cardinality(cr.jma_area_codes) = 0 OR c.area_code = ANY(cr.jma_area_codes))
         AND (cr.jma_kind IS NULL OR c.kind_name = cr.jma_kind)
         AND (cr.river = '' OR c.river = '' OR c.river = cr.river)
       ORDER BY c.alert_level DESC, c.since LIMIT 1;
      held := FOUND;
      IF held THEN
        r_ja := format('気象庁「%s」（%s）発表中：警戒レベル%s相当', hit.kind_name, hit.area_name, hit.level);
        r_en := format('JMA "%s" in force for %s: equivalent to alert level %s', hit.kind_name, hit.area_name, hit.level);
        trig := jsonb_build_object('source', 'jma', 'telegram_id', hit.telegram_id, 'kind', hit.kind_name);
      END IF;
    ELSE
      SELECT r.level, l.value AS level_name, d.id AS device_id, d.name AS device_name, s.as_of INTO hit
        FROM sensor.gauge_state s
        JOIN sensor.device d ON d.id = s.device_id AND d.enabled
        CROSS JOIN LATERAL jsonb_each_text(s.levels) l
        JOIN ops.alert_level_rule r ON r.source = 'gauge' AND r.match = l.value AND r.hazard = cr.hazard
       WHERE r.level >= cr.min_level AND (cr.device_id IS NULL OR d.id = cr.device_id)
       ORDER BY r.level DESC, d.id LIMIT 1;
      held := FOUND;
      IF held THEN
        r_ja := format('%s が「%s」に到達：警戒レベル%s相当', hit.device_name, hit.level_name, hit.level);
        r_en := format('%s reached "%s": equivalent to alert level %s', hit.device_id, hit.level_name, hit.level);
        trig := jsonb_build_object('source', 'gauge', 'device_id', hit.device_id, 'level_name', hit.level_name);
      END IF;
    END IF;

    SELECT * INTO cur FROM ops.evac_suggestion WHERE criterion_id = cr.id AND state = 'open';
    SELECT * INTO last FROM ops.evac_suggestion WHERE criterion_id = cr.id ORDER BY id DESC LIMIT 1;

    IF NOT held THEN
      IF cur.id IS NOT NULL THEN
        UPDATE ops.evac_suggestion SET state = 'lapsed', decided_at = now(), updated_at = now() WHERE id = cur.id;
      ELSIF last.state = 'dismissed' AND NOT last.trigger ? 'lapsed_at' THEN
        -- The condition a person dismissed has ended: the next time it holds is a new suggestion.
        UPDATE ops.evac_suggestion SET trigger = trigger || jsonb_build_object('lapsed_at', now()) WHERE id = last.id;
      END IF;
      CONTINUE;
    END IF;

    SELECT coalesce(array_agg(a.code ORDER BY a.code), '{}'), coalesce(array_agg(a.name ORDER BY a.code), '{}')
      INTO areas, names
      FROM ops.evac_area a
     WHERE (cr.target = 'all_areas'
            OR (cr.target = 'listed_areas' AND a.code = ANY(cr.area_codes))
            OR (cr.target = 'hazard_areas' AND EXISTS (
                  SELECT 1 FROM gis.hazard_area h JOIN gis.layer hl ON hl.id = h.layer_id AND hl.deleted_at IS NULL
                   WHERE h.hazard_type = ANY(CASE cr.hazard WHEN 'landslide' THEN ARRAY['landslide_warning', 'landslide_special']
                                                            ELSE ARRAY[cr.hazard] END)
                     AND (cr.river = '' OR h.name = cr.river)
                     AND h.geom && a.geom AND ST_Intersects(h.geom, a.geom))))
       AND NOT EXISTS (
             SELECT 1 FROM ops.evac_order o
              WHERE o.status = 'active' AND o.hazard = cr.hazard AND o.level >= cr.suggest_level
                AND (a.code = ANY(o.area_codes) OR ST_Covers(o.geom, ST_PointOnSurface(a.geom))))
       AND NOT EXISTS (
             SELECT 1 FROM ops.evac_suggestion s2
              WHERE s2.state = 'open' AND s2.hazard = cr.hazard AND s2.level > cr.suggest_level
                AND s2.criterion_id <> cr.id AND a.code = ANY(s2.area_codes));

    IF cardinality(areas) = 0 THEN
      IF cur.id IS NOT NULL THEN
        SELECT o.id INTO covering FROM ops.evac_order o
         WHERE o.status = 'active' AND o.hazard = cr.hazard AND o.level >= cr.suggest_level
         ORDER BY o.updated_at DESC LIMIT 1;
        UPDATE ops.evac_suggestion
           SET state = CASE WHEN covering IS NULL THEN 'lapsed' ELSE 'issued' END,
               order_id = covering, decided_at = now(), updated_at = now()
         WHERE id = cur.id;
      END IF;
      CONTINUE;
    END IF;

    -- Shelters suited to the hazard inside the areas or within 1 km of them: the three nearest of each
    -- area (so every area gets its own, however many areas), nearest first, at most 50.
    SELECT coalesce(array_agg(x.id ORDER BY x.dist, x.id), '{}') INTO shelters FROM (
      SELECT near.id, min(near.dist) AS dist
        FROM ops.evac_area a
        CROSS JOIN LATERAL (
          SELECT s.id, ST_Distance(s.geom::geography, a.geom::geography) AS dist
            FROM gis.shelter s
            JOIN gis.layer sl ON sl.id = s.layer_id AND sl.deleted_at IS NULL
           WHERE CASE cr.hazard WHEN 'landslide' THEN s.suits_landslide WHEN 'flood' THEN s.suits_flood
                                ELSE s.suits_inland_flood END
             AND ST_DWithin(s.geom::geography, a.geom::geography, 1000)
           ORDER BY dist, s.id LIMIT 3) near
       WHERE a.code = ANY(areas)
       GROUP BY near.id ORDER BY dist, near.id LIMIT 50) x;

    IF cur.id IS NULL AND last.state = 'dismissed' AND NOT last.trigger ? 'lapsed_at'
       AND areas <@ last.area_codes AND cr.suggest_level <= last.level THEN
      CONTINUE;  -- dismissed by a person while the same condition holds: not suggested again
    ELSIF cur.id IS NULL THEN
      INSERT INTO ops.evac_suggestion (criterion_id, hazard, level, area_codes, shelter_ids, reason_ja, reason_en, trigger)
      VALUES (cr.id, cr.hazard, cr.suggest_level, areas, shelters, r_ja, r_en, trig);
      INSERT INTO ops.hq_log (kind, level, summary_ja, summary_en, ref)
      VALUES ('suggestion', cr.suggest_level,
              format('【提案】%s：%s（%s）', cr.name, array_to_string(names, '、'), r_ja),
              format('[Suggestion] %s: %s (%s)', cr.name, array_to_string(areas, ', '), r_en),
              jsonb_build_object('criterion_id', cr.id));
    ELSIF (cur.area_codes, cur.shelter_ids, cur.reason_ja, cur.level)
          IS DISTINCT FROM (areas, shelters, r_ja, cr.suggest_level) THEN
      UPDATE ops.evac_suggestion
         SET area_codes = areas, shelter_ids = shelters, reason_ja = r_ja, reason_en = r_en, trigger = trig,
             level = cr.suggest_level, updated_at = now()
       WHERE id = cur.id;
    END IF;
  END LOOP;
END $f$;
REVOKE ALL ON FUNCTION ops.refresh_evac_suggestions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.refresh_evac_suggestions() TO gisapp_rw;

-- Run at commit (deferred constraint triggers), once per transaction: by then the writer holds every
-- row lock it will take, so waiting for the evaluation lock cannot deadlock two ingest batches, and
-- the evaluation sees the transaction's final state.
CREATE FUNCTION ops.evac_inputs_changed() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
BEGIN
  IF current_setting('gisapp.evac_refreshed', true) = txid_current()::text THEN
    RETURN NULL;
  END IF;
  PERFORM set_config('gisapp.evac_refreshed', txid_current()::text, true);
  PERFORM ops.refresh_evac_suggestions();
  RETURN NULL;
END $f$;
CREATE CONSTRAINT TRIGGER evac_on_jma AFTER INSERT OR UPDATE OR DELETE ON ops.jma_condition
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.evac_inputs_changed();
CREATE CONSTRAINT TRIGGER evac_on_criteria AFTER INSERT OR UPDATE OR DELETE ON ops.issuance_criterion
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.evac_inputs_changed();
CREATE CONSTRAINT TRIGGER evac_on_areas AFTER INSERT OR UPDATE OR DELETE ON ops.evac_area
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.evac_inputs_changed();
CREATE CONSTRAINT TRIGGER evac_on_orders AFTER INSERT OR UPDATE ON ops.evac_order
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.evac_inputs_changed();
CREATE CONSTRAINT TRIGGER evac_on_hazards AFTER INSERT OR UPDATE OR DELETE ON gis.hazard_area
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.evac_inputs_changed();
-- A hazard layer deleted (soft, 0020) or restored changes which areas hold hazard polygons.
CREATE CONSTRAINT TRIGGER evac_on_layers AFTER UPDATE OF deleted_at ON gis.layer
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION ops.evac_inputs_changed();
-- A gauge only matters when one of its levels changes (not at every observation).
CREATE CONSTRAINT TRIGGER evac_on_gauge_levels AFTER UPDATE OF levels ON sensor.gauge_state
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.levels IS DISTINCT FROM NEW.levels)
  EXECUTE FUNCTION ops.evac_inputs_changed();

-- ======================================================================== grants
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.jma_telegram, ops.jma_condition, ops.jma_feed,
  ops.evac_area, ops.evac_suggestion, ops.evac_order, ops.issuance_criterion, ops.alert_level_rule TO gisapp_rw;
GRANT SELECT, INSERT ON ops.evac_order_version, ops.hq_log TO gisapp_rw;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP TRIGGER IF EXISTS evac_on_gauge_levels ON sensor.gauge_state;
DROP TRIGGER IF EXISTS evac_on_hazards ON gis.hazard_area;
DROP TRIGGER IF EXISTS evac_on_layers ON gis.layer;
CREATE OR REPLACE FUNCTION sensor.notify_gauge_alert() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'gauge_alert', 'device_id', NEW.device_id, 'measure', NEW.measure,
    'from', NEW.level_from, 'to', NEW.level_to, 'value', NEW.value, 'at', NEW.at)::text);
  RETURN NULL;
END $f$;
DROP TRIGGER IF EXISTS alert_level_fill ON sensor.alert;
DROP TRIGGER IF EXISTS alert_hq_log ON sensor.alert;
DROP FUNCTION IF EXISTS sensor.alert_level_fill(), sensor.log_gauge_alert();
DROP INDEX IF EXISTS sensor.alert_unacknowledged_idx;
CREATE OR REPLACE FUNCTION restricted.refresh_person_hazard(p_ids bigint[] DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
DECLARE
  caller_roles text := current_setting('gisapp.roles', true);
BEGIN
  PERFORM set_config('gisapp.roles', 'admin', true);
  IF p_ids IS NULL THEN
    DELETE FROM restricted.person_hazard;
  ELSE
    DELETE FROM restricted.person_hazard WHERE person_id = ANY(p_ids);
  END IF;
  INSERT INTO restricted.person_hazard (person_id, worst)
  SELECT p.id, (SELECT min(restricted.hazard_rank(hz.hazard_type, hz.depth_rank)::bigint * 1000000000000 + hz.id)
                  FROM gis.hazard_area hz JOIN gis.layer l ON l.id = hz.layer_id
                 WHERE ST_Intersects(hz.geom, p.geom) AND l.deleted_at IS NULL)
    FROM restricted.person_needing_help p
   WHERE p_ids IS NULL OR p.id = ANY(p_ids);
  PERFORM set_config('gisapp.roles', coalesce(caller_roles, ''), true);
END $f$;
ALTER TABLE restricted.person_hazard DROP COLUMN IF EXISTS kinds;
DROP FUNCTION IF EXISTS restricted.hazard_kind_bit(text);
ALTER TABLE sensor.alert DROP CONSTRAINT IF EXISTS alert_ack_pair,
  DROP COLUMN IF EXISTS acknowledged_by, DROP COLUMN IF EXISTS acknowledged_at, DROP COLUMN IF EXISTS alert_level;
DROP VIEW IF EXISTS pub.evac_order, pub.evac_order_version, pub.evac_area;
DROP TABLE IF EXISTS ops.hq_log, ops.evac_order_version, ops.evac_suggestion, ops.evac_order,
  ops.issuance_criterion, ops.evac_area, ops.alert_level_rule, ops.jma_condition, ops.jma_feed, ops.jma_telegram;
DROP FUNCTION IF EXISTS ops.evac_inputs_changed(), ops.refresh_evac_suggestions(), ops.notify_evac_order(),
  ops.notify_evac_suggestion(), ops.notify_hq_log(), ops.log_evac_order_version(),
  ops.notify_evac_public();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
