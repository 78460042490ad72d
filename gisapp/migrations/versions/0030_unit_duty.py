"""Duty states (勤務状態) of radio units and teams: 待機 standby / 出動中 dispatched / 現着 on scene /
帰署 returning / 休止 off duty, kept as append-only events so the day's history stays (who, when, why).

Dispatched and on scene follow the assignment (gisapp/ops/dispatch.py appends them in the dispatch's
own transaction); a cleared assignment puts the unit in 帰署 (it is on its way back, not yet ready);
standby, returning and off duty are set by the HQ (gisapp/ops/unit_duty.py). A unit or team with no
event yet is on standby. Every event pushes ``unit_duty`` to the HQ event stream, from a trigger, so no
code path changes a duty unseen; a duty the HQ sets writes a chronology entry (``ops.hq_log``, kind 'unit').
A duty that follows an assignment writes none: the incident's own dispatch / on scene / cleared entry
(migration 0028) already says it, and the chronology should say each thing once.

The communication state (online / silent / offline) is not a duty: it stays in sensor.device_health.

Revision ID: 0030
Revises: 0031
Create Date: 2026-12-08
"""

from alembic import op

revision = "0030"
down_revision = "0031"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE ops.duty_event (
  id             bigserial PRIMARY KEY,
  unit_id        text REFERENCES sensor.device(id) ON DELETE CASCADE,
  team_id        text REFERENCES ops.team(id),
  state          text NOT NULL CHECK (state IN ('standby', 'dispatched', 'on_scene', 'returning', 'off_duty')),
  from_state     text NOT NULL CHECK (from_state IN ('standby', 'dispatched', 'on_scene', 'returning', 'off_duty')),
  at             timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor          text NOT NULL,
  note           text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
  assignment_id  bigint REFERENCES ops.assignment(id),
  incident_id    bigint REFERENCES ops.incident(id),
  CHECK ((unit_id IS NULL) <> (team_id IS NULL))   -- one event per unit or per team
);
-- The current duty is the latest event: one index probe per unit or team.
CREATE INDEX duty_event_unit_idx ON ops.duty_event (unit_id, id) WHERE unit_id IS NOT NULL;
CREATE INDEX duty_event_team_idx ON ops.duty_event (team_id, id) WHERE team_id IS NOT NULL;
CREATE TRIGGER duty_event_append_only BEFORE UPDATE OR DELETE ON ops.duty_event
  FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
CREATE TRIGGER duty_event_no_truncate BEFORE TRUNCATE ON ops.duty_event
  FOR EACH STATEMENT EXECUTE FUNCTION ops.reject_change();

-- The chronology entry and the live event. The disaster: the incident's, else the latest open one.
CREATE FUNCTION ops.log_duty_event() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  ja constant jsonb := '{"standby": "待機", "dispatched": "出動中", "on_scene": "現着",
                         "returning": "帰署", "off_duty": "休止"}';
  en constant jsonb := '{"standby": "standby", "dispatched": "dispatched", "on_scene": "on scene",
                         "returning": "returning", "off_duty": "off duty"}';
  who_ja text;
  who_en text;
  radio text;
  disaster int;
BEGIN
  IF NEW.unit_id IS NOT NULL THEN
    SELECT format('無線機 %s（%s）', d.name, d.id), format('Radio unit %s (%s)', d.name, d.id), d.id
      INTO who_ja, who_en, radio FROM sensor.device d WHERE d.id = NEW.unit_id;
  ELSE
    SELECT format('班 %s（%s）', t.name, t.id), format('Team %s (%s)', t.name, t.id), t.radio_unit_id
      INTO who_ja, who_en, radio FROM ops.team t WHERE t.id = NEW.team_id;
  END IF;
  SELECT coalesce((SELECT i.disaster_id FROM ops.incident i WHERE i.id = NEW.incident_id),
                  (SELECT id FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC, id DESC LIMIT 1))
    INTO disaster;
  IF NEW.assignment_id IS NULL THEN
  INSERT INTO ops.hq_log (at, kind, summary_ja, summary_en, ref, actor, disaster_id, incident_id, unit_id)
  VALUES (NEW.at, 'unit',
          format('%s：%s → %s%s%s', who_ja, ja ->> NEW.from_state, ja ->> NEW.state,
                 CASE WHEN NEW.incident_id IS NULL THEN '' ELSE format('（事案 %s）', NEW.incident_id) END,
                 CASE WHEN NEW.note = '' THEN '' ELSE '　' || NEW.note END),
          format('%s: %s → %s%s%s', who_en, en ->> NEW.from_state, en ->> NEW.state,
                 CASE WHEN NEW.incident_id IS NULL THEN '' ELSE format(' (incident %s)', NEW.incident_id) END,
                 CASE WHEN NEW.note = '' THEN '' ELSE ' ' || NEW.note END),
          jsonb_build_object('duty_event_id', NEW.id, 'team_id', NEW.team_id, 'state', NEW.state,
                             'from_state', NEW.from_state, 'assignment_id', NEW.assignment_id),
          NEW.actor, disaster, NEW.incident_id, radio);
  END IF;
  PERFORM pg_notify('gisapp_events', json_build_object(
    'type', 'unit_duty', 'id', NEW.id, 'unit_id', NEW.unit_id, 'team_id', NEW.team_id, 'state', NEW.state,
    'from_state', NEW.from_state, 'incident_id', NEW.incident_id, 'at', NEW.at)::text);
  RETURN NULL;
END $f$;
CREATE TRIGGER duty_event_log AFTER INSERT ON ops.duty_event
  FOR EACH ROW EXECUTE FUNCTION ops.log_duty_event();

GRANT SELECT, INSERT ON ops.duty_event TO gisapp_rw;
GRANT USAGE ON SEQUENCE ops.duty_event_id_seq TO gisapp_rw;
"""

DOWNGRADE = r"""
DELETE FROM ops.hq_log WHERE kind = 'unit' AND ref ? 'duty_event_id';
DROP TABLE ops.duty_event;
DROP FUNCTION ops.log_duty_event();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
