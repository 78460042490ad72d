"""The two halves of `make test` (``pytest -n 2 --dist loadgroup``).

The test files are split in two fixed halves, each run whole by one xdist worker in file order, with a
stack of its own (PostGIS, Mosquitto, servers: every session fixture is per worker). A file's tests
share one database with the files before it, exactly as in a serial run, and a file's module fixtures
(a fuzzing campaign, a layer of 400 features, servers and demo users) are made once. The split balances
the files' recorded durations (tests/durations.json, written by a run with GISAPP_RECORD_DURATIONS=1),
longest file first onto the lighter half, so the halves end together.

The halves are given to xdist as its scheduler (``pytest_xdist_make_scheduler``: a LoadScopeScheduling
whose scope of a test is its file's half), not as ``xdist_group`` marks: xdist names a marked test's
group by appending it to the test's node id, which pytest 9.2's structured node ids ignore
(pytest-dev/pytest-xdist#1386), so with marks every test was its own group, the files were dealt out
test by test to both workers, and every module fixture was made on both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
DEFAULT_FILE_SECONDS = 10.0  # a file not yet in durations.json


def file_seconds() -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(DURATIONS.read_text()).items()}
    except (OSError, ValueError):
        return {}


def split_in_groups(files: list[str], seconds: dict[str, float], groups: int = 2) -> dict[str, str]:
    """Longest file first onto the lighter group (LPT), so the halves end together: the suite's wall time
    is its slower half's."""
    load = [0.0] * groups
    out: dict[str, str] = {}
    for name in sorted(files, key=lambda n: (-seconds.get(n, DEFAULT_FILE_SECONDS), n)):
        index = load.index(min(load))
        load[index] += seconds.get(name, DEFAULT_FILE_SECONDS)
        out[name] = f"half-{index}"
    return out


def file_of(nodeid: str) -> str:
    """A test's file name: ``tests/test_x.py::test_y[a::b]`` -> ``test_x.py``."""
    return nodeid.split("::", 1)[0].rsplit("/", 1)[-1]


def scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class Halves(LoadScopeScheduling):
        """Each test's scope is its file's half: a half is one unit of work, given whole to one worker
        in collection (file) order."""

        def __init__(self, config, log) -> None:
            super().__init__(config, log)
            self.halves: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.halves is None:  # the collection is complete when the scheduler first asks
                files = sorted({file_of(n) for n in self.collection or ()})
                self.halves = split_in_groups(files, file_seconds())
            return self.halves.get(file_of(nodeid), file_of(nodeid))

    return Halves(config, log)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own (firstresult)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadgroup":
        return scheduler(config, log)
    return None
