"""Disaster mode: a second person's confirmation, the solo cap.

A disaster mode (0016) lets its roles read every person of the registry, consent or not. One account
alone could switch it on for up to 72 hours. Now:

- One person (hq_operator or admin) may switch it on for at most ``SOLO_MINUTES`` (3 hours,
  ``gisapp.ops.disaster_mode.SOLO_MINUTES``); the length asked for is kept in ``requested_minutes``.
- A second, different account of the complementary side confirms it (``confirmed_by``), which
  extends it to the length asked for, at most 72 hours from its start. Sides: the HQ
  (``hq_operator``) and the registry (``welfare``, ``admin``); the confirmer brings a side the
  activator lacks (``activated_roles``).
- The database holds the rule too: checks on the table, and a trigger that refuses any other change
  to a mode (no stretching ``expires_at`` by hand, no confirming one's own, no confirming an ended
  one). The table owner may still fix a row (the policies are not FORCEd, the trigger lets it pass).
- ``restricted.disaster_roles()`` (read by the row-level policies of 0016) is unchanged: it reads
  ``expires_at``, which is the solo cap until a confirmation moves it.

Modes recorded before this migration keep what they asked for in ``requested_minutes``; any longer
than the cap are cut to it (one still running past it ends now).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE restricted.disaster_mode
  ADD COLUMN requested_minutes int,
  ADD COLUMN activated_roles text[] NOT NULL DEFAULT '{}',
  ADD COLUMN confirmed_by text,
  ADD COLUMN confirmed_at timestamptz;
UPDATE restricted.disaster_mode
   SET requested_minutes = greatest(1, ceil(extract(epoch FROM expires_at - activated_at) / 60))::int;
UPDATE restricted.disaster_mode SET expires_at = activated_at + interval '3 hours'
 WHERE expires_at > activated_at + interval '3 hours';
ALTER TABLE restricted.disaster_mode
  ALTER COLUMN requested_minutes SET NOT NULL,
  ADD CONSTRAINT disaster_mode_requested CHECK (requested_minutes BETWEEN 1 AND 72 * 60),
  ADD CONSTRAINT disaster_mode_solo_cap
    CHECK (confirmed_by IS NOT NULL OR expires_at <= activated_at + interval '3 hours'),
  ADD CONSTRAINT disaster_mode_cap CHECK (expires_at <= activated_at + interval '72 hours'),
  ADD CONSTRAINT disaster_mode_second_person
    CHECK (confirmed_by IS NULL OR (confirmed_by <> activated_by AND confirmed_at IS NOT NULL));

-- Switching on: by the HQ or an admin, alone, and never already confirmed.
DROP POLICY disaster_mode_switch ON restricted.disaster_mode;
CREATE POLICY disaster_mode_switch ON restricted.disaster_mode FOR INSERT
  WITH CHECK (restricted.acting_roles() && ARRAY['admin', 'hq_operator'] AND confirmed_by IS NULL);
-- Ending or confirming: the HQ, welfare or an admin; what may change is the trigger's to say.
DROP POLICY disaster_mode_end ON restricted.disaster_mode;
CREATE POLICY disaster_mode_change ON restricted.disaster_mode FOR UPDATE
  USING (restricted.acting_roles() && ARRAY['admin', 'hq_operator', 'welfare']);

CREATE FUNCTION restricted.disaster_mode_guard() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  acting text[] := restricted.acting_roles();
  hq_missing boolean := NOT (OLD.activated_roles && ARRAY['hq_operator']);
  registry_missing boolean := NOT (OLD.activated_roles && ARRAY['welfare', 'admin']);
BEGIN
  IF current_user = (SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                      WHERE c.oid = TG_RELID) THEN
    RETURN NEW;  -- the owner may fix a row
  END IF;
  IF (NEW.id, NEW.activated_at, NEW.activated_by, NEW.roles, NEW.reason, NEW.requested_minutes,
      NEW.activated_roles) IS DISTINCT FROM
     (OLD.id, OLD.activated_at, OLD.activated_by, OLD.roles, OLD.reason, OLD.requested_minutes,
      OLD.activated_roles) THEN
    RAISE EXCEPTION 'a disaster mode''s activation cannot be changed' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.confirmed_by IS DISTINCT FROM OLD.confirmed_by THEN
    IF OLD.confirmed_by IS NOT NULL OR NEW.confirmed_by IS NULL THEN
      RAISE EXCEPTION 'a confirmation cannot be changed' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.ended_at IS NOT NULL OR now() >= OLD.expires_at THEN
      RAISE EXCEPTION 'the disaster mode is no longer active' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT ((hq_missing AND acting && ARRAY['hq_operator'])
            OR (registry_missing AND acting && ARRAY['welfare', 'admin'])
            OR (NOT hq_missing AND NOT registry_missing AND acting && ARRAY['hq_operator', 'welfare', 'admin'])) THEN
      RAISE EXCEPTION 'the confirmer must be of the complementary role' USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The length is the one asked for at activation, whatever the update says.
    NEW.confirmed_at := now();
    NEW.expires_at := OLD.activated_at + make_interval(mins => OLD.requested_minutes);
  ELSIF NEW.expires_at IS DISTINCT FROM OLD.expires_at OR NEW.confirmed_at IS DISTINCT FROM OLD.confirmed_at THEN
    RAISE EXCEPTION 'only a second person''s confirmation extends a disaster mode'
      USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.ended_at IS NOT NULL AND (NEW.ended_at, NEW.ended_by) IS DISTINCT FROM (OLD.ended_at, OLD.ended_by) THEN
    RAISE EXCEPTION 'an ended disaster mode stays ended' USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $f$;
CREATE TRIGGER disaster_mode_guard BEFORE UPDATE ON restricted.disaster_mode
  FOR EACH ROW EXECUTE FUNCTION restricted.disaster_mode_guard();
"""

DOWNGRADE = r"""
DROP TRIGGER disaster_mode_guard ON restricted.disaster_mode;
DROP FUNCTION restricted.disaster_mode_guard();
DROP POLICY disaster_mode_change ON restricted.disaster_mode;
CREATE POLICY disaster_mode_end ON restricted.disaster_mode FOR UPDATE
  USING (string_to_array(coalesce(current_setting('gisapp.roles', true), ''), ',')
         && ARRAY['admin', 'hq_operator']);
DROP POLICY disaster_mode_switch ON restricted.disaster_mode;
CREATE POLICY disaster_mode_switch ON restricted.disaster_mode FOR INSERT
  WITH CHECK (string_to_array(coalesce(current_setting('gisapp.roles', true), ''), ',')
              && ARRAY['admin', 'hq_operator']);
ALTER TABLE restricted.disaster_mode
  DROP CONSTRAINT disaster_mode_second_person, DROP CONSTRAINT disaster_mode_cap,
  DROP CONSTRAINT disaster_mode_solo_cap, DROP CONSTRAINT disaster_mode_requested,
  DROP COLUMN confirmed_at, DROP COLUMN confirmed_by, DROP COLUMN activated_roles,
  DROP COLUMN requested_minutes;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
