"""`make test` runs the suite in two halves (tests/halves.py): each test file whole on one xdist worker, in
file order, so its module fixtures are made once.

Before tests/halves.py the halves were asked of xdist with ``xdist_group`` marks, which xdist turns into
a suffix of each test's node id, and pytest 9.2 ignores that (pytest-dev/pytest-xdist#1386): every test
was its own group, the files were dealt out test by test to both workers, and each module fixture was
made on both (the Schemathesis campaign twice, 230 s each, in a full run)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.halves import file_of, split_in_groups

ROOT = Path(__file__).resolve().parent.parent


def test_the_split_keeps_each_file_whole_and_balances_the_halves():
    seconds = {"a.py": 100.0, "b.py": 60.0, "c.py": 50.0, "d.py": 10.0}
    groups = split_in_groups(list(seconds), seconds)
    assert set(groups) == set(seconds) and set(groups.values()) == {"half-0", "half-1"}
    load = {g: sum(seconds[f] for f, h in groups.items() if h == g) for g in ("half-0", "half-1")}
    assert sorted(load.values()) == [110.0, 110.0]
    assert file_of("tests/test_x.py::test_y[a::b]") == "test_x.py"


def test_a_loadgroup_run_gives_each_half_whole_to_one_worker(tmp_path: Path):
    """A small suite under ``-n 2 --dist loadgroup`` with our scheduler: each file's tests on one worker,
    in order, its module fixture made once, and the two files on two workers."""
    (tmp_path / "conftest.py").write_text(
        "from tests.halves import pytest_xdist_make_scheduler  # noqa: F401\n"
    )
    body = textwrap.dedent(
        """
        import os
        import pytest

        @pytest.fixture(scope="module")
        def made(request):
            with open(os.environ["HALVES_LOG"], "a") as f:
                f.write(f"fixture {__name__} {os.environ['PYTEST_XDIST_WORKER']}\\n")

        @pytest.mark.parametrize("i", range(6))
        def test_one(made, i):
            with open(os.environ["HALVES_LOG"], "a") as f:
                f.write(f"test {__name__} {os.environ['PYTEST_XDIST_WORKER']} {i}\\n")
        """
    )
    for name in ("test_first.py", "test_second.py"):
        (tmp_path / name).write_text(body)
    log = tmp_path / "log.txt"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HALVES_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = [ln.split() for ln in log.read_text().splitlines()]
    fixtures = sorted((module, worker) for kind, module, worker, *_ in lines if kind == "fixture")
    assert [m for m, _ in fixtures] == ["test_first", "test_second"], fixtures  # once per file
    assert fixtures[0][1] != fixtures[1][1], fixtures  # the two files on the two workers
    for module, worker in fixtures:
        ran = [(w, int(i)) for kind, m, w, *rest in lines if kind == "test" and m == module for i in rest]
        assert ran == [(worker, i) for i in range(6)], ran  # whole, on its worker, in order
