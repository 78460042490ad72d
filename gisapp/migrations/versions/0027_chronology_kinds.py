"""The HQ log (ops.hq_log) becomes the クロノロジー of the whole day: it takes entries of every kind the
HQ's work produces, and an entry can name the incident, shelter or radio unit it is about, so the
chronology can be filtered by them and an incident's page can show its own history.

Each part of the day writes its own entries (triggers on its append-only tables, or its domain call);
this revision only opens the log to them.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

KINDS = (
    "evacuation",  # 避難情報 issued / changed / cancelled
    "suggestion",  # a 発令基準 suggestion and its dismissal
    "jma",  # an applied JMA telegram
    "gauge_alert",  # a gauge into or out of a level
    "note",  # free text by a person
    "incident",  # an incident reported, its status changed
    "dispatch",  # a unit or team dispatched, on scene, cleared
    "shelter",  # a shelter opened or closed
    "checkin",  # shelter operations (needs, counts) worth the HQ's eye
    "device",  # a device alert: dead letters, unknown categories, misconfigured devices
    "unit",  # a unit's duty state
    "geofence",  # a unit entering or leaving a hazard area, a shelter or a region of its own
    "instruction",  # 指示: to a department, with 完了 tracking
    "handover",  # 引継ぎ at a shift change
    "damage",  # 被害報: damage figures entered or corrected
    "disaster",  # a disaster opened, closed, merged; an incident moved between disasters
)

UPGRADE = f"""
ALTER TABLE ops.hq_log DROP CONSTRAINT hq_log_kind_check;
ALTER TABLE ops.hq_log ADD CONSTRAINT hq_log_kind_check CHECK (kind IN ({", ".join(f"'{k}'" for k in KINDS)}));
ALTER TABLE ops.hq_log
  ADD COLUMN incident_id int REFERENCES ops.incident(id),
  ADD COLUMN shelter_id  int REFERENCES gis.shelter(id),
  ADD COLUMN unit_id     text;
CREATE INDEX hq_log_incident_idx ON ops.hq_log (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX hq_log_disaster_at_idx ON ops.hq_log (disaster_id, at);
"""

DOWNGRADE = """
DROP INDEX ops.hq_log_disaster_at_idx;
DROP INDEX ops.hq_log_incident_idx;
ALTER TABLE ops.hq_log DROP COLUMN unit_id, DROP COLUMN shelter_id, DROP COLUMN incident_id;
DELETE FROM ops.hq_log WHERE kind NOT IN ('evacuation', 'suggestion', 'jma', 'gauge_alert', 'note');
ALTER TABLE ops.hq_log DROP CONSTRAINT hq_log_kind_check;
ALTER TABLE ops.hq_log ADD CONSTRAINT hq_log_kind_check
  CHECK (kind IN ('evacuation', 'suggestion', 'jma', 'gauge_alert', 'note'));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
