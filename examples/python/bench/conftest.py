"""Measures what adsim's pytest fixtures cost (scripts/bench-python.sh runs this directory):
per test, the function-scoped ``adsim_forest``'s setup and teardown (the restore) and a bound
``adsim_ldap3`` connection; per session, the forest's start; and, in the same run, bare
``adsim serve`` starts (spawn to ready line) for comparison. Prints a table at the end."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Generator, List

import pytest

if TYPE_CHECKING:
    import adsim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SAMPLES: Dict[str, List[float]] = {}


def record(name: str, seconds: float) -> None:
    SAMPLES.setdefault(name, []).append(seconds)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> Generator:
    began = time.perf_counter()
    yield
    if fixturedef.argname == "adsim_forest" and request.node.get_closest_marker("warm"):
        record("adsim_forest setup (per test)", time.perf_counter() - began)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator:
    began = time.perf_counter()
    yield
    if item.get_closest_marker("warm"):
        if "adsim_ldap3" in item.fixturenames:
            name = "teardown with adsim_ldap3 (unbind, restore)"
        elif "adsim_forest" in item.fixturenames:
            name = "teardown with adsim_forest (restore)"
        else:
            name = "teardown without adsim (pytest alone)"
        record(name, time.perf_counter() - began)


#: The session forest's options (set by test_session_start).
OPTIONS: List[object] = []


def bare_start(binary: str, options: "adsim.ServeOptions") -> float:
    """Spawn ``adsim serve`` with ``options`` on free ports, wait for its ready line, stop it."""
    with tempfile.TemporaryDirectory() as state:
        began = time.perf_counter()
        p = subprocess.Popen(
            [binary, *options.arguments(state)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert p.stdout is not None
        line = p.stdout.readline()
        elapsed = time.perf_counter() - began
        p.terminate()
        p.wait()
        assert b'"event":"ready"' in line, line
        return elapsed


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    import adsim

    for _ in range(5):
        record("bare adsim serve start, default forest", bare_start(adsim.binary_path(), adsim.ServeOptions()))
    for options in OPTIONS[:1]:
        for _ in range(5):
            record("bare adsim serve start, the session's options", bare_start(adsim.binary_path(), options))
    tr = terminalreporter
    tr.write_sep("=", "adsim fixture overhead")
    tr.write_line(f"{'what':48} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, values in SAMPLES.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        tr.write_line(
            f"{name:48} {len(values):5d} {statistics.median(values) * 1e3:10.2f} {p95 * 1e3:8.2f} {ordered[-1] * 1e3:8.2f}"
        )
