"""Render the nginx config of the proxy cache in front of the citizen-facing instance.

One template (gisapp-public.conf.template beside this file) for every use: the compose file's copy
(``gisapp-public.conf`` and ``errors/``, written by ``python deploy/nginx/render.py --write``, checked to be
up to date by tests/test_proxy.py), and a throw-away copy under a temporary folder for a test or a benchmark
(``local()``; bench/_proxy.py starts nginx with it). docs/deploy.md explains the choices.
"""

from __future__ import annotations

import html
import json
import os
import pwd
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import jinja2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEMPLATE = HERE / "gisapp-public.conf.template"
COMPOSE_CONF = HERE / "gisapp-public.conf"
ERRORS = HERE / "errors"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_filter_module.so")

# What is worth compressing (HTML is always included by nginx). Vector tiles are protobuf with repeated
# keys: they shrink by half or more.
COMPRESSIBLE = (
    "application/json",
    "application/geo+json",
    "application/problem+json",
    "application/javascript",
    "text/javascript",
    "text/css",
    "text/plain",
    "text/csv",
    "text/xml",
    "application/xml",
    "application/atom+xml",
    "application/cap+xml",
    "application/schema+json",
    "application/vnd.oai.openapi+json",
    "application/vnd.mapbox-vector-tile",
    "image/svg+xml",
)

# The proxy's own errors, in the platform's error model (common/errors.py). Retry-After in seconds.
PROXY_ERRORS = {
    413: ("too_large", "送信内容が大きすぎます。", "The request body is too large.", None),
    429: (
        "too_many_requests",
        "アクセスが集中しています。少し待ってからもう一度お試しください。",
        "Too many requests: wait a moment, then try again.",
        1,
    ),
    503: (
        "busy",
        "混み合っています。少し待ってからもう一度お試しください。",
        "Busy: please try again shortly.",
        5,
    ),
}


def public_body_limit() -> int:
    """The largest body the citizen-facing instance accepts (a report photo), from BODY_LIMITS."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from gisapp.request_guard import body_limit

    return max(body_limit("POST", "/api/reports"), body_limit("POST", "/api/register"))


@dataclass(frozen=True)
class ProxyConfig:
    upstreams: tuple[str, ...]  # host:port of each `gisapp serve --public` process
    listen: tuple[str, ...] = ("8080",)
    server_name: str = "_"
    cache_dir: str = "/var/cache/gisapp-nginx/cache"
    temp_dir: str = "/var/cache/gisapp-nginx"  # nginx makes one level of folders: body/, proxy/, …
    errors_dir: str = "/etc/gisapp/nginx-errors"
    pid: str = "/tmp/gisapp-nginx.pid"
    error_log: str = "stderr"
    access_log: str | None = "/dev/stdout"
    user: str | None = None  # only when the master runs as root
    worker_processes: str = "auto"
    worker_connections: int = 8192
    brotli_module: str | None = str(BROTLI_MODULE)
    # 1 MB of keys holds about 8,000 entries; max_size bounds the bodies on disk.
    cache_keys_zone: str = "32m"
    cache_max_size: str = "768m"
    cache_inactive: str = "10m"
    upstream_keepalive: int = 64
    limit_zone_size: str = "10m"
    api_rate: str = "20r/s"
    api_burst: int = 40
    asset_rate: str = "100r/s"
    asset_burst: int = 200
    write_rate: str = "12r/m"
    write_burst: int = 5
    conn_per_address: int = 100
    client_max_body_size: int = field(default_factory=public_body_limit)
    forwarded_proto: str = "$scheme"
    real_ip_from: tuple[str, ...] = ()
    tls_certificate: str | None = None
    tls_certificate_key: str | None = None
    compressible_types: str = " ".join(COMPRESSIBLE)

    @property
    def retry_after_429(self) -> int:
        return PROXY_ERRORS[429][3]

    @property
    def retry_after_503(self) -> int:
        return PROXY_ERRORS[503][3]


def render(cfg: ProxyConfig) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # nginx syntax, not HTML
    )
    values = asdict(cfg) | {"retry_after_429": cfg.retry_after_429, "retry_after_503": cfg.retry_after_503}
    return env.get_template(TEMPLATE.name).render(**values)


def error_pages() -> dict[str, str]:
    """File name → content of the proxy's own 413/429/503 answers: JSON and a small HTML page."""
    pages = {}
    for status, (code, ja, en, retry_after) in PROXY_ERRORS.items():
        details = {"retry_after": retry_after} if retry_after else {}
        body = {"error": {**details, "code": code, "message_ja": ja, "message_en": en}}
        pages[f"{status}.json"] = json.dumps(body, ensure_ascii=False) + "\n"
        pages[f"{status}.html"] = (
            '<!doctype html>\n<html lang="ja">\n<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(ja)}</title></head>\n"
            f"<body>\n<h1>{html.escape(ja)}</h1>\n"
            f'<p lang="en">{html.escape(en)}</p>\n'
            f"<p>{status}</p>\n</body>\n</html>\n"
        )
    return pages


def write_error_pages(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in error_pages().items():
        (folder / name).write_text(text, encoding="utf-8")


def compose() -> ProxyConfig:
    """The compose file's proxy (service `proxy`, docker-compose.yml profile "scale"): in front of
    `public-api`, non-root in its container, cache on a tmpfs, logs to the container's output."""
    return ProxyConfig(upstreams=("public-api:8001",), brotli_module=str(BROTLI_MODULE))


def _worker_user() -> str:
    for name in ("www-data", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return "nobody"


def local(run_dir: Path, upstreams: list[str], port: int, **overrides: object) -> ProxyConfig:
    """A config with every path under ``run_dir`` (nginx.pid, logs, cache, temp, error pages), on
    127.0.0.1:``port``; brotli only when the module is installed. As root, workers run as www-data
    (nginx hands them the folders it creates)."""
    run_dir.chmod(0o755)  # traversable by the worker user when run as root
    errors = run_dir / "errors"
    write_error_pages(errors)
    (run_dir / "tmp").mkdir(exist_ok=True)
    cfg = ProxyConfig(
        upstreams=tuple(upstreams),
        listen=(f"127.0.0.1:{port}",),
        cache_dir=str(run_dir / "cache"),
        temp_dir=str(run_dir / "tmp"),
        errors_dir=str(errors),
        pid=str(run_dir / "nginx.pid"),
        error_log=str(run_dir / "error.log"),
        access_log=str(run_dir / "access.log"),
        user=_worker_user() if os.geteuid() == 0 else None,
        worker_processes="1",
        worker_connections=4096,
        brotli_module=str(BROTLI_MODULE) if BROTLI_MODULE.exists() else None,
    )
    return replace(cfg, **overrides)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--write"]:
        COMPOSE_CONF.write_text(render(compose()))
        write_error_pages(ERRORS)
        print(f"wrote {COMPOSE_CONF.relative_to(ROOT)} and {ERRORS.relative_to(ROOT)}/")
        return 0
    if argv[1:] == []:
        sys.stdout.write(render(compose()))
        return 0
    print("usage: python deploy/nginx/render.py [--write]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
