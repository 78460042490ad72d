"""Hash-chained audit log: each entry carries the previous entry's hash.

Every entry gets a chain position ``seq`` (1, 2, 3 … without gaps), ``prev_hash`` (the hash of the
entry at ``seq - 1``; 32 zero bytes for the first) and ``hash = sha256(prev_hash || entry_bytes)``.
``entry_bytes`` is a length-prefixed binary form of (seq, id, at, actor, action, target, details)
described in docs/audit.md; ``gisapp.audit_chain`` recomputes it independently in Python.

Chain order is commit order: the BEFORE INSERT trigger locks the one-row ``audit.chain_head`` and
keeps that row lock until its transaction ends, so appends are serialised and a second writer reads
the last entry only after the first has committed (or rolled back: its position is then reused, no
gap). The head records the last position and hash (updated once per statement), so deleting the
last entries shows too.
The id (drawn from the sequence before the trigger waits) may therefore run out of chain order.
The trigger is SECURITY DEFINER so the app role needs no right on the head, and it overwrites any
seq/prev_hash/hash a client supplies. Existing entries are chained here, in id order.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE audit.log
  ADD COLUMN seq bigint,
  ADD COLUMN prev_hash bytea,
  ADD COLUMN hash bytea;

-- Unambiguous bytes of one entry: fixed-width big-endian integers, then each text field as
-- (4-byte length, UTF-8 bytes). `at` in microseconds since the epoch (independent of TimeZone);
-- details as jsonb's text form, which is canonical (keys sorted, one spelling per value).
CREATE FUNCTION audit.entry_bytes(seq bigint, id bigint, at timestamptz, actor text, action text,
                                  target text, details jsonb)
RETURNS bytea LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $f$
  SELECT int8send(seq) || int8send(id) || int8send((extract(epoch FROM at) * 1000000)::bigint)
      || int4send(octet_length(convert_to(actor, 'UTF8'))) || convert_to(actor, 'UTF8')
      || int4send(octet_length(convert_to(action, 'UTF8'))) || convert_to(action, 'UTF8')
      || int4send(octet_length(convert_to(target, 'UTF8'))) || convert_to(target, 'UTF8')
      || int4send(octet_length(convert_to(details::text, 'UTF8'))) || convert_to(details::text, 'UTF8')
$f$;

CREATE TABLE audit.chain_head (
  one   boolean PRIMARY KEY DEFAULT true CHECK (one),  -- exactly one row
  seq   bigint NOT NULL,                               -- position of the last entry (0: empty log)
  hash  bytea NOT NULL                                 -- its hash (32 zero bytes: empty log)
);

-- Chain what is already there, in id order. UPDATE is refused by the append-only trigger, so it is
-- switched off for this transaction only; ADD COLUMN above holds an exclusive lock, so no writer
-- can slip in between.
ALTER TABLE audit.log DISABLE TRIGGER log_append_only;
DO $$
DECLARE
  r record;
  n bigint := 0;
  h bytea := decode(repeat('00', 32), 'hex');
  nh bytea;
BEGIN
  FOR r IN SELECT id, at, actor, action, target, details FROM audit.log ORDER BY id LOOP
    n := n + 1;
    nh := sha256(h || audit.entry_bytes(n, r.id, r.at, r.actor, r.action, r.target, r.details));
    UPDATE audit.log SET seq = n, prev_hash = h, hash = nh WHERE id = r.id;
    h := nh;
  END LOOP;
  INSERT INTO audit.chain_head (seq, hash) VALUES (n, h);
END $$;
ALTER TABLE audit.log ENABLE TRIGGER log_append_only;

ALTER TABLE audit.log
  ALTER COLUMN seq SET NOT NULL,
  ALTER COLUMN prev_hash SET NOT NULL,
  ALTER COLUMN hash SET NOT NULL,
  ADD CONSTRAINT log_seq_key UNIQUE (seq);

CREATE FUNCTION audit.chain_append() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $f$
DECLARE
  last_seq bigint := 0;
  last_hash bytea := decode(repeat('00', 32), 'hex');
BEGIN
  -- The row lock lasts until this transaction ends: that is what makes chain order commit order.
  -- Taken after the previous holder committed, so the query below (a new snapshot under READ
  -- COMMITTED) sees its entries; under REPEATABLE READ a stale snapshot ends in a unique violation
  -- on seq or a serialisation failure, never in a fork.
  PERFORM 1 FROM audit.chain_head WHERE one FOR UPDATE;
  SELECT seq, hash INTO last_seq, last_hash FROM audit.log ORDER BY seq DESC LIMIT 1;
  NEW.seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
  NEW.hash := sha256(NEW.prev_hash || audit.entry_bytes(NEW.seq, NEW.id, NEW.at, NEW.actor, NEW.action,
                                                        NEW.target, NEW.details));
  RETURN NEW;
END $f$;
CREATE TRIGGER log_chain BEFORE INSERT ON audit.log
  FOR EACH ROW EXECUTE FUNCTION audit.chain_append();

-- The head follows once per statement, not per row: updating one row many times in one transaction
-- makes every later update walk all its versions (a bulk insert of 100,000 entries slowed to 566/s).
CREATE FUNCTION audit.chain_advance() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $f$
BEGIN
  UPDATE audit.chain_head h SET seq = n.seq, hash = n.hash
    FROM (SELECT seq, hash FROM appended ORDER BY seq DESC LIMIT 1) n
   WHERE h.one;
  RETURN NULL;
END $f$;
CREATE TRIGGER log_chain_head AFTER INSERT ON audit.log
  REFERENCING NEW TABLE AS appended FOR EACH STATEMENT EXECUTE FUNCTION audit.chain_advance();

GRANT SELECT ON audit.chain_head TO gisapp_rw;
"""

DOWNGRADE = r"""
DROP TRIGGER log_chain_head ON audit.log;
DROP TRIGGER log_chain ON audit.log;
DROP FUNCTION audit.chain_advance();
DROP FUNCTION audit.chain_append();
DROP TABLE audit.chain_head;
DROP FUNCTION audit.entry_bytes(bigint, bigint, timestamptz, text, text, text, jsonb);
ALTER TABLE audit.log DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN hash;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
