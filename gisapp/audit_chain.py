"""Verify the audit log's hash chain (migration 0013) and name the first broken entry.

The hashes are recomputed here in Python from the stored fields, not by the database's own
``audit.entry_bytes``, so a replaced SQL function cannot make a tampered log look intact. The walk
streams the log in chain order through a server-side cursor, so memory does not grow with the log.

A chain without an outside reference cannot catch someone who rewrites every entry after the one
they altered, and the chain head too: pass an ``Anchor`` (a position and its hash noted earlier,
e.g. printed by a previous `gisapp audit verify` and kept elsewhere) to catch that.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

GENESIS = bytes(32)  # prev_hash of the first entry
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_FIXED = struct.Struct(">qqq")
_LEN = struct.Struct(">i")
_BATCH = 10_000

_HEAD = text("SELECT seq, hash FROM audit.chain_head")
_ENTRIES = text(
    "SELECT seq, id, at, actor, action, target, details::text, prev_hash, hash FROM audit.log ORDER BY seq"
)
_BY_HASH = text("SELECT seq, id FROM audit.log WHERE hash = :h ORDER BY seq LIMIT 1")


class BreakKind(StrEnum):
    altered = "altered"  # 改ざん: the entry's content no longer gives its hash
    forged = "forged"  # 偽造ハッシュ: the entry's hash is not the one the chain recorded for it
    missing = "missing"  # 欠落: positions missing from the chain
    reordered = "reordered"  # 順序入れ替え: the entry links to an entry that is elsewhere in the chain


@dataclass(frozen=True)
class Anchor:
    """A chain position and its hash, noted earlier and kept outside the database."""

    seq: int
    hash: bytes

    @classmethod
    def parse(cls, value: str) -> Anchor:
        """``SEQ:HEX`` as printed by `gisapp audit verify` (raises ValueError otherwise)."""
        m = re.fullmatch(r"\s*(\d+):([0-9a-fA-F]{64})\s*", value)
        if not m:
            raise ValueError(value)
        return cls(int(m.group(1)), bytes.fromhex(m.group(2)))

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash.hex()}"


@dataclass(frozen=True)
class ChainBreak:
    kind: BreakKind
    seq: int  # chain position of the entry named (where it sits now); missing: the first absent one
    entry_id: int | None  # audit.log id of the entry named; missing: the entry after the gap, if any
    message_ja: str
    message_en: str


@dataclass(frozen=True)
class ChainReport:
    checked: int  # entries verified before the walk ended (all of them when intact)
    head: Anchor | None  # the last verified position and its hash (None: empty log)
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


class _Entry(NamedTuple):
    seq: Any
    id: Any
    at: Any
    actor: Any
    action: Any
    target: Any
    details: Any
    prev_hash: Any
    hash: Any


def entry_bytes(
    seq: int, entry_id: int, at: datetime, actor: str, action: str, target: str, details: str
) -> bytes:
    """The bytes hashed for one entry; the same layout as SQL ``audit.entry_bytes`` (docs/audit.md)."""
    parts = [_FIXED.pack(seq, entry_id, (at - _EPOCH) // _US)]
    for field in (actor, action, target, details):
        b = field.encode()
        parts.append(_LEN.pack(len(b)))
        parts.append(b)
    return b"".join(parts)


def entry_hash(prev_hash: bytes, e: _Entry) -> bytes | None:
    """sha256(prev_hash || entry_bytes), or None when a chain field or a field is missing."""
    if None in e or not isinstance(e.prev_hash, bytes):
        return None
    h = hashlib.sha256(prev_hash)
    h.update(entry_bytes(e.seq, e.id, e.at, e.actor, e.action, e.target, e.details))
    return h.digest()


def _entries(conn: Connection) -> Iterator[_Entry]:
    result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(_ENTRIES)
    for row in result:
        yield _Entry(*row)


def _brk(kind: BreakKind, e: _Entry | None, ja: str, en: str, *, seq: int | None = None) -> ChainBreak:
    return ChainBreak(kind, seq if seq is not None else e.seq if e else None, e.id if e else None, ja, en)


def _altered(e: _Entry) -> ChainBreak:
    return _brk(
        BreakKind.altered,
        e,
        f"エントリ #{e.seq}（id {e.id}）の内容が記録時のハッシュと一致しません（改ざん）。",
        f"Entry #{e.seq} (id {e.id}): its content does not match its recorded hash (altered).",
    )


def _forged(e: _Entry, by: str, by_en: str) -> ChainBreak:
    return _brk(
        BreakKind.forged,
        e,
        f"エントリ #{e.seq}（id {e.id}）のハッシュが{by}に記録された値と異なります（内容とハッシュの書き換え・偽造）。",
        f"Entry #{e.seq} (id {e.id}): its hash differs from the one recorded by {by_en} (content and hash rewritten, forged hash).",
    )


def _missing(first: int, last: int, before: _Entry | None) -> ChainBreak:
    span = f"#{first}" if first == last else f"#{first}–#{last}"
    where_ja = f"エントリ #{before.seq}（id {before.id}）の前の" if before else "末尾の"
    where_en = f"before entry #{before.seq} (id {before.id})" if before else "at the end of the log"
    return _brk(
        BreakKind.missing,
        before,
        f"{where_ja}エントリ {span} が欠落しています（削除）。",
        f"Entries {span} are missing {where_en} (deleted).",
        seq=first,
    )


def _link_break(conn: Connection, e: _Entry, expected_seq: int, prev: _Entry | None) -> ChainBreak | None:
    """What is wrong between the previous verified entry and ``e``, if anything."""
    if e.seq is None or not isinstance(e.prev_hash, bytes):
        return _altered(e)
    if e.seq > expected_seq:
        return _missing(expected_seq, e.seq - 1, e)
    prev_hash = prev.hash if prev else GENESIS
    if e.seq == expected_seq and e.prev_hash == prev_hash:
        return None
    linked = conn.execute(_BY_HASH, {"h": e.prev_hash}).first()
    if linked is not None and linked.seq != e.seq:
        return _brk(
            BreakKind.reordered,
            e,
            f"エントリ #{e.seq}（id {e.id}）は id {linked.id} の次に記録されたものですが、その id は #{linked.seq} にあります（順序の入れ替え）。",
            f"Entry #{e.seq} (id {e.id}) was recorded after id {linked.id}, which now sits at #{linked.seq} (reordered).",
        )
    if prev is not None and entry_hash(e.prev_hash, e) == e.hash:
        # e is consistent with what it recorded: the previous entry is the one rewritten.
        return _forged(prev, f"次のエントリ #{e.seq}", f"the next entry #{e.seq}")
    return _altered(e)


def verify(conn: Connection, *, anchor: Anchor | None = None) -> ChainReport:
    """Walk the chain in order; stop at the first broken entry.

    Run it in a REPEATABLE READ transaction to check one snapshot; under READ COMMITTED entries
    appended during the walk are checked too (the head is read first, so they never look missing).
    """
    head_row = conn.execute(_HEAD).first()
    # Hashes recorded outside the entries themselves: position -> [(hash, by whom ja, en)]
    checkpoints: dict[int, list[tuple[bytes, str, str]]] = {}
    if head_row is not None and head_row.seq > 0:
        checkpoints[head_row.seq] = [(head_row.hash, "チェーンの先頭（audit.chain_head）", "the chain head")]
    if anchor is not None:
        checkpoints.setdefault(anchor.seq, []).append((anchor.hash, "控え（アンカー）", "the anchor"))

    checked = 0
    prev: _Entry | None = None
    pending: tuple[_Entry, bytes | None] | None = None  # content mismatch: decided by the next entry
    for e in _entries(conn):
        if pending is not None:
            return ChainReport(checked, _anchor(prev), _content_break(*pending, e.prev_hash))
        expected = prev.seq + 1 if prev else 1
        brk = _link_break(conn, e, expected, prev)
        if brk is not None:
            return ChainReport(checked, _anchor(prev), brk)
        computed = entry_hash(e.prev_hash, e)
        if computed != e.hash:
            pending = (e, computed)
            continue
        for recorded, ja, en in checkpoints.get(e.seq, ()):
            if recorded != e.hash:
                return ChainReport(checked, _anchor(prev), _forged(e, ja, en))
        checked += 1
        prev = e
    if pending is not None:
        bad, computed = pending
        recorded = [h for h, _, _ in checkpoints.get(bad.seq, ())]
        return ChainReport(checked, _anchor(prev), _content_break(bad, computed, *recorded[:1]))
    last = prev.seq if prev else 0
    beyond = [s for s in checkpoints if s > last]
    if beyond:
        return ChainReport(checked, _anchor(prev), _missing(last + 1, max(beyond), None))
    return ChainReport(checked, _anchor(prev))


def _content_break(e: _Entry, computed: bytes | None, recorded_next: bytes | None = None) -> ChainBreak:
    """An entry whose content does not give its hash: if what follows recorded the hash of its present
    content, only its hash field was replaced (forged); otherwise its content was altered."""
    if computed is not None and recorded_next == computed:
        return _forged(e, "チェーン", "the chain")
    return _altered(e)


def _anchor(e: _Entry | None) -> Anchor | None:
    return Anchor(e.seq, e.hash) if e else None
