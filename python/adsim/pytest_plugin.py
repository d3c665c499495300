"""The pytest plugin (entry point ``pytest11``, loaded when ``adsim-dc`` is installed).

Fixtures:

``adsim_forest``
    A running forest (:class:`adsim.Forest`). One ``adsim serve`` per set of options per pytest
    process (each pytest-xdist worker has its own, on its own free ports), started on first use
    and stopped at the end of the session. With ``adsim_scope = function`` (the default) the
    forest is restored to its state right after start after every test: tests are isolated
    and a restore costs one HTTP round trip, whatever the forest's size (bind policies a test
    changed through ``adsim_forest.control`` are put back too). With
    ``adsim_scope = session`` the fixture is session-scoped and changes accumulate.

``adsim_ldap3``
    ``adsim_ldap3(principal=None, password=None, url=None)``: a bound ldap3 connection over
    LDAPS as the principal (see :meth:`adsim.Forest.ldap3`), unbound after the test.

Options come from the ini file (``[pytest]`` or ``[tool.pytest.ini_options]``) and, per test,
module or class, from ``@pytest.mark.adsim(...)`` (keywords of :class:`adsim.ServeOptions`;
tests with equal options share one forest). When a test fails, its report carries the tail of
the server's stderr.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Literal, Optional, Protocol, Tuple

import pytest

from ._control import Snapshot
from ._forest import Forest
from ._server import ServeOptions, Server, ServerError


__all__ = ["Ldap3Factory", "adsim_forest", "adsim_ldap3"]

_INI = {
    "adsim_scope": ("function (restore the forest after each test; default) or session", None, "function"),
    "adsim_binary": ("the adsim executable (default: the one installed with adsim-dc)", None, ""),
    "adsim_domain": ("DNS name of the forest root domain", None, "corp.example.test"),
    "adsim_children": ("child domain labels", "args", []),
    "adsim_netbios": ("NetBIOS name of the root domain", None, ""),
    "adsim_seed": ("seed for SIDs, GUIDs and secrets (deterministic forests)", None, ""),
    "adsim_start_time": ("freeze the simulated clock at this RFC 3339 instant", None, ""),
    "adsim_kds_root_key": ("KDS root key at start: backdated, immediate or none", None, "backdated"),
    "adsim_fixtures": ("LDIF files loaded at start (relative to the ini file)", "paths", []),
    "adsim_topology": ("a forest in TOML (adsim serve --topology)", "paths", []),
    "adsim_admin_password": ("every domain's Administrator password", None, ""),
    "adsim_standard_ports": (
        "serve AD's standard ports (389, 636, 3268, 3269, 88) on a loopback alias: no, yes or auto "
        "(yes when running as root)",
        None,
        "no",
    ),
    "adsim_extra_args": ("more adsim serve arguments", "args", []),
}

_MARKER = (
    "adsim(**options): the forest this test, class or module runs against: keywords of "
    "adsim.ServeOptions (domain, children, netbios, seed, start_time, kds_root_key, fixtures, "
    "topology, admin_password, standard_ports, extra_args); equal options share one forest"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (help_text, kind, default) in _INI.items():
        parser.addini(name, help_text, type=kind, default=default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


class Ldap3Factory(Protocol):
    """The ``adsim_ldap3`` fixture's value."""

    def __call__(
        self, principal: Optional[str] = None, password: Optional[str] = None, *, url: Optional[str] = None
    ) -> Any: ...


class _Forests:
    """The forests of this pytest process, one per set of options, each with the snapshot
    taken right after start (the state every function-scoped test begins from)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.binary = str(config.getini("adsim_binary")) or None
        self._running: Dict[ServeOptions, Tuple[Forest, Snapshot, Dict[str, Any]]] = {}
        self._failed: Dict[ServeOptions, str] = {}
        self._aliases = 0
        #: Seconds each start took (spawn to ready, forest client, baseline snapshot).
        self.start_seconds: List[float] = []

    def get(self, options: ServeOptions) -> Tuple[Forest, Snapshot, Dict[str, Any]]:
        """The forest for ``options``, the snapshot taken after its start and its bind policies
        then (snapshots do not hold policies)."""
        entry = self._running.get(options)
        if entry is None:
            # A forest that failed to start fails every test that asks for it, once started.
            if options in self._failed:
                raise ServerError(f"(as for an earlier test) {self._failed[options]}")
            began = time.perf_counter()
            try:
                server = Server.start(options, binary=self.binary)
                try:
                    forest = Forest.from_server(server)
                    baseline = forest.snapshot()
                    policies = forest.control.policies()
                except Exception as e:
                    server.stop()
                    raise ServerError(f"adsim serve started but its control API failed: {e}") from e
            except ServerError as e:
                self._failed[options] = str(e)
                raise
            self.start_seconds.append(time.perf_counter() - began)
            entry = self._running[options] = (forest, baseline, policies)
        return entry

    def close(self) -> None:
        for forest, _, _ in self._running.values():
            forest.close()
            if forest.server is not None:
                forest.server.stop()
        self._running.clear()

    def alias(self) -> str:
        """A loopback alias of this process's own for a forest on standard ports:
        127.0.<k>.<2 + xdist worker number>, k counting this process's forests from 0 (so the
        first forest of a run without xdist is 127.0.0.2). A marker may give ``listen``."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        number = int(worker[2:]) if worker[2:].isdigit() else 0
        k, self._aliases = self._aliases, self._aliases + 1
        return f"127.0.{k}.{2 + number}"


def _ini_options(config: pytest.Config) -> Dict[str, Any]:
    def text(name: str) -> Optional[str]:
        value = str(config.getini(name)).strip()
        return value or None

    seed = text("adsim_seed")
    topology = config.getini("adsim_topology")
    return {
        "domain": text("adsim_domain") or "corp.example.test",
        "children": tuple(config.getini("adsim_children")),
        "netbios": text("adsim_netbios"),
        "seed": int(seed) if seed else None,
        "start_time": text("adsim_start_time"),
        "kds_root_key": text("adsim_kds_root_key") or "backdated",
        "fixtures": tuple(str(p) for p in config.getini("adsim_fixtures")),
        "topology": str(topology[0]) if topology else None,
        "admin_password": text("adsim_admin_password"),
        "extra_args": tuple(config.getini("adsim_extra_args")),
    }


def _options(request: pytest.FixtureRequest, forests: _Forests) -> ServeOptions:
    values = _ini_options(request.config)
    standard = str(request.config.getini("adsim_standard_ports")).strip().lower()
    if standard not in ("no", "yes", "auto"):
        raise pytest.UsageError(f"adsim_standard_ports = {standard!r}: one of no, yes, auto")
    values["standard_ports"] = standard == "yes" or (standard == "auto" and os.geteuid() == 0)
    marker = request.node.get_closest_marker("adsim") if request.scope == "function" else None
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.adsim takes keyword arguments only")
        unknown = set(marker.kwargs) - set(ServeOptions.__dataclass_fields__) - {"listen"}
        if unknown:
            raise pytest.UsageError(f"@pytest.mark.adsim: unknown options {sorted(unknown)}")
        here = Path(str(request.node.path)).parent
        kwargs = dict(marker.kwargs)
        # Files named in a marker are relative to the test's directory.
        if "fixtures" in kwargs:
            kwargs["fixtures"] = tuple(str(here / f) for f in _as_tuple(kwargs["fixtures"]))
        if kwargs.get("topology"):
            kwargs["topology"] = str(here / kwargs["topology"])
        values.update(kwargs)
    if values["standard_ports"] and "listen" not in values:
        if os.geteuid() != 0:
            raise pytest.UsageError("adsim standard ports (389, 636, 88...) need root")
        values["listen"] = forests.alias()
    return ServeOptions(**values)


def _as_tuple(value: Any) -> Tuple[Any, ...]:
    return (value,) if isinstance(value, (str, os.PathLike)) else tuple(value)


def _scope(fixture_name: str, config: pytest.Config) -> Literal["function", "session"]:
    scope = str(config.getini("adsim_scope")).strip() or "function"
    if scope == "function":
        return "function"
    if scope == "session":
        return "session"
    raise pytest.UsageError(f"adsim_scope = {scope!r}: function or session")


@pytest.fixture(scope="session")
def _adsim_forests(request: pytest.FixtureRequest) -> Iterator[_Forests]:
    forests = _Forests(request.config)
    try:
        yield forests
    finally:
        forests.close()


@pytest.fixture(scope=_scope)
def adsim_forest(request: pytest.FixtureRequest, _adsim_forests: _Forests) -> Iterator[Forest]:
    """A running forest (see the module's text): endpoints, control API, helpers."""
    forest, baseline, policies = _adsim_forests.get(_options(request, _adsim_forests))
    if request.scope != "function":
        yield forest
        return
    try:
        yield forest
    finally:
        forest.close_connections()
        try:
            forest.restore(baseline)
            if forest.control.policies_changed:
                forest.control.set_policies(**policies)
                forest.control.policies_changed = False
        except Exception as e:
            tail = forest.server.stderr_tail() if forest.server else ""
            raise ServerError(f"restoring the forest after the test failed: {e}\n{tail}") from e


@pytest.fixture
def adsim_ldap3(adsim_forest: Forest) -> Iterator[Ldap3Factory]:
    """``adsim_ldap3(principal=None, password=None, url=None)``: a bound ldap3 connection."""
    yield adsim_forest.ldap3
    adsim_forest.close_connections()


def pytest_runtest_setup(item: pytest.Item) -> None:
    # A session-scoped forest is shared by every test: a marker asking for another cannot apply.
    if "adsim_forest" in getattr(item, "fixturenames", ()) and item.get_closest_marker("adsim") is not None:
        if _scope("adsim_forest", item.config) != "function":
            pytest.fail("@pytest.mark.adsim needs adsim_scope = function (the forest is per session)", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: "pytest.CallInfo[None]") -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed:
        forest = getattr(item, "funcargs", {}).get("adsim_forest")
        if isinstance(forest, Forest) and forest.server is not None:
            report.sections.append(("adsim serve stderr", forest.server.stderr_tail()))
