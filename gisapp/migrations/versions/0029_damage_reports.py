"""被害報 (damage reports) per incident, for the 消防庁「火災・災害等即報要領」第4号様式 (その2 被害状況即報,
and the 確定報 in the same layout) the HQ sends to the prefecture.

``ops.incident_damage`` holds every version of an incident's figures: append-only, one row per version
(who, when, why), so a correction is a new version with its reason and "the totals as of time T" are
each incident's latest version at or before T. ``ops.incident_damage_current`` is the latest version of
each incident. The figures are the rows of 第4号様式その2 that an incident can carry: 人的被害 (人),
住家被害 (棟・世帯・人 for 全壊, 半壊, 一部破損, 床上浸水, 床下浸水), 非住家 (棟), the その他 rows counted in
箇所・隻・戸・回線, and 火災発生 (件). Hectares of fields and 被害額 (千円) are assessed by departments
later, not per incident: they are not here. Every figure is a non-negative integer (the database
refuses anything else), and a version after the first needs a reason.

Damage is internal: gisapp_rw reads and appends, the citizen-facing role has no grant and no pub. view.
The domain call (gisapp/ops/damage.py) writes the クロノロジー entry (ops.hq_log, kind 'damage') in the
same transaction; its NOTIFY tells the HQ map to refresh the totals.

Revision ID: 0029
Revises: 0030
Create Date: 2026-12-08
"""

from alembic import op

revision = "0029"
down_revision = "0030"
branch_labels = None
depends_on = None

# The columns as of this revision (the domain's list, gisapp/ops/damage.py FIELDS, may grow by later
# revisions; a test checks the two agree).
FIGURES = (
    "dead", "missing", "injured_serious", "injured_minor",  # 人的被害 (人)
    *(f"{row}_{unit}" for row in ("destroyed", "half", "partial", "flooded_above", "flooded_below")
      for unit in ("buildings", "households", "people")),  # 住家被害 (棟・世帯・人)
    "public_buildings", "other_buildings",  # 非住家 (棟)
    "schools", "hospitals", "roads", "bridges", "rivers", "ports", "erosion_control", "sanitation",
    "cliff_failures", "railway_outages", "vessels", "water_outages", "phone_outages", "power_outages",
    "gas_outages", "block_walls",  # その他
    "fire_buildings", "fire_hazmat", "fire_other",  # 火災発生 (件)
)  # fmt: skip

_COLUMNS = ",\n".join(f"  {name} int NOT NULL DEFAULT 0 CHECK ({name} >= 0)" for name in FIGURES)

UPGRADE = f"""
CREATE TABLE ops.incident_damage (
  incident_id  bigint NOT NULL REFERENCES ops.incident(id),
  version      int NOT NULL CHECK (version >= 1),
{_COLUMNS},
  reason       text NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
  actor        text NOT NULL,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (incident_id, version),
  -- a correction says why
  CHECK (version = 1 OR length(btrim(reason)) >= 1)
);
CREATE INDEX incident_damage_at_idx ON ops.incident_damage (at);

CREATE TRIGGER incident_damage_append_only BEFORE UPDATE OR DELETE ON ops.incident_damage
  FOR EACH ROW EXECUTE FUNCTION ops.reject_change();
CREATE TRIGGER incident_damage_no_truncate BEFORE TRUNCATE ON ops.incident_damage
  FOR EACH STATEMENT EXECUTE FUNCTION ops.reject_change();
"""
VIEW = """
CREATE VIEW ops.incident_damage_current AS
  SELECT DISTINCT ON (incident_id) * FROM ops.incident_damage ORDER BY incident_id, version DESC;

GRANT SELECT, INSERT ON ops.incident_damage TO gisapp_rw;
GRANT SELECT ON ops.incident_damage_current TO gisapp_rw;
"""

DOWNGRADE = """
DROP VIEW ops.incident_damage_current;
DROP TABLE ops.incident_damage;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(VIEW)


def downgrade() -> None:
    op.execute(DOWNGRADE)
