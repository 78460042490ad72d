"""Dead letters reviewed on the HQ/admin screen (/hq/dead-letters): who marked a dead letter as seen
and when, and indexes for the screen's filters (by reason, by device) and for /healthz's count.

The device filter reads the device id from the topic (gisapp/v1/{radio|gauge}/{device}/{leaf}) through
an expression index, so the table is not rewritten (the ingest worker keeps inserting meanwhile).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
ALTER TABLE ingest.dead_letter
  ADD COLUMN reviewed_at timestamptz,
  ADD COLUMN reviewed_by text CHECK (reviewed_by IS NULL OR length(reviewed_by) <= 200),
  ADD CONSTRAINT dead_letter_review_both CHECK ((reviewed_at IS NULL) = (reviewed_by IS NULL));
CREATE INDEX dead_letter_reason_idx ON ingest.dead_letter (reason_code, received_at);
CREATE INDEX dead_letter_device_idx ON ingest.dead_letter (split_part(topic, '/', 4), received_at);
CREATE INDEX dead_letter_unreviewed_idx ON ingest.dead_letter (received_at) WHERE reviewed_at IS NULL;
"""
    )


def downgrade() -> None:
    op.execute(
        """
DROP INDEX ingest.dead_letter_unreviewed_idx;
DROP INDEX ingest.dead_letter_device_idx;
DROP INDEX ingest.dead_letter_reason_idx;
ALTER TABLE ingest.dead_letter DROP CONSTRAINT dead_letter_review_both,
  DROP COLUMN reviewed_by, DROP COLUMN reviewed_at;
"""
    )
