"""Schemathesis, deeper than `make test`: examples, coverage and fuzzing with more examples per operation,
once per principal (anonymous, staff, hq_operator, welfare, admin) on the internal app and once on the
public instance. Prints, per principal, how many operations answered a 5xx, a status their OpenAPI does
not document, or a body off its documented schema, with one example request each.

Everything is real: a fresh PostGIS and Mosquitto under /tmp, migrated; the apps run in-process (ASGI).
The harness (ownership guard, per-principal runs) is tests/fuzz_support.py, the one the test uses.

    .venv/bin/python bench/schemathesis_deep.py [--examples 25] [--seed 10] [--only staff,public]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import _stack  # bench/_stack.py (this script's folder is on sys.path)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package: the shared harness


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=25, help="max examples per operation (fuzzing)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated principals")
    parser.add_argument("--workers", type=int, default=1, help="above 1, CPython 3.11 ast errors may appear")
    parser.add_argument("--mode", default=None, help="generation mode: positive, negative or all")
    parser.add_argument(
        "--light", action="store_true", help="the test's settings: DELETE as the only unexpected method"
    )
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # the app logs every 500 with its traceback; the table says enough

    from fastapi.testclient import TestClient

    from gisapp.app import create_app
    from gisapp.db import make_engine
    from tests import fuzz_support

    root, stack, settings = _stack.start("gisapp-fuzz-")
    try:
        app_engine = make_engine(settings.database_url)
        owner_engine = make_engine(settings.migration_database_url)
        ground = fuzz_support.prepare(app_engine, owner_engine)
        others = [*ground.bystander.slugs.values()]
        before = fuzz_support.feature_counts(owner_engine, others)
        with TestClient(create_app(settings)) as client, TestClient(create_app(settings, public=True)) as pub:
            started = time.monotonic()
            outcomes, guard = fuzz_support.campaign(
                client,
                pub.app,
                ground,
                max_examples=args.examples,
                seed=args.seed,
                only=[w for w in args.only.split(",") if w] or None,
                workers=args.workers,
                mode=args.mode,
                unexpected_methods=["DELETE"] if args.light else None,
                anonymous_coverage=not args.light,
            )
            elapsed = time.monotonic() - started
        after = fuzz_support.feature_counts(owner_engine, others)
        print(f"\nschemathesis {args.examples} examples/operation, seed {args.seed}, {elapsed:.0f} s\n")
        print(
            f"{'principal':<10} {'5xx ops':>8} {'undocumented ops':>17} {'off-schema ops':>15} {'requests':>9}"
        )
        for o in outcomes:
            c = fuzz_support.counts(o)
            print(
                f"{o.principal:<10} {c['not_a_server_error']:>8} {c['status_code_conformance']:>17} "
                f"{c['response_schema_conformance']:>15} {o.requests:>9}"
            )
        print()
        for o in outcomes:
            print(o.summary())
            if o.skipped_nul:
                print(f"  ({o.skipped_nul} failures with NUL bytes left to the central NUL check)")
        print(f"\nwrites redirected to the fuzzer's own rows: {len(guard.redirected)}")
        print(f"bystander layers' features before {before} after {after}")
    finally:
        _stack.stop(root, stack)


if __name__ == "__main__":
    main()
