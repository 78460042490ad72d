"""Schemathesis against the real app, one principal at a time: the harness of tests/test_schemathesis.py
(bounded, in `make test`) and bench/schemathesis_deep.py (deeper).

The fuzzer runs in-process (ASGI) with the checks ``not_a_server_error`` and ``status_code_conformance``.
It owns a department, its layers and one disaster with one incident; a guard in front of the app sends
every write that names something the fuzzer does not own (a layer of another department, a disaster or
incident made by someone else, a person of another registry …) to the fuzzer's own one instead, so a run
cannot destroy data it did not create. Reads go through unchanged.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote

from sqlalchemy import Engine, text

# Answers match their documented schema too (the error shape above all): cheap, so it is on.
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}

# Path parameter -> the rows it names. A write naming a row that existed before the run and is not the
# fuzzer's own is redirected to the fuzzer's own row (or to one that does not exist: a 404).
ROWS = {
    "slug": "SELECT slug FROM gis.layer UNION ALL SELECT slug FROM gis.raster",  # layers and rasters
    "collection_id": "SELECT slug FROM gis.layer",
    "disaster_id": "SELECT id::text FROM ops.disaster",
    "incident_id": "SELECT id::text FROM ops.incident",
    "assignment_id": "SELECT id::text FROM ops.assignment",
    "closure_id": "SELECT id::text FROM gis.road_closure",
    "report_id": "SELECT id::text FROM ops.citizen_report",
    "person_id": "SELECT id::text FROM restricted.person_needing_help",
    "code": "SELECT code FROM ops.incident_category",
    "team_id": "SELECT id FROM ops.team",
    "unit_id": "SELECT id FROM sensor.device WHERE kind = 'radio_unit'",
    "shelter_id": "SELECT id::text FROM gis.shelter",
    "order_id": "SELECT id::text FROM ops.evac_order",
    "suggestion_id": "SELECT id::text FROM ops.evac_suggestion",
    "alert_id": "SELECT id::text FROM sensor.alert",  # 確認 of other tests' gauge alerts: a 404 instead
    "need_id": "SELECT id::text FROM ops.shelter_need",
    "instruction_id": "SELECT id::text FROM ops.instruction",
}
MISSING = {
    "slug": "fuzz-missing-layer",
    "code": "fuzz_missing",
    "team_id": "fuzz-missing-team",
    "unit_id": "fuzz-missing-unit",
}  # else an id


def existing_rows(owner_engine: Engine) -> dict[str, set[str]]:
    from gisapp.db import transaction

    with transaction(owner_engine, ["admin"]) as conn:
        return {name: {r[0] for r in conn.execute(text(sql))} for name, sql in ROWS.items()}


class Guard:
    """ASGI wrapper: redirects writes on rows the fuzzer does not own; keeps a list of what it redirected.

    The wrapped app is already running (the test session's client started its lifespan), so the guard
    answers lifespan messages itself."""

    def __init__(self, app, openapi: dict, existing: dict[str, set[str]], own: dict[str, str]) -> None:
        self.app = app
        self.foreign = {name: rows - {own.get(name)} for name, rows in existing.items()}
        self.own = own
        self.redirected: list[tuple[str, str, str]] = []
        self.writes = [
            (
                method.upper(),
                re.compile("^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+?)", re.escape(path)) + "$"),
                path,
            )
            for path, item in openapi["paths"].items()
            for method in item
            if "{" in path and method.upper() not in READ_METHODS
        ]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].removeprefix("lifespan.")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] == "http" and scope["method"] not in READ_METHODS:
            scope = self._redirect(scope)
        try:
            await self.app(scope, receive, send)
        except Exception:
            # Starlette answers the 500 and then re-raises for test clients; a real client sees only the
            # 500, and so shall the fuzzer (not_a_server_error judges it, with the request that caused it).
            if scope["type"] != "http":
                raise

    def _redirect(self, scope: dict) -> dict:
        for method, pattern, template in self.writes:
            found = pattern.match(scope["path"]) if method == scope["method"] else None
            if found is None:
                continue
            params = found.groupdict()
            foreign = [name for name, value in params.items() if value in self.foreign.get(name, ())]
            if not foreign:
                return scope
            for name in foreign:
                params[name] = self.own.get(name) or MISSING.get(name, "999999999")
            path = template
            for name, value in params.items():
                path = path.replace("{" + name + "}", quote(value, safe=""))
            self.redirected.append((scope["method"], scope["path"], path))
            return {**scope, "path": path, "raw_path": path.encode()}
        return scope


@dataclass
class Finding:
    check: str
    operation: str
    status: int | None
    request: str


@dataclass
class Outcome:
    principal: str
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    skipped_nul: int = 0
    statuses: Counter = field(default_factory=Counter)  # status -> responses

    def operations(self, check: str) -> set[str]:
        return {f.operation for f in self.findings if f.check == check}

    def summary(self) -> str:
        lines = [
            f"{self.principal}: {len(self.operations('not_a_server_error'))} operations with 5xx, "
            f"{len(self.operations('status_code_conformance'))} with undocumented statuses, "
            f"{len(self.operations('response_schema_conformance'))} with answers off their schema "
            f"({self.requests} requests; statuses {dict(sorted(self.statuses.items()))})"
        ]
        by_op: dict[tuple[str, str], Finding] = {}
        for f in self.findings:
            by_op.setdefault((f.check, f.operation), f)
        for (check, op), f in sorted(by_op.items()):
            lines.append(f"  {check:<24} {op}  → {f.status}  e.g. {f.request[:300]}")
        lines += [f"  error: {e[:300]}" for e in self.errors]
        return "\n".join(lines)


def config(
    headers: dict[str, str],
    *,
    max_examples: int,
    seed: int,
    exclude: list[dict] = (),
    workers: int = 1,
    unexpected_methods: list[str] | None = None,
    coverage_phase: bool = True,
    mode: str | None = None,
):
    """``unexpected_methods``: which methods the coverage phase sends where a path does not serve them
    (405 with Allow); ``None`` is Schemathesis' full set, which is 6 of every 10 requests to a path."""
    import schemathesis

    coverage = {"enabled": coverage_phase}
    if unexpected_methods is not None:
        coverage["unexpected-methods"] = unexpected_methods

    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "headers": headers,
            "workers": workers,
            "continue-on-failure": True,  # a first undocumented status must not hide a 500 behind it
            "request-timeout": 20,
            "max-stream-events": 1,
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                "allow-x00": False,  # NUL and control characters are refused centrally (middleware)
                **({"mode": mode} if mode else {}),  # positive, negative or all
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": coverage,
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "operations": [{"enabled": False, **e} for e in exclude],
        }
    )


NUL = re.compile(r"%00|\\x00|\\u0000|\x00")


def run(app, openapi: dict, principal: str, headers: dict[str, str], **options) -> Outcome:
    """Run examples, coverage and fuzzing against ``app`` (ASGI) for one principal."""
    import schemathesis
    from schemathesis.engine import events, from_schema

    schema = schemathesis.openapi.from_dict(openapi, config=config(headers, **options))
    schema.app = app
    outcome = Outcome(principal)
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            outcome.errors.append(f"{getattr(event, 'label', '')}: {getattr(event, 'value', event)!r}")
        recorder = getattr(event, "recorder", None)
        if recorder is None:
            continue
        outcome.requests += len(recorder.interactions)
        outcome.statuses.update(i.response.status_code for i in recorder.interactions.values() if i.response)
        for case_id, checks in recorder.checks.items():
            for check in checks:
                if check.name not in CHECKS or check.status != "failure":
                    continue
                interaction = recorder.interactions.get(case_id)
                case = recorder.cases[case_id].value
                request = _describe(interaction)
                if NUL.search(request):
                    outcome.skipped_nul += 1  # NUL bytes are refused centrally (middleware): not ours here
                    continue
                status = interaction.response.status_code if interaction and interaction.response else None
                outcome.findings.append(Finding(check.name, case.operation.label, status, request))
    return outcome


def _describe(interaction) -> str:
    if interaction is None:
        return ""
    req = interaction.request
    body = (req.body or b"")[:300].decode("utf-8", "backslashreplace")
    return f"{req.method} {req.uri} {body}"


def counts(outcome: Outcome) -> dict[str, int]:
    per = defaultdict(int)
    for check in CHECKS:
        per[check] = len(outcome.operations(check))
    return dict(per)


# ------------------------------------------------------------------------------------ a campaign
PRINCIPALS = ("anonymous", "staff", "hq", "welfare", "admin")
# Logging out would end the principal's own session half-way through its run.
# The evacuation push stream never ends by design (Server-Sent Events): Schemathesis' ASGI adapter waits
# for a whole body, so it would wait forever. Its behaviour is tested in tests/test_evac_public.py.
ALWAYS_EXCLUDE = [{"include-path": "/api/public/evacuation-info/stream"}]
AUTHENTICATED_EXCLUDE = [*ALWAYS_EXCLUDE, {"include-path": "/api/auth/logout"}]


@dataclass
class Ground:
    """What the fuzzer owns, and the rows it must leave as they were."""

    seed: object  # tests.fixtures_data.Seed of the fuzzer's department
    bystander: object  # another department's Seed: its layers must come out unchanged
    own: dict[str, str]
    existing: dict[str, set[str]]


def prepare(app_engine: Engine, owner_engine: Engine, tag: str = "fuzz") -> Ground:
    from gisapp.db import transaction
    from gisapp.ops import incidents
    from gisapp.ops.disasters import open_disaster
    from tests.fixtures_data import seed

    mine, bystander = seed(app_engine, tag), seed(app_engine, f"{tag}by")
    with transaction(app_engine, ["admin"]) as conn:
        disaster = open_disaster(conn, f"fuzz {tag}", f"{tag}-hq")
        category = conn.execute(text("SELECT code FROM ops.incident_category ORDER BY sort LIMIT 1")).scalar()
        incident = incidents.create_incident(
            conn, disaster["id"], incidents.NewIncident(category, "fuzz", 139.31, 35.40), f"{tag}-hq"
        )
    with transaction(owner_engine, ["admin"]) as conn:  # the registry reads under row-level security
        person = conn.execute(
            text(
                """SELECT p.id::text FROM restricted.person_needing_help p JOIN gis.layer l ON l.id = p.layer_id
                    WHERE l.slug = :s"""
            ),
            {"s": mine.slugs["restricted"]},
        ).scalar()
    own = {
        "slug": mine.slugs["internal"],
        "disaster_id": str(disaster["id"]),
        "incident_id": str(incident["id"]),
        "person_id": person,
    }
    return Ground(mine, bystander, own, existing_rows(owner_engine))


def settings_snapshot(engine: Engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM ops.congestion_setting")).one()._mapping)


def clean_up(engine: Engine, ground: Ground, settings: dict) -> None:
    """What the fuzzer may have switched for everyone goes back: disaster mode ended, login locks lifted,
    congestion thresholds restored, its own layers withdrawn from the citizen map (their names are canaries other tests look
    for), the disasters it opened closed, the evacuation orders it issued cancelled (citizens' banners)."""
    from gisapp.auth import User
    from gisapp.db import transaction
    from gisapp.ops import disaster_mode, evac_info

    cleaner = User(0, "fuzz-cleanup", "fuzz clean-up", None, frozenset({"admin"}))
    with transaction(engine, ["admin"]) as conn:
        disaster_mode.end(conn, cleaner)
        # Its wrong passwords locked the test client's address (and any account it guessed) for everyone.
        conn.execute(text("DELETE FROM core.login_throttle"))
        conn.execute(
            text(
                """UPDATE ops.congestion_setting SET vacant_below = :vacant_below,
                          moderate_below = :moderate_below, crowded_below = :crowded_below,
                          stale_minutes = :stale_minutes"""
            ),
            settings,
        )
        conn.execute(
            text(
                """UPDATE gis.layer SET visibility = 'internal'
                    WHERE owner_department_id = :dept AND visibility = 'public' AND slug <> :public"""
            ),
            {"dept": ground.seed.dept_id, "public": ground.seed.slugs["public"]},
        )
        conn.execute(
            text(
                """UPDATE ops.disaster SET closed_at = now(), closed_by = 'fuzz-cleanup'
                    WHERE closed_at IS NULL AND NOT (id::text = ANY(:before))"""
            ),
            {"before": sorted(ground.existing["disaster_id"] - {ground.own["disaster_id"]})},
        )
        issued = conn.execute(
            text(
                "SELECT id, version FROM ops.evac_order WHERE status = 'active' AND NOT (id::text = ANY(:before))"
            ),
            {"before": sorted(ground.existing["order_id"])},
        ).all()
        for order in issued:
            evac_info.cancel(conn, order.id, order.version, "fuzz clean-up", "fuzz-cleanup")


def feature_counts(owner_engine: Engine, slugs) -> dict[str, int]:
    from gisapp.db import transaction

    with transaction(owner_engine, ["admin"]) as conn:
        return {
            slug: conn.execute(
                text(
                    """SELECT (SELECT count(*) FROM gis.feature f WHERE f.layer_id = l.id)
                            + (SELECT count(*) FROM restricted.person_needing_help p WHERE p.layer_id = l.id)
                         FROM gis.layer l WHERE l.slug = :s"""
                ),
                {"s": slug},
            ).scalar()
            for slug in slugs
        }


def campaign(
    client,
    public_app,
    ground: Ground,
    *,
    max_examples: int,
    seed: int = 10,
    only=None,
    anonymous_coverage: bool = True,
    **options,
) -> tuple[list[Outcome], Guard]:
    """One run per principal on the internal app, then one on the public instance. ``options`` go to
    ``config`` (workers, unexpected_methods). Without ``anonymous_coverage`` the anonymous run skips the
    coverage phase: behind a login every one of its cases answers the same 401, and the public
    instance's run covers the anonymous routes in full."""
    openapi = client.app.openapi()
    guard = Guard(client.app, openapi, ground.existing, ground.own)
    outcomes = []
    principals = only or (*PRINCIPALS, "public")
    # Log in first: the fuzzer's wrong passwords lock its (the test client's) address for a while.
    tokens = {
        who: ground.seed.bearer(client, who) for who in principals if who not in ("anonymous", "public")
    }
    for who in principals:
        if who == "public":
            public_guard = Guard(public_app, public_app.openapi(), ground.existing, ground.own)
            outcomes.append(
                run(
                    public_guard,
                    public_app.openapi(),
                    "public",
                    {},
                    max_examples=max_examples,
                    seed=seed,
                    exclude=ALWAYS_EXCLUDE,
                    **options,
                )
            )
            guard.redirected += public_guard.redirected
            continue
        headers = tokens.get(who, {})
        exclude = ALWAYS_EXCLUDE if who == "anonymous" else AUTHENTICATED_EXCLUDE
        outcomes.append(
            run(
                guard, openapi, who, headers, max_examples=max_examples, seed=seed, exclude=exclude, **options
            )
        )
    return outcomes, guard
