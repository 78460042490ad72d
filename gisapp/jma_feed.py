"""The JMA PULL Atom feed poller (`gisapp jma poll`; `gisapp up` starts it when GISAPP_JMA_FEED_URL is
set).

Each poll is a conditional GET (If-None-Match / If-Modified-Since from the last answer): a 304
costs nothing. A changed feed is read (the same hardened parser as the telegrams), its entries for
the kinds we read (気象警報・注意報, 土砂災害警戒情報, 指定河川洪水予報: by title or by the data type in
the link, VPWW53/54, VXWW40/50, VXKO) that were not handled before are fetched oldest first and
stored (``gisapp.ops.jma.store``). Sizes and times are bounded; links must be http(s) on the feed's
own host. When a telegram cannot be fetched the feed's validators are not kept, so the next poll reads
the feed again and retries it. Every poll's outcome lands in ``ops.jma_feed`` (error, last success),
which /healthz and the HQ map read.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from sqlalchemy import Engine

from gisapp.db import read_only, transaction
from gisapp.ops import jma, jma_feeds
from ingest import jmaxml

log = logging.getLogger("gisapp.jma_feed")

ATOM = "http://www.w3.org/2005/Atom"
TIMEOUT_S = 10.0
MAX_FEED_BYTES = 4 * 1024 * 1024
USER_AGENT = "gisapp-jma-poller/0.1"
KIND_TITLES = ("気象特別警報・警報・注意報", "気象警報・注意報", "土砂災害警戒情報", "指定河川洪水予報")
KIND_LINK = re.compile(r"(VPWW5[34]|VXWW[45]0|VXKO\d\d)")


class FeedError(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} / {en}")


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    updated: str
    link: str
    author: str = ""  # the issuing office (横浜地方気象台 …)


@dataclass
class PollResult:
    url: str
    ok: bool
    not_modified: bool = False
    error: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)  # entry id -> outcome


def _opener() -> urllib.request.OpenerDirector:
    """http(s) only, also for redirects (no file:, ftp:, data:)."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def fetch(
    url: str, *, timeout: float = TIMEOUT_S, max_bytes: int, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a GET; 304 is a status, not an error. FeedError on anything else."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FeedError(f"http(s) 以外の URL です：{url[:200]}", f"Not an http(s) URL: {url[:200]}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    deadline = time.monotonic() + timeout * 3
    try:
        with _opener().open(request, timeout=timeout) as resp:
            chunks, size = [], 0
            while chunk := resp.read(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise FeedError(
                        f"応答が大きすぎます（上限 {max_bytes} バイト）：{url[:200]}",
                        f"The answer is too large (limit {max_bytes} bytes): {url[:200]}",
                    )
                if time.monotonic() > deadline:
                    raise FeedError(
                        f"受信に時間がかかりすぎます：{url[:200]}", f"The download took too long: {url[:200]}"
                    )
                chunks.append(chunk)
            return resp.status, dict(resp.headers.items()), b"".join(chunks)
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return 304, dict(e.headers.items()), b""
        raise FeedError(f"HTTP {e.code}：{url[:200]}", f"HTTP {e.code}: {url[:200]}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise FeedError(
            f"接続できません（{reason}）：{url[:200]}", f"Cannot fetch ({reason}): {url[:200]}"
        ) from None


def parse_feed(data: bytes, base: str) -> list[Entry]:
    """The entries of an Atom feed (JMA PULL format: an entry's ``link`` href is the telegram)."""
    try:
        root = jmaxml.parse_bytes(data)
    except jmaxml.TelegramError as e:
        raise FeedError(f"フィードが読めません：{e.ja}", f"Unreadable feed: {e.en}") from None
    if root.tag != f"{{{ATOM}}}feed":
        raise FeedError("Atom フィードではありません。", "Not an Atom feed.")
    entries = []
    for el in root.iterfind(f"{{{ATOM}}}entry"):
        links = el.findall(f"{{{ATOM}}}link")
        link = next((li for li in links if li.get("type") == "application/xml"), links[0] if links else None)
        href = (link.get("href") or "").strip() if link is not None else ""
        entry_id = (el.findtext(f"{{{ATOM}}}id") or "").strip() or href
        if not href or not entry_id:
            continue
        entries.append(
            Entry(
                id=entry_id,
                title=(el.findtext(f"{{{ATOM}}}title") or "").strip(),
                updated=(el.findtext(f"{{{ATOM}}}updated") or "").strip(),
                link=urljoin(base, href),
                author=(el.findtext(f"{{{ATOM}}}author/{{{ATOM}}}name") or "").strip(),
            )
        )
    return entries


def relevant(entry: Entry, offices: Sequence[str] = ()) -> bool:
    """Of a kind we read, and (when ``offices`` is given) from one of those offices."""
    kind = entry.title.startswith(KIND_TITLES) or bool(KIND_LINK.search(entry.link))
    return kind and (not offices or entry.author in offices)


def _same_host(a: str, b: str) -> bool:
    return urlsplit(a).netloc.lower() == urlsplit(b).netloc.lower()


def poll_once(
    engine: Engine,
    url: str,
    *,
    area_codes: Sequence[str],
    stale_minutes: int,
    offices: Sequence[str] = (),
    timeout: float = TIMEOUT_S,
    max_feed_bytes: int = MAX_FEED_BYTES,
    max_telegram_bytes: int = jmaxml.MAX_BYTES,
) -> PollResult:
    """One poll of one feed; never raises for a feed or telegram problem (it is recorded)."""
    with read_only(engine) as conn:
        etag, last_modified = jma_feeds.validators(conn, url)
    conditional = {}
    if etag:
        conditional["If-None-Match"] = etag
    if last_modified:
        conditional["If-Modified-Since"] = last_modified
    try:
        status, headers, body = fetch(url, timeout=timeout, max_bytes=max_feed_bytes, headers=conditional)
        if status == 304:
            with transaction(engine) as conn:
                jma_feeds.record_poll(conn, url, stale_minutes, error=None, keep_validators=True)
            return PollResult(url, True, not_modified=True)
        entries = [e for e in parse_feed(body, url) if relevant(e, offices)]
    except FeedError as e:
        log.warning("JMA feed poll failed", extra={"url": url, "error": str(e)[:300]})
        with transaction(engine) as conn:
            jma_feeds.record_poll(conn, url, stale_minutes, error=str(e), keep_validators=True)
        return PollResult(url, False, error=str(e))

    with transaction(engine) as conn:
        jma_feeds.ensure(conn, url)
        new = set(jma_feeds.unseen(conn, url, (e.id for e in entries)))
    # Oldest first (a feed lists the newest first; at the same time, the later in the feed is older).
    todo = sorted(reversed([e for e in entries if e.id in new]), key=lambda e: e.updated)
    result, failed = PollResult(url, True), []
    for entry in todo:
        if not _same_host(entry.link, url):
            outcome = "invalid: link to another host"
        else:
            try:
                _, _, data = fetch(entry.link, timeout=timeout, max_bytes=max_telegram_bytes)
            except FeedError as e:
                failed.append(str(e))
                continue  # not marked: the next poll reads the feed again and retries
            try:
                outcome = jma.store(
                    engine, data, source=f"feed:{url}#{entry.id}", area_codes=area_codes
                ).outcome
            except jmaxml.TelegramError as e:
                outcome = f"invalid: {e.en}"
                log.warning("JMA telegram refused", extra={"url": entry.link, "error": str(e)[:300]})
        result.outcomes[entry.id] = outcome
        with transaction(engine) as conn:
            jma_feeds.mark_seen(conn, url, entry.id)
    error = None
    if failed:
        error = f"電文 {len(failed)} 件を取得できません / {len(failed)} telegram(s) could not be fetched: {failed[0]}"
        result.ok, result.error = False, error
    with transaction(engine) as conn:
        jma_feeds.record_poll(
            conn,
            url,
            stale_minutes,
            error=error,
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
            keep_validators=bool(failed),
            entries=len(result.outcomes),
        )
        jma_feeds.keep_only(conn, url, (e.id for e in entries))
    return result


def run(
    engine: Engine,
    urls: Sequence[str],
    *,
    area_codes: Sequence[str],
    stale_minutes: int,
    interval: float,
    stop: threading.Event,
    offices: Sequence[str] = (),
) -> None:
    """Poll every feed each ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        for url in urls:
            try:
                r = poll_once(
                    engine, url, area_codes=area_codes, stale_minutes=stale_minutes, offices=offices
                )
                if r.outcomes:
                    log.info("JMA feed polled", extra={"url": url, "entries": r.outcomes})
            except Exception:  # the database away: keep polling, the next round may succeed
                log.exception("JMA feed poll failed unexpectedly", extra={"url": url})
        stop.wait(interval)
