"""People needing evacuation help: consent, community areas, individual plans, disaster mode, priority.

Access to ``restricted.person_needing_help`` (row-level security, FORCEd), decided in the database:

- ``admin`` is the registry keeper (名簿管理): every person, so that imports and the demo loader can
  upsert whatever the registry holds.
- ``welfare`` reads only people who consented (同意) in normal mode.
- While a disaster mode (``restricted.disaster_mode``) is active (``now() < expires_at`` and not ended),
  the roles it names (``welfare``, ``hq_operator``) read everyone; it ends by itself at ``expires_at``.
- Writes stay with ``welfare`` and ``admin`` (``restricted.may_access()`` of 0001).

``restricted.evacuation_plan`` (個別避難計画) rows are visible exactly when their person is.
``restricted.hazard_rank`` orders hazard areas for the priority list (1 = 土砂災害特別警戒区域 … 5).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- 要配慮の区分: known care categories and how much help each needs (1 = most).
CREATE TABLE restricted.care_category (
  code      text PRIMARY KEY,
  severity  int NOT NULL CHECK (severity BETWEEN 1 AND 9),
  label_en  text NOT NULL
);
INSERT INTO restricted.care_category (code, severity, label_en) VALUES
  ('要介護5', 1, 'Care level 5'), ('人工呼吸器使用', 1, 'On a ventilator'),
  ('医療的ケア児', 1, 'Child needing medical care'),
  ('要介護4', 2, 'Care level 4'), ('身体障害1級', 2, 'Physical disability grade 1'),
  ('要介護3', 3, 'Care level 3'), ('身体障害2級', 3, 'Physical disability grade 2'),
  ('難病', 3, 'Intractable disease'),
  ('要介護2', 4, 'Care level 2'), ('知的障害', 4, 'Intellectual disability'),
  ('精神障害', 4, 'Mental disability'), ('視覚障害', 4, 'Visual impairment'),
  ('聴覚障害', 5, 'Hearing impairment'), ('要介護1', 5, 'Care level 1'),
  ('身体障害3級', 5, 'Physical disability grade 3'),
  ('独居高齢者', 6, 'Elderly living alone'), ('高齢者のみ世帯', 6, 'Elderly-only household'),
  ('要支援2', 7, 'Support level 2'), ('要支援1', 7, 'Support level 1'),
  ('妊産婦', 7, 'Pregnant or nursing'), ('乳幼児', 7, 'Infant'),
  ('日本語が不自由な外国人', 8, 'Foreign resident with little Japanese');

ALTER TABLE restricted.person_needing_help
  ADD COLUMN community_area  text NOT NULL DEFAULT '',    -- 自治会・町丁目
  ADD COLUMN care_categories text[] NOT NULL DEFAULT '{}',
  ADD COLUMN care_severity   int NOT NULL DEFAULT 9;      -- min severity of its categories
CREATE INDEX person_needing_help_area_idx ON restricted.person_needing_help (community_area);

-- Rows written by older code (the demo loader) carry one care_category and an address only.
CREATE FUNCTION restricted.person_defaults() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.care_category IS DISTINCT FROM OLD.care_category
     AND NEW.care_categories = OLD.care_categories THEN
    NEW.care_categories := ARRAY[NEW.care_category];  -- an older writer changed the one category
  END IF;
  IF cardinality(NEW.care_categories) = 0 THEN
    NEW.care_categories := ARRAY[NEW.care_category];
  END IF;
  NEW.care_category := NEW.care_categories[1];
  IF NEW.community_area = '' THEN
    NEW.community_area := coalesce((regexp_match(NEW.address, '[市区]([^市区0-9０-９]+?[0-9０-９]+丁目)'))[1], '');
  END IF;
  NEW.care_severity := coalesce(
    (SELECT min(c.severity) FROM restricted.care_category c WHERE c.code = ANY(NEW.care_categories)), 9);
  RETURN NEW;
END $f$;
CREATE TRIGGER person_defaults BEFORE INSERT OR UPDATE ON restricted.person_needing_help
  FOR EACH ROW EXECUTE FUNCTION restricted.person_defaults();
-- Fill the new columns of existing rows (RLS is forced on the owner too: act as the keeper).
SELECT set_config('gisapp.roles', 'admin', true);
UPDATE restricted.person_needing_help SET care_categories = '{}';
SELECT set_config('gisapp.roles', '', true);

-- 災害モード: time-limited, ends by itself at expires_at.
CREATE TABLE restricted.disaster_mode (
  id            bigserial PRIMARY KEY,
  activated_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  activated_by  text NOT NULL,
  roles         text[] NOT NULL CHECK (cardinality(roles) > 0 AND roles <@ ARRAY['welfare', 'hq_operator']),
  reason        text NOT NULL CHECK (reason <> ''),
  ended_at      timestamptz,
  ended_by      text,
  CHECK (expires_at > activated_at)
);
ALTER TABLE restricted.disaster_mode ENABLE ROW LEVEL SECURITY;  -- not FORCEd: the owner may fix it
CREATE POLICY disaster_mode_read ON restricted.disaster_mode FOR SELECT USING (true);
CREATE POLICY disaster_mode_switch ON restricted.disaster_mode FOR INSERT
  WITH CHECK (string_to_array(coalesce(current_setting('gisapp.roles', true), ''), ',')
              && ARRAY['admin', 'hq_operator']);
CREATE POLICY disaster_mode_end ON restricted.disaster_mode FOR UPDATE
  USING (string_to_array(coalesce(current_setting('gisapp.roles', true), ''), ',')
         && ARRAY['admin', 'hq_operator']);

CREATE FUNCTION restricted.acting_roles() RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $f$
  SELECT string_to_array(coalesce(current_setting('gisapp.roles', true), ''), ',')
$f$;
CREATE FUNCTION restricted.disaster_roles() RETURNS text[] LANGUAGE sql STABLE PARALLEL SAFE AS $f$
  SELECT coalesce(array_agg(DISTINCT r), '{}')
  FROM restricted.disaster_mode d CROSS JOIN LATERAL unnest(d.roles) r
  WHERE d.ended_at IS NULL AND d.activated_at <= now() AND now() < d.expires_at
$f$;

-- Read access. The uncorrelated sub-selects run once per statement (InitPlans), not per row.
DROP POLICY person_needing_help_access ON restricted.person_needing_help;
CREATE POLICY person_read ON restricted.person_needing_help FOR SELECT USING (
  (SELECT restricted.acting_roles()) && ARRAY['admin']
  OR (consent AND (SELECT restricted.acting_roles()) && ARRAY['welfare'])
  OR (SELECT restricted.acting_roles()) && (SELECT restricted.disaster_roles()));
CREATE POLICY person_insert ON restricted.person_needing_help FOR INSERT
  WITH CHECK (restricted.may_access());
CREATE POLICY person_update ON restricted.person_needing_help FOR UPDATE
  USING (restricted.may_access()) WITH CHECK (restricted.may_access());
CREATE POLICY person_delete ON restricted.person_needing_help FOR DELETE
  USING (restricted.may_access());

-- 個別避難計画, one per person.
CREATE TABLE restricted.evacuation_plan (
  person_id   bigint PRIMARY KEY REFERENCES restricted.person_needing_help(id) ON DELETE CASCADE,
  status      text NOT NULL CHECK (status IN (
                'not_started',   -- 未作成
                'drafting',      -- 作成中
                'done',          -- 作成済
                'needs_update')),-- 要更新
  summary     text NOT NULL DEFAULT '' CHECK (length(summary) <= 4000),
  updated_by  text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE restricted.evacuation_plan ENABLE ROW LEVEL SECURITY;
ALTER TABLE restricted.evacuation_plan FORCE ROW LEVEL SECURITY;
CREATE POLICY plan_read ON restricted.evacuation_plan FOR SELECT USING (
  EXISTS (SELECT 1 FROM restricted.person_needing_help p WHERE p.id = person_id));
CREATE POLICY plan_insert ON restricted.evacuation_plan FOR INSERT WITH CHECK (restricted.may_access());
CREATE POLICY plan_update ON restricted.evacuation_plan FOR UPDATE
  USING (restricted.may_access()) WITH CHECK (restricted.may_access());
CREATE POLICY plan_delete ON restricted.evacuation_plan FOR DELETE USING (restricted.may_access());

-- Priority class of a hazard area: 1 特別警戒区域, 2 警戒区域, 3 浸水深3m以上, 4 0.5〜3m, 5 other.
-- Both are single expressions so that the planner inlines them (a SQL function it cannot inline
-- costs a function-executor call per hazard candidate of every person).
CREATE FUNCTION restricted.depth_floor(depth_rank text) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT CASE
    WHEN depth_rank IS NULL THEN 0
    WHEN translate(depth_rank, '０１２３４５６７８９．ｍ', '0123456789.m') ~ '^\s*[0-9.]+\s*m?\s*未満\s*$'
      THEN 0                                                    -- '0.5m未満'
    ELSE coalesce((regexp_match(translate(depth_rank, '０１２３４５６７８９．', '0123456789.'),
                                '([0-9]+(?:\.[0-9]+)?)'))[1]::numeric, 0)
  END
$f$;
CREATE FUNCTION restricted.hazard_rank(hazard_type text, depth_rank text) RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT CASE
    WHEN hazard_type = 'landslide_special' THEN 1
    WHEN hazard_type = 'landslide_warning' THEN 2
    WHEN restricted.depth_floor(depth_rank) >= 3 THEN 3
    WHEN restricted.depth_floor(depth_rank) >= 0.5 THEN 4
    ELSE 5
  END
$f$;

GRANT SELECT ON restricted.care_category TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE ON restricted.disaster_mode TO gisapp_rw;
GRANT USAGE, SELECT ON SEQUENCE restricted.disaster_mode_id_seq TO gisapp_rw;
GRANT SELECT, INSERT, UPDATE, DELETE ON restricted.evacuation_plan TO gisapp_rw;
GRANT EXECUTE ON FUNCTION restricted.acting_roles(), restricted.disaster_roles(),
  restricted.depth_floor(text), restricted.hazard_rank(text, text) TO gisapp_rw;
"""

DOWNGRADE = """
DROP FUNCTION IF EXISTS restricted.hazard_rank(text, text);
DROP FUNCTION IF EXISTS restricted.depth_floor(text);
DROP TABLE IF EXISTS restricted.evacuation_plan;
DROP POLICY IF EXISTS person_read ON restricted.person_needing_help;
DROP POLICY IF EXISTS person_insert ON restricted.person_needing_help;
DROP POLICY IF EXISTS person_update ON restricted.person_needing_help;
DROP POLICY IF EXISTS person_delete ON restricted.person_needing_help;
CREATE POLICY person_needing_help_access ON restricted.person_needing_help
  USING (restricted.may_access()) WITH CHECK (restricted.may_access());
DROP FUNCTION IF EXISTS restricted.disaster_roles();
DROP FUNCTION IF EXISTS restricted.acting_roles();
DROP TABLE IF EXISTS restricted.disaster_mode;
DROP TRIGGER IF EXISTS person_defaults ON restricted.person_needing_help;
DROP FUNCTION IF EXISTS restricted.person_defaults();
ALTER TABLE restricted.person_needing_help
  DROP COLUMN IF EXISTS community_area, DROP COLUMN IF EXISTS care_categories,
  DROP COLUMN IF EXISTS care_severity;
DROP TABLE IF EXISTS restricted.care_category;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
