"""The pytest plugin (entry point ``pytest11``): backend selection, capability gating, certification.

Loaded in every pytest run of an environment where tlsapi is installed, so at import it only imports
pytest. It adds options and the ``capability`` marker and stays inert unless ``--tlsapi-backend`` is given
or the conformance cases (or :mod:`tlsapi_conformance.cli`) start a run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tlsapi import Backend, Capability

    from .report import CaseResult, Report

NOT_DECLARED = "tlsapi: not declared: "
RUN_KEY = pytest.StashKey["ConformanceRun"]()
_META_KEY = pytest.StashKey["ItemMeta"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tlsapi-conformance", "tlsapi conformance suite")
    group.addoption(
        "--tlsapi-backend", action="append", default=None, metavar="BACKEND",
        help="certify this backend: an entry-point name or a module:attr spec (repeatable; default: all "
             "installed backends when the conformance cases run)",
    )
    group.addoption(
        "--tlsapi-report", action="append", default=None, metavar="FILE",
        help="write the certification report to FILE (.json, .md or .html; repeatable)",
    )
    group.addoption(
        "--tlsapi-no-peers", action="store_true", default=False,
        help="interop matrix: only the backends under test (not every installed backend)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "capability(*caps, requires=()): the tlsapi Capability a conformance case certifies (untagged: "
        "CORE); requires: prerequisites, also needed but not credited. A TLS version is a prerequisite "
        "only when another capability is credited.",
    )
    if RUN_KEY in config.stash:
        return
    if config.getoption("tlsapi_backend", None):
        activate(config)


def activate(config: pytest.Config) -> ConformanceRun:
    """Start a conformance run for ``config`` (idempotent); the cases' conftest calls this."""
    if RUN_KEY in config.stash:
        return config.stash[RUN_KEY]
    for registered in config.pluginmanager.get_plugins():
        if isinstance(registered, ConformanceRun):  # passed by run() / the CLI
            config.stash[RUN_KEY] = registered
            return registered
    from . import resolve_backends

    specs = config.getoption("tlsapi_backend", None) or []
    run = ConformanceRun(
        resolve_backends(specs or None),
        reports=config.getoption("tlsapi_report", None) or [],
        include_installed_peers=not config.getoption("tlsapi_no_peers", False),
    )
    config.pluginmanager.register(run, "tlsapi-conformance-run")
    config.stash[RUN_KEY] = run
    return run


def get_run(config: pytest.Config) -> ConformanceRun:
    return activate(config)


@dataclass
class ItemMeta:
    """What a collected case certifies: for which backend, which capabilities, which interop cell."""

    backend: str | None  # the backend credited with the result (None: cross-backend interop only)
    capabilities: tuple[Capability, ...]
    missing: tuple[Capability, ...]  # declared by nobody who must: the case is "not declared"
    interop: dict[str, str] | None = None


@dataclass
class _Outcome:
    outcome: str = "passed"
    duration: float = 0.0
    message: str = ""


@dataclass(eq=False)
class ConformanceRun:
    """The state of one run: backends under test, gathered results, report files.

    Pass an instance to ``pytest.main(plugins=[run])`` (the CLI does) or let ``--tlsapi-backend`` build it.
    """

    backends: list[Backend]
    reports: Sequence[str] = ()
    include_installed_peers: bool = True
    results: list[CaseResult] = field(default_factory=list)
    report: Report | None = None
    _outcomes: dict[str, _Outcome] = field(default_factory=dict)
    _meta: dict[str, ItemMeta] = field(default_factory=dict)
    _deselected: int = 0
    _started: float = field(default_factory=time.monotonic)

    # -- participants -------------------------------------------------------------------------------------

    def peers(self) -> list[Backend]:
        """Backends in the interop matrix: those under test, then every other installed, available one."""
        found = list(self.backends)
        if self.include_installed_peers:
            import tlsapi

            names = {b.name for b in found}
            for backend in tlsapi.backends():
                if backend.name not in names and backend.is_available():
                    found.append(backend)
                    names.add(backend.name)
        return found

    def is_subject(self, name: str) -> bool:
        return any(b.name == name for b in self.backends)

    # -- pytest hooks -------------------------------------------------------------------------------------

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[RUN_KEY] = self

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self._deselected += len(items)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from tlsapi import Capability

        versions = (Capability.TLSv1_2, Capability.TLSv1_3)
        for item in items:
            credited: list[Capability] = []
            required: list[Capability] = []
            for marker in item.iter_markers("capability"):
                credited += [c for c in marker.args if c not in credited]
                required += marker.kwargs.get("requires", ())
            credited = credited or [Capability.CORE]
            if any(c not in versions for c in credited):  # a version is then a prerequisite only
                required += [c for c in credited if c in versions]
                credited = [c for c in credited if c not in versions]
            caps, needed = tuple(credited), tuple(dict.fromkeys([*credited, *required]))
            params = getattr(getattr(item, "callspec", None), "params", {})
            cell = params.get("interop_cell")
            if cell is not None:
                meta = cell.meta(caps, needed, self)
            else:
                backend = params.get("backend")
                if backend is None:
                    continue
                declared = backend.capabilities()
                meta = ItemMeta(backend.name, caps, tuple(c for c in needed if c not in declared))
            item.stash[_META_KEY] = meta
            self._meta[item.nodeid] = meta

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        meta = item.stash.get(_META_KEY, None)
        if meta is not None and meta.missing:
            pytest.skip(NOT_DECLARED + ", ".join(c.value for c in meta.missing))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self._meta:
            return
        state = self._outcomes.setdefault(report.nodeid, _Outcome())
        state.duration += report.duration
        if report.failed:
            if state.outcome != "failed":
                state.outcome = "failed"
                state.message = _failure_text(report)
        elif report.skipped and state.outcome == "passed":
            reason = _skip_reason(report)
            state.outcome = "not declared" if reason.startswith(NOT_DECLARED) else "skipped"
            state.message = reason.removeprefix(NOT_DECLARED)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        if report.skipped and _skip_reason(report).startswith(NOT_DECLARED):
            return "not declared", "n", "NOT DECLARED"
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from .report import CaseResult, build_report

        for nodeid, meta in self._meta.items():
            state = self._outcomes.get(nodeid)
            if state is None:
                continue  # deselected or not run
            self.results.append(CaseResult(
                nodeid=nodeid, backend=meta.backend, capabilities=[c.value for c in meta.capabilities],
                outcome=state.outcome, duration=round(state.duration, 4), message=state.message,
                interop=meta.interop,
            ))
        self.report = build_report(self.backends, self.results, time.monotonic() - self._started,
                                   self._partial_reason(session))
        for path in self.reports:
            self.report.write(path)

    def _partial_reason(self, session: pytest.Session) -> str:
        """Why the run does not cover every case ("" when it does)."""
        reasons = []
        if self._deselected:
            reasons.append(f"{self._deselected} cases deselected")
        unfinished = sum(1 for nodeid in self._meta if nodeid not in self._outcomes)
        if unfinished:
            reasons.append(f"{unfinished} cases did not run")
        if session.shouldstop or session.shouldfail:
            reasons.append("the run stopped early")
        return ", ".join(reasons)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        """The tables and verdicts before pytest's failure tracebacks: they are what a reader needs first."""
        if self.report is not None:
            terminalreporter.write_sep("=", "tlsapi conformance")
            for line in self.report.to_text().splitlines():
                terminalreporter.write_line(line)
            for path in self.reports:
                terminalreporter.write_line(f"report written to {path}")
        return (yield)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _failure_text(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:2000]
    return str(report.longrepr)[-2000:]

