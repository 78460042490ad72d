"""Schemathesis against the real app (examples, coverage, fuzzing; a few examples per operation, seeded):
anonymous, each role and the public instance → no server error, no undocumented status, no answer off its
documented schema. The deeper run is bench/schemathesis_deep.py; the harness (and the guard that keeps
the fuzzer off data it does not own) is tests/fuzz_support.py."""

from __future__ import annotations

import logging

import pytest

from tests import fuzz_support

MAX_EXAMPLES = 2
SEED = 10


@pytest.fixture(scope="module")
def campaign(client, public_client, app_engine, owner_engine):
    ground = fuzz_support.prepare(app_engine, owner_engine)
    bystanders = list(ground.bystander.slugs.values())
    before = fuzz_support.feature_counts(owner_engine, bystanders)
    settings = fuzz_support.settings_snapshot(app_engine)
    logging.disable(logging.ERROR)  # a 500's traceback is logged by the app; the finding says enough
    try:
        outcomes, guard = fuzz_support.campaign(
            client,
            public_client.app,
            ground,
            max_examples=MAX_EXAMPLES,
            seed=SEED,
            # One worker: with two, CPython 3.11's ast (Schemathesis compiles code samples) fails at random
            # with "AST constructor recursion depth mismatch".
            workers=1,
            unexpected_methods=["DELETE"],  # 405 + Allow is pinned in test_hostile_numbers.py
            anonymous_coverage=False,
        )
    finally:
        logging.disable(logging.NOTSET)
        fuzz_support.clean_up(app_engine, ground, settings)
    after = fuzz_support.feature_counts(owner_engine, bystanders)
    return {o.principal: o for o in outcomes}, guard, before, after


@pytest.mark.parametrize("principal", [*fuzz_support.PRINCIPALS, "public"])
def test_no_server_error_and_no_undocumented_status(campaign, principal):
    outcome = campaign[0][principal]
    assert outcome.requests > 300, outcome.summary()  # it did test something
    assert not outcome.errors, outcome.summary()
    assert not outcome.findings, outcome.summary()


def test_the_fuzzer_leaves_data_it_does_not_own(campaign):
    _, guard, before, after = campaign
    assert before == after
    assert all(count > 0 for count in before.values())
    # Writes on others' records did happen and were sent to the fuzzer's own ones.
    assert guard.redirected
