"""Broker statistics the ingest worker reads from Mosquitto's $SYS topics (e.g. messages the broker
dropped), for /healthz.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE ingest.broker_stat (
  name        text PRIMARY KEY,          -- the $SYS topic below $SYS/broker/
  value       bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT, UPDATE ON ingest.broker_stat TO gisapp_rw;
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE ingest.broker_stat")
