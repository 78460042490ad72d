"""Login throttling per account and per address.

Failed logins are counted per normalised username (also names that have no account, so a lock does not
reveal which accounts exist) and per client address, stored as an HMAC of the address rather than the
address itself. While a row is locked, a login is refused with 429 before any password hashing. The
state lives here, not in a process, so every `gisapp serve` process behind the proxy shares it. The
policy (thresholds, lock lengths) is in gisapp/login_throttle.py.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE core.login_throttle (
  scope            text NOT NULL CHECK (scope IN ('account', 'address')),
  -- account: the normalised username as typed; address: hex HMAC-SHA256 of the client address
  key              text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
  failures         int NOT NULL DEFAULT 0 CHECK (failures >= 0),
  window_start     timestamptz NOT NULL DEFAULT now(),
  last_failure_at  timestamptz NOT NULL DEFAULT now(),
  locked_until     timestamptz,
  PRIMARY KEY (scope, key)
);
-- Pruning of rows nobody has failed on for a while.
CREATE INDEX login_throttle_last_failure_idx ON core.login_throttle (last_failure_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON core.login_throttle TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP TABLE core.login_throttle;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
