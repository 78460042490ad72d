"""The クロノロジー: the database writes the HQ log's entries for incidents, dispatch, shelters and
disasters itself, and the HQ gives instructions (指示) to departments with 完了 tracking.

Why in the database: the log is the HQ's record of the day; a trigger on each append-only record
(``ops.incident_event``: reported, status, edited, note, dispatch, on scene, cleared) and on the
opening and closing of shelters and disasters writes the entry in the same transaction, so no code
path (the HQ, the ingest worker's radio reports, the CLI, another helper's module) changes them
unlogged. Summaries are written for an HQ operator, in Japanese and English:
「事案#12 土砂崩れ（大山町）：未対応→対応中（田中）」.

- ``ops.incident_event`` takes kind ``note``: a note about an incident that changes nothing else
  (``PATCH /api/incidents/{id} {"note": …}``, or a chronology note naming an incident) is part of
  the incident's history and of the chronology.
- ``ops.hq_log.department_id``: the department an entry concerns (an instruction's addressee, a
  dispatched team's department, a note's author's department), for the 部署 filter and column.
- ``ops.instruction``: 指示 to a department (core.department): who, to whom, what, an optional due
  time and incident; open → done (by whom, when, the result) or withdrawn (the reason); a closed
  instruction never changes again. Each step is an hq_log entry (kind ``instruction``) by trigger.
- Text search over the summaries: trigram indexes (pg_trgm, in Debian's PostgreSQL contrib and
  trusted, so the database owner may create it) serve ``ILIKE '%…%'``; where the extension cannot
  be created the search still works, without the index.

Revision ID: 0028
Revises: 0029
Create Date: 2026-12-08
"""

from alembic import op

revision = "0028"
down_revision = "0029"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ======================================================================== notes in an incident's history
ALTER TABLE ops.incident_event DROP CONSTRAINT incident_event_kind_check;
ALTER TABLE ops.incident_event ADD CONSTRAINT incident_event_kind_check
  CHECK (kind IN ('created', 'status', 'edited', 'dispatch', 'assignment', 'report_merged', 'photo', 'moved',
                  'note'));

-- ======================================================================== the log's department
ALTER TABLE ops.hq_log ADD COLUMN department_id int REFERENCES core.department(id);
CREATE INDEX hq_log_department_idx ON ops.hq_log (department_id, id) WHERE department_id IS NOT NULL;
CREATE INDEX hq_log_kind_idx ON ops.hq_log (kind, id);

-- A person's name as the HQ knows it (the account's display name), else what the record holds
-- ('system', 'radio:R-03').
CREATE FUNCTION ops.actor_label(p_actor text) RETURNS text LANGUAGE sql STABLE
  SET search_path = pg_catalog, public AS $f$
  SELECT coalesce((SELECT u.display_name FROM core.app_user u WHERE u.username = p_actor), p_actor)
$f$;
GRANT EXECUTE ON FUNCTION ops.actor_label(text) TO gisapp_rw;

-- ======================================================================== incidents and dispatch
CREATE FUNCTION ops.chrono_incident_event() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, public AS $f$
DECLARE
  st_ja CONSTANT jsonb := '{"unhandled": "未対応", "in_progress": "対応中", "done": "対応済", "cancelled": "取消"}';
  st_en CONSTANT jsonb := '{"unhandled": "not handled", "in_progress": "in progress", "done": "done", "cancelled": "cancelled"}';
  src_ja CONSTANT jsonb := '{"radio": "無線", "staff": "職員", "citizen": "市民通報", "phone": "電話"}';
  src_en CONSTANT jsonb := '{"radio": "radio", "staff": "staff", "citizen": "citizen report", "phone": "phone"}';
  field_ja CONSTANT jsonb := '{"title": "件名", "description": "説明", "address": "住所", "priority": "優先度", "category": "種別"}';
  i record;
  who text := ops.actor_label(NEW.actor);
  place text;
  entry_kind text := 'incident';
  what_ja text;
  what_en text;
  unit text := NEW.data->>'unit_id';
  team_name text;
  dept int;
  crew_ja text;
  crew_en text;
  fields_ja text;
  fields_en text;
  memo_ja text := CASE WHEN btrim(NEW.note) <> '' THEN '　メモ：' || NEW.note ELSE '' END;
  memo_en text := CASE WHEN btrim(NEW.note) <> '' THEN ' — note: ' || NEW.note ELSE '' END;
BEGIN
  IF NEW.kind = 'photo' THEN
    RETURN NULL;  -- a photo is the incident page's; the HQ's day does not need it
  END IF;
  SELECT x.id, x.disaster_id, x.title, x.address, x.source, c.name_ja, c.name_en INTO i
    FROM ops.incident x JOIN ops.incident_category c ON c.code = x.category WHERE x.id = NEW.incident_id;
  place := left(coalesce(nullif(btrim(i.address), ''), i.title), 40);
  IF NEW.data ? 'team_id' AND NEW.data->>'team_id' IS NOT NULL THEN
    SELECT t.name, t.department_id INTO team_name, dept FROM ops.team t WHERE t.id = NEW.data->>'team_id';
  END IF;
  crew_ja := coalesce(team_name, (SELECT d.name || '（' || d.id || '）' FROM sensor.device d WHERE d.id = unit), unit, '—');
  crew_en := coalesce(NEW.data->>'team_id', unit, '—');
  CASE NEW.kind
  WHEN 'moved' THEN
    RETURN NULL;  -- gisapp/ops/disaster_close.py writes the move's own entry (kind 'disaster')
  WHEN 'created' THEN
    what_ja := format('受付「%s」（%s%s）', left(i.title, 80), coalesce(src_ja->>i.source, i.source),
                      CASE WHEN unit IS NOT NULL THEN ' ' || unit ELSE '・' || who END);
    what_en := format('reported "%s" (%s%s)', left(i.title, 80), coalesce(src_en->>i.source, i.source),
                      CASE WHEN unit IS NOT NULL THEN ' ' || unit ELSE ', ' || who END);
  WHEN 'status' THEN
    what_ja := format('%s→%s（%s）', st_ja->>NEW.from_status, st_ja->>NEW.to_status, who);
    what_en := format('%s → %s (%s)', st_en->>NEW.from_status, st_en->>NEW.to_status, who);
  WHEN 'edited' THEN
    SELECT string_agg(coalesce(field_ja->>k, k) || CASE WHEN k = 'priority'
                        THEN format(' %s→%s', v->>'from', v->>'to') ELSE '' END, '・' ORDER BY k),
           string_agg(k || CASE WHEN k = 'priority' THEN format(' %s → %s', v->>'from', v->>'to') ELSE '' END,
                      ', ' ORDER BY k)
      INTO fields_ja, fields_en
      FROM jsonb_each(coalesce(NEW.data->'changed', '{}')) AS e(k, v);
    what_ja := format('%sを変更（%s）', coalesce(fields_ja, '内容'), who);
    what_en := format('changed %s (%s)', coalesce(fields_en, 'details'), who);
  WHEN 'note' THEN
    entry_kind := 'note';
    what_ja := format('%s（%s）', NEW.note, who);
    what_en := format('%s (%s)', NEW.note, who);
    memo_ja := '';
    memo_en := '';
  WHEN 'dispatch' THEN
    entry_kind := 'dispatch';
    what_ja := format('%s 出動（%s）', crew_ja, who);
    what_en := format('%s dispatched (%s)', crew_en, who);
  WHEN 'assignment' THEN
    entry_kind := 'dispatch';
    what_ja := format('%s %s（%s）', crew_ja, CASE NEW.data->>'state' WHEN 'on_scene' THEN '現着'
                      WHEN 'cleared' THEN '活動終了（解除）' ELSE NEW.data->>'state' END, who);
    what_en := format('%s %s (%s)', crew_en, CASE NEW.data->>'state' WHEN 'on_scene' THEN 'on scene'
                      WHEN 'cleared' THEN 'cleared' ELSE NEW.data->>'state' END, who);
  WHEN 'report_merged' THEN
    what_ja := format('市民通報を統合（%s）', who);
    what_en := format('citizen report merged in (%s)', who);
  ELSE
    what_ja := format('%s（%s）', NEW.kind, who);
    what_en := format('%s (%s)', NEW.kind, who);
  END CASE;
  INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id, incident_id, unit_id,
                          department_id)
  VALUES (NEW.at, entry_kind,
          format('事案#%s %s（%s）：%s%s', i.id, i.name_ja, place, what_ja, memo_ja),
          format('Incident #%s %s (%s): %s%s', i.id, i.name_en, place, what_en, memo_en),
          jsonb_strip_nulls(jsonb_build_object('incident_event_id', NEW.id, 'event', NEW.kind,
                                               'version', NEW.version, 'team_id', NEW.data->>'team_id',
                                               'assignment_id', NEW.data->'assignment_id')),
          NEW.actor, i.disaster_id, i.id, unit,
          coalesce(dept, CASE WHEN NEW.kind = 'note'
                              THEN (SELECT u.department_id FROM core.app_user u WHERE u.username = NEW.actor) END));
  RETURN NULL;
END $f$;
CREATE TRIGGER incident_event_chronology AFTER INSERT ON ops.incident_event
  FOR EACH ROW EXECUTE FUNCTION ops.chrono_incident_event();

-- ======================================================================== shelters
CREATE FUNCTION ops.chrono_shelter_opening() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, public AS $f$
DECLARE
  s_name text;
  verb_ja text;
  verb_en text;
  who text;
  extra_ja text := '';
  extra_en text := '';
BEGIN
  IF TG_OP = 'INSERT' OR (OLD.closed_at IS NOT NULL AND NEW.closed_at IS NULL) THEN
    verb_ja := CASE WHEN TG_OP = 'INSERT' THEN '避難所開設' ELSE '避難所再開設' END;
    verb_en := CASE WHEN TG_OP = 'INSERT' THEN 'Shelter opened' ELSE 'Shelter reopened' END;
    who := NEW.opened_by;
    extra_ja := format('責任者 %s・', NEW.responsible_staff);
    extra_en := format('responsible: %s; ', NEW.responsible_staff);
  ELSIF OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL THEN
    verb_ja := '避難所閉鎖';
    verb_en := 'Shelter closed';
    who := NEW.closed_by;
    extra_ja := format('閉鎖時の在所 %s人・', NEW.occupancy);
    extra_en := format('%s inside at closing; ', NEW.occupancy);
  ELSE
    RETURN NULL;
  END IF;
  SELECT s.name INTO s_name FROM gis.shelter s WHERE s.id = NEW.shelter_id;
  INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id, shelter_id)
  VALUES (coalesce(NEW.closed_at, NEW.opened_at), 'shelter',
          format('%s：%s（%s%s）', verb_ja, s_name, extra_ja, ops.actor_label(who)),
          format('%s: %s (%s%s)', verb_en, s_name, extra_en, ops.actor_label(who)),
          jsonb_build_object('opening_id', NEW.id, 'open', NEW.closed_at IS NULL, 'occupancy', NEW.occupancy),
          who, NEW.disaster_id, NEW.shelter_id);
  RETURN NULL;
END $f$;
CREATE TRIGGER shelter_opening_chronology AFTER INSERT OR UPDATE OF closed_at ON ops.shelter_opening
  FOR EACH ROW EXECUTE FUNCTION ops.chrono_shelter_opening();

-- ======================================================================== disasters
CREATE FUNCTION ops.chrono_disaster() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, public AS $f$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id)
    VALUES (NEW.opened_at, 'disaster',
            format('災害対応開始：%s（%s）', NEW.name, ops.actor_label(NEW.opened_by)),
            format('Disaster opened: %s (%s)', NEW.name, ops.actor_label(NEW.opened_by)),
            jsonb_build_object('open', true), NEW.opened_by, NEW.id);
  ELSIF OLD.closed_at IS NULL AND NEW.closed_at IS NOT NULL THEN
    INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id)
    VALUES (NEW.closed_at, 'disaster',
            format('災害対応終了：%s（%s）', NEW.name, ops.actor_label(NEW.closed_by)),
            format('Disaster closed: %s (%s)', NEW.name, ops.actor_label(NEW.closed_by)),
            jsonb_build_object('open', false), NEW.closed_by, NEW.id);
  END IF;
  RETURN NULL;
END $f$;
CREATE TRIGGER disaster_chronology AFTER INSERT OR UPDATE OF closed_at ON ops.disaster
  FOR EACH ROW EXECUTE FUNCTION ops.chrono_disaster();

-- ======================================================================== instructions (指示)
CREATE TABLE ops.instruction (
  id             bigserial PRIMARY KEY,
  disaster_id    int REFERENCES ops.disaster(id),
  department_id  int NOT NULL REFERENCES core.department(id),     -- to whom
  incident_id    bigint REFERENCES ops.incident(id),             -- about which incident, if any
  body           text NOT NULL CHECK (length(btrim(body)) BETWEEN 1 AND 2000),
  due_at         timestamptz,
  state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'withdrawn')),
  instructed_at  timestamptz NOT NULL DEFAULT now(),
  instructed_by  text NOT NULL,
  closed_at      timestamptz,                                     -- done or withdrawn: when
  closed_by      text,                                            -- and by whom
  result         text NOT NULL DEFAULT '' CHECK (length(result) <= 2000),  -- done: the result; withdrawn: why
  CHECK ((state = 'open') = (closed_at IS NULL) AND (state = 'open') = (closed_by IS NULL))
);
CREATE INDEX instruction_open_idx ON ops.instruction (due_at, id) WHERE state = 'open';
CREATE INDEX instruction_department_idx ON ops.instruction (department_id, state);

-- A closed instruction is the record of what was done: it never changes again (409 in the domain),
-- except its disaster when two disasters are merged (gisapp/ops/disaster_merge.py).
CREATE FUNCTION ops.instruction_guard() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF OLD.state <> 'open' AND (to_jsonb(NEW) - 'disaster_id') IS DISTINCT FROM (to_jsonb(OLD) - 'disaster_id') THEN
    RAISE EXCEPTION 'instruction % is closed (完了・取消済みの指示は変更できません)', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $f$;
CREATE TRIGGER instruction_closed_stays BEFORE UPDATE ON ops.instruction
  FOR EACH ROW EXECUTE FUNCTION ops.instruction_guard();

CREATE FUNCTION ops.chrono_instruction() RETURNS trigger LANGUAGE plpgsql
  SET search_path = pg_catalog, public AS $f$
DECLARE
  dept record;
  what text := left(NEW.body, 120);
  s_ja text;
  s_en text;
BEGIN
  SELECT d.name_ja, d.name_en INTO dept FROM core.department d WHERE d.id = NEW.department_id;
  IF TG_OP = 'INSERT' THEN
    s_ja := format('【指示】%sへ：%s%s（%s）', dept.name_ja, what,
                   CASE WHEN NEW.due_at IS NOT NULL
                        THEN format('　期限 %s', to_char(NEW.due_at AT TIME ZONE 'Asia/Tokyo', 'MM/DD HH24:MI')) ELSE '' END,
                   ops.actor_label(NEW.instructed_by));
    s_en := format('[Instruction] to %s: %s%s (%s)', dept.name_en, what,
                   CASE WHEN NEW.due_at IS NOT NULL
                        THEN format(' — due %s JST', to_char(NEW.due_at AT TIME ZONE 'Asia/Tokyo', 'MM/DD HH24:MI')) ELSE '' END,
                   ops.actor_label(NEW.instructed_by));
  ELSIF OLD.state = 'open' AND NEW.state = 'done' THEN
    s_ja := format('【指示完了】%s：%s%s（%s）', dept.name_ja, what,
                   CASE WHEN btrim(NEW.result) <> '' THEN '　結果：' || NEW.result ELSE '' END,
                   ops.actor_label(NEW.closed_by));
    s_en := format('[Instruction done] %s: %s%s (%s)', dept.name_en, what,
                   CASE WHEN btrim(NEW.result) <> '' THEN ' — result: ' || NEW.result ELSE '' END,
                   ops.actor_label(NEW.closed_by));
  ELSIF OLD.state = 'open' AND NEW.state = 'withdrawn' THEN
    s_ja := format('【指示取消】%s：%s　理由：%s（%s）', dept.name_ja, what, NEW.result, ops.actor_label(NEW.closed_by));
    s_en := format('[Instruction withdrawn] %s: %s — reason: %s (%s)', dept.name_en, what, NEW.result,
                   ops.actor_label(NEW.closed_by));
  ELSE
    RETURN NULL;
  END IF;
  INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id, incident_id, department_id)
  VALUES (coalesce(NEW.closed_at, NEW.instructed_at), 'instruction', s_ja, s_en,
          jsonb_build_object('instruction_id', NEW.id, 'state', NEW.state),
          coalesce(NEW.closed_by, NEW.instructed_by), NEW.disaster_id, NEW.incident_id, NEW.department_id);
  RETURN NULL;
END $f$;
CREATE TRIGGER instruction_chronology AFTER INSERT OR UPDATE OF state ON ops.instruction
  FOR EACH ROW EXECUTE FUNCTION ops.chrono_instruction();

GRANT SELECT, INSERT, UPDATE ON ops.instruction TO gisapp_rw;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO gisapp_rw;

-- ======================================================================== text search
DO $do$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX hq_log_summary_ja_trgm ON ops.hq_log USING gin (summary_ja gin_trgm_ops);
  CREATE INDEX hq_log_summary_en_trgm ON ops.hq_log USING gin (summary_en gin_trgm_ops);
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
  RAISE NOTICE 'pg_trgm unavailable (%): chronology search works without its index', SQLERRM;
END $do$;
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS ops.hq_log_summary_ja_trgm;
DROP INDEX IF EXISTS ops.hq_log_summary_en_trgm;
DO $do$
BEGIN
  DROP EXTENSION IF EXISTS pg_trgm;  -- unless something else now uses it
EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
  RAISE NOTICE 'pg_trgm kept: %', SQLERRM;
END $do$;
DROP TRIGGER instruction_chronology ON ops.instruction;
DROP TABLE ops.instruction;
DROP FUNCTION ops.chrono_instruction(), ops.instruction_guard();
DROP TRIGGER disaster_chronology ON ops.disaster;
DROP FUNCTION ops.chrono_disaster();
DROP TRIGGER shelter_opening_chronology ON ops.shelter_opening;
DROP FUNCTION ops.chrono_shelter_opening();
DROP TRIGGER incident_event_chronology ON ops.incident_event;
DROP FUNCTION ops.chrono_incident_event();
DROP FUNCTION ops.actor_label(text);
DROP INDEX ops.hq_log_kind_idx;
DROP INDEX ops.hq_log_department_idx;
ALTER TABLE ops.hq_log DROP COLUMN department_id;
-- Notes in incidents' histories cannot stay under the old constraint: they are kept in the HQ log.
ALTER TABLE ops.incident_event DISABLE TRIGGER incident_event_append_only;
DELETE FROM ops.incident_event WHERE kind = 'note';
ALTER TABLE ops.incident_event ENABLE TRIGGER incident_event_append_only;
ALTER TABLE ops.incident_event DROP CONSTRAINT incident_event_kind_check;
ALTER TABLE ops.incident_event ADD CONSTRAINT incident_event_kind_check
  CHECK (kind IN ('created', 'status', 'edited', 'dispatch', 'assignment', 'report_merged', 'photo', 'moved'));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
