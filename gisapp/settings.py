"""Settings: one pydantic-settings class, read from the environment (and `.env`).

Unset connection URLs fall back to the project-managed local stack (`gisapp up`), whose
per-install secrets live in `<data dir>/secrets.json` (mode 600, never committed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common import lgcode

LOCAL_DB_NAME = "gisapp"
# Login roles the local stack creates; production may name its own (see docker-compose.yml).
LOCAL_ROLES = {"owner": "gisapp_owner", "app": "gisapp_app", "public": "gisapp_public"}
INGEST_MQTT_USER = "gisapp-ingest"


def ingest_mqtt_user(worker: int = 1) -> str:
    """The broker account of ingest worker K (the broker makes it the client id, so each worker has its
    own durable session): worker 1 keeps the original account, and with it its session."""
    return INGEST_MQTT_USER if worker == 1 else f"{INGEST_MQTT_USER}-{worker}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- local stack (the embedded default) ---
    data_dir: Path = Field(Path(".data"), alias="GISAPP_DATA_DIR")
    bind_host: str = Field("127.0.0.1", alias="GISAPP_HOST")
    pg_port: int = Field(55432, alias="GISAPP_PG_PORT", ge=1, le=65535)
    mqtt_port: int = Field(11883, alias="GISAPP_MQTT_PORT", ge=1, le=65535)
    http_port: int = Field(8000, alias="GISAPP_HTTP_PORT", ge=1, le=65535)
    public_http_port: int = Field(8001, alias="GISAPP_PUBLIC_HTTP_PORT", ge=1, le=65535)
    pg_bindir: Path = Field(Path("/usr/lib/postgresql/15/bin"), alias="GISAPP_PG_BINDIR")
    # The hot standby of `gisapp up --replica` (docs/deploy.md, "Read replica").
    replica_pg_port: int = Field(55433, alias="GISAPP_REPLICA_PG_PORT", ge=1, le=65535)
    # Where the citizen-facing instance reads: "replica" = the local stack's hot standby (set by
    # `gisapp up --replica` for the public-api process it starts); its writes go to the primary.
    public_reads: Literal["primary", "replica"] = Field("primary", alias="GISAPP_PUBLIC_READS")

    # --- connections; None = derive from the local stack ---
    database_url: str | None = Field(None, alias="DATABASE_URL")
    public_database_url: str | None = Field(None, alias="PUBLIC_DATABASE_URL")
    # The database the citizen-facing instance reads (a streaming replica), as the public role; unset =
    # PUBLIC_DATABASE_URL, or the local replica when GISAPP_PUBLIC_READS=replica.
    public_read_database_url: str | None = Field(None, alias="PUBLIC_READ_DATABASE_URL")
    migration_database_url: str | None = Field(None, alias="MIGRATION_DATABASE_URL")
    mqtt_url: str | None = Field(None, alias="MQTT_URL")

    # --- web ---
    session_secure_cookie: bool = Field(False, alias="GISAPP_SECURE_COOKIES")
    session_hours: int = Field(12, alias="GISAPP_SESSION_HOURS", ge=1, le=24 * 30)
    # The integrated GIS runs on a network without internet: no online basemap.
    offline: bool = Field(False, alias="GISAPP_OFFLINE")
    # The city's own basemap (docs/basemap.md): a PMTiles or MBTiles file of vector tiles, and optionally
    # its MapLibre style.json (else one is made from the file's vector_layers). When set, every map uses
    # it, online and offline; unset: 地理院タイル online, our own layers offline.
    basemap: Path | None = Field(None, alias="GISAPP_BASEMAP")
    basemap_style: Path | None = Field(None, alias="GISAPP_BASEMAP_STYLE")
    # The city's plane-rectangular zone (平面直角座標系 I–XIX, EPSG:6669–6687; 神奈川 is IX, 6677): printed
    # maps are drawn in it, so their scale bar is true (gisapp/ops/situation_map.py).
    plane_crs: str = Field("EPSG:6677", alias="GISAPP_PLANE_CRS", pattern=r"^EPSG:66(69|7[0-9]|8[0-7])$")
    # Key of the HMAC that turns a citizen report sender's address into its rate-limit key; unset =
    # derived from the local stack's session_secret (see gisapp/api/reports.py).
    report_key_secret: str | None = Field(None, alias="GISAPP_REPORT_KEY_SECRET")
    # Behind a reverse proxy: the proxy's address(es), so X-Forwarded-For names the real sender (the
    # citizen-report rate limit is per sender). Unset: forwarded headers are ignored.
    forwarded_allow_ips: str | None = Field(None, alias="GISAPP_FORWARDED_ALLOW_IPS")
    # Origins besides the request's own host that may send cookie-authenticated writes (CSRF check,
    # gisapp/middleware.py), comma-separated, e.g. "https://gis.city.example,https://hq.city.example".
    allowed_origins: str | None = Field(None, alias="GISAPP_ALLOWED_ORIGINS")
    # Login throttling per account and address (gisapp/login_throttle.py). Off only for a benchmark's
    # baseline (bench/login_storm.py): never in service.
    login_throttle: bool = Field(True, alias="GISAPP_LOGIN_THROTTLE")
    # Admission control per app process (gisapp/admission.py): requests working on the database at
    # once (the connection pool is sized from it), how many more may wait, and how long a wait may
    # be: a request that would wait longer (judged from the recent service time) or has waited that
    # long is answered 503 with Retry-After.
    db_concurrency: int = Field(16, alias="GISAPP_DB_CONCURRENCY", ge=1, le=64)
    queue_length: int = Field(1_000, alias="GISAPP_QUEUE_LENGTH", ge=0, le=10_000)
    # Unset: 500 ms on the citizen-facing instance (a phone is better told "busy, retry in 2 s" than
    # kept waiting), 5 s on the internal one (HQ, kiosks and staff would rather wait than retry).
    queue_wait_ms: int | None = Field(None, alias="GISAPP_QUEUE_WAIT_MS", ge=0, le=30_000)
    # The in-memory response cache of shared public answers (gisapp/response_cache.py). Off only for
    # a benchmark's baseline and for tests of the routes themselves: never in service.
    response_cache: bool = Field(True, alias="GISAPP_RESPONSE_CACHE")
    # Evacuation information for other systems (CAP 1.2, Atom; gisapp/ops/evac_cap.py): the sender's
    # globally unique name (CAP <sender>: no spaces, commas, "<" or "&"; a mail address or domain of
    # the city), its display name, and the citizen-facing instance's public address for the documents'
    # links (unset: the address the request came to).
    cap_sender: str = Field("bousai@gisapp.invalid", alias="GISAPP_CAP_SENDER", pattern=r"^[^\s,<&]{3,100}$")
    cap_sender_name: str = Field("災害対策本部 / Disaster headquarters", alias="GISAPP_CAP_SENDER_NAME")
    public_base_url: str | None = Field(
        None, alias="GISAPP_PUBLIC_BASE_URL", pattern=r"^https?://[^\s]+[^/]$"
    )
    # The municipality's names on the 消防庁 第4号様式 (被害報, docs/damage-reports.md); the demo city by default.
    prefecture_name: str = Field("神奈川県", alias="GISAPP_PREFECTURE", min_length=1, max_length=20)
    municipality_name: str = Field("伊勢原市", alias="GISAPP_MUNICIPALITY", min_length=1, max_length=40)
    # Its 全国地方公共団体コード (six digits with the check digit, checked): the 自治体標準 open-data CSVs
    # carry it (layers/importers/shelter_export.py).
    municipality_code: str = Field("142140", alias="GISAPP_MUNICIPALITY_CODE", pattern=r"^[0-9]{6}$")
    # Push streams of the evacuation information per process (gisapp/evac_watch.py); beyond it 503 and
    # the page polls.
    evac_streams: int = Field(2000, alias="GISAPP_EVAC_STREAMS", ge=0, le=100_000)
    # Raster uploads (航空写真, docs/raster.md): the file's size on disk and its size once decompressed
    # (width × height × bands), in MiB; the COGs live under <data_dir>/rasters.
    raster_max_mb: int = Field(1024, alias="GISAPP_RASTER_MAX_MB", ge=1, le=4096)
    raster_max_pixels_mb: int = Field(8192, alias="GISAPP_RASTER_MAX_PIXELS_MB", ge=1, le=65536)

    @property
    def raster_dir(self) -> Path:
        return self.data_dir.resolve() / "rasters"

    @property
    def plane_srid(self) -> int:
        return int(self.plane_crs.split(":")[1])

    @field_validator(
        "forwarded_allow_ips",
        "report_key_secret",
        "allowed_origins",
        "public_read_database_url",
        "public_base_url",
        "basemap",
        "basemap_style",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None  # compose passes unset variables as ""

    # Processes per web instance (`gisapp serve --workers`); each takes its share of the instance's
    # admission limit and database connections (process_concurrency).
    web_workers: int = Field(1, alias="GISAPP_WEB_WORKERS", ge=1, le=8)
    # Processes of the citizen-facing instance that `gisapp up` starts. Unset: one per core (up to 4),
    # or GISAPP_WEB_WORKERS if that is more: the citizens' surge is CPU-bound on cached answers and
    # one process serves from one core (bench/citizen_surge.py, docs/deploy.md).
    public_web_workers: int | None = Field(None, alias="GISAPP_PUBLIC_WEB_WORKERS", ge=1, le=8)

    # --- ingest ---
    # How many `gisapp ingest` processes split the MQTT stream (a shared subscription when more than
    # one), and which of them this one is (its own broker account: ingest_mqtt_user).
    ingest_workers: int = Field(1, alias="GISAPP_INGEST_WORKERS", ge=1, le=8)
    ingest_worker: int = Field(1, alias="GISAPP_INGEST_WORKER", ge=1, le=8)
    ingest_batch_size: int = Field(500, alias="GISAPP_INGEST_BATCH", ge=1, le=10_000)
    ingest_batch_wait_ms: int = Field(50, alias="GISAPP_INGEST_WAIT_MS", ge=0, le=5_000)

    # --- JMA 防災情報XML (docs/evacuation-info.md, "JMA 防災情報XML") ---
    # Our areas, comma-separated JMA codes: 市町村等 (気象警報・注意報 and 土砂災害警戒情報; a city split
    # in two by JMA has two), and for 指定河川洪水予報 a 予報区域, river or 浸水想定地区 city code.
    # The default is the demo city 伊勢原市.
    jma_area_codes: str = Field("1421400", alias="GISAPP_JMA_AREA_CODES")
    # JMA PULL Atom feed(s) to poll, comma-separated (e.g. …/developer/xml/feed/extra.xml); unset: no
    # poller (telegrams by `gisapp jma import`).
    jma_feed_url: str | None = Field(None, alias="GISAPP_JMA_FEED_URL")
    # Fetch only the feed entries of these offices (the entry's author, e.g. 横浜地方気象台 for
    # 神奈川県), comma-separated; unset: every office's (JMA's feed covers all of Japan).
    jma_offices: str = Field("", alias="GISAPP_JMA_OFFICES")
    jma_poll_interval: int = Field(60, alias="GISAPP_JMA_POLL_INTERVAL", ge=10, le=3600)
    # No successful poll for this long and the feed is reported stale (/healthz, the HQ map).
    jma_stale_minutes: int = Field(10, alias="GISAPP_JMA_STALE_MINUTES", ge=1, le=1440)

    @field_validator("municipality_code")
    @classmethod
    def _lg_code(cls, value: str) -> str:
        if not lgcode.is_valid(value):
            raise ValueError(
                f"GISAPP_MUNICIPALITY_CODE {value}: 検査数字が合いません（総務省の全国地方公共団体コード6桁）。"
                f" / the check digit does not match (six-digit local government code, 総務省)."
            )
        return value

    @field_validator("jma_feed_url")
    @classmethod
    def _empty_feed_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _stale_after_a_poll(self) -> Settings:
        if self.jma_stale_minutes * 60 <= self.jma_poll_interval:
            raise ValueError(
                "GISAPP_JMA_STALE_MINUTES は GISAPP_JMA_POLL_INTERVAL より長くしてください / "
                "GISAPP_JMA_STALE_MINUTES must be longer than GISAPP_JMA_POLL_INTERVAL"
            )
        return self

    @property
    def jma_area_code_list(self) -> list[str]:
        return [c.strip() for c in self.jma_area_codes.split(",") if c.strip()]

    @property
    def jma_office_list(self) -> list[str]:
        return [o.strip() for o in self.jma_offices.split(",") if o.strip()]

    @property
    def jma_feed_urls(self) -> list[str]:
        return [u.strip() for u in (self.jma_feed_url or "").split(",") if u.strip()]

    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_format: Literal["json", "text"] = Field("json", alias="LOG_FORMAT")

    @model_validator(mode="after")
    def _fill_from_local_stack(self) -> Settings:
        secrets = self.local_secrets()
        if secrets is None:
            return self
        host, port = "127.0.0.1", self.pg_port

        def pg(role: str, port: int = port) -> str:
            user = LOCAL_ROLES[role]
            pw = quote(secrets["pg"][user], safe="")
            return f"postgresql+psycopg://{user}:{pw}@{host}:{port}/{LOCAL_DB_NAME}"

        self.database_url = self.database_url or pg("app")
        self.public_database_url = self.public_database_url or pg("public")
        if self.public_reads == "replica":
            self.public_read_database_url = self.public_read_database_url or pg(
                "public", self.replica_pg_port
            )
        self.migration_database_url = self.migration_database_url or pg("owner")
        user = ingest_mqtt_user(self.ingest_worker)  # worker K's account: `gisapp up --ingest-workers`
        if self.mqtt_url is None and user in secrets["mqtt"]:
            pw = quote(secrets["mqtt"][user], safe="")
            self.mqtt_url = f"mqtt://{user}:{pw}@127.0.0.1:{self.mqtt_port}"
        return self

    def public_workers(self) -> int:
        if self.public_web_workers is not None:
            return self.public_web_workers
        return max(self.web_workers, min(os.cpu_count() or 1, 4))

    def process_concurrency(self) -> int:
        """Admission limit of one of the instance's `web_workers` processes: GISAPP_DB_CONCURRENCY is
        per instance, so more processes do not multiply the database connections."""
        return max(1, -(-self.db_concurrency // self.web_workers))

    def queue_wait(self, public: bool) -> int:
        """Admission control's longest wait in line, in milliseconds (see queue_wait_ms)."""
        if self.queue_wait_ms is not None:
            return self.queue_wait_ms
        return 500 if public else 5_000

    @property
    def allowed_origin_list(self) -> list[str]:
        """GISAPP_ALLOWED_ORIGINS as "scheme://host[:port]" strings, lower case, no trailing slash."""
        items = (self.allowed_origins or "").split(",")
        return [item.strip().rstrip("/").lower() for item in items if item.strip()]

    @property
    def secrets_path(self) -> Path:
        return self.data_dir.resolve() / "secrets.json"

    def local_secrets(self) -> dict | None:
        try:
            return json.loads(self.secrets_path.read_text())
        except FileNotFoundError:
            return None

    def client_key_secret(self) -> bytes:
        """The per-install key of keyed hashes of client addresses (citizen-report rate limit, login
        throttle): GISAPP_REPORT_KEY_SECRET, else derived from the local stack's session secret, else
        one per process (the counts then reset on restart and are not shared between processes)."""
        if self.report_key_secret:
            return self.report_key_secret.encode()
        session = (self.local_secrets() or {}).get("session_secret")
        if session:
            return hmac.new(session.encode(), b"citizen-report-client-key", hashlib.sha256).digest()
        return _PROCESS_SECRET


_PROCESS_SECRET = secrets.token_bytes(32)


@lru_cache
def get_settings() -> Settings:
    return Settings()
