"""Run the interpreter's own ``test.test_ssl`` over plain ``ssl`` and over each tlsapi backend.

CPython's test suite for ``ssl`` is the reference for the semantics tlsapi reproduces. This module imports it
from the running interpreter (nothing of it is copied here) and runs it in a child process per target:

- ``ssl``: the module untouched, which measures what passes on this interpreter and machine;
- a backend name: ``tlsapi.inject_into_ssl(backend, wrap_stdlib=True)`` before ``test.test_ssl`` is imported, so
  ``ssl.SSLContext(...)`` makes a tlsapi context of that backend (the stdlib backend's too), and every factory
  built on the module's ``SSLContext`` name follows: ``ssl.create_default_context``,
  ``ssl._create_unverified_context``, ``ssl._create_stdlib_context``, ``ssl.get_server_certificate`` (and
  ``ssl.wrap_socket`` where it exists). ``isinstance(x, ssl.SSLContext)`` keeps its meaning.

The ``network`` resource is disabled (those tests reach hosts on the internet); the other resources test_ssl
asks for are enabled, as ``python -m test -u all,-network test_ssl`` would.

``tests/test_cpython_ssl.py`` asserts that every test that passes over plain ``ssl`` passes over each backend,
except the entries of ``tests/cpython_ssl_expected_failures.txt``. Commands::

    python tests/cpython_ssl.py run TARGET          # one child run: a JSON line per test (rustls too, unchecked)
    python tests/cpython_ssl.py report              # pass counts per target, and the failures not listed
    python tests/cpython_ssl.py update [--prune]    # the list with this run's failures (see below)

The list is shared by every Python version. An entry may carry a condition on the interpreter after the test,
``python>=3.12``, ``python==3.13`` or ``python<3.13``: it then applies on those versions only (elsewhere the
test must pass). ``update`` keeps every entry and adds the unlisted failures with the reason ``open: unclassified
(OUTCOME)``, to be replaced by the real one; ``update --prune`` also drops the entries whose test passed on
every version measured, and narrows the condition of one that fails on some versions only. To measure several
versions, save each run and update from all of them::

    python3.11 tests/cpython_ssl.py report --save /tmp/r311.json     # and so on for 3.12, 3.13
    python tests/cpython_ssl.py update --prune --measured /tmp/r311.json /tmp/r312.json /tmp/r313.json

``report`` names the entries that passed in its run ("now passes"). Reasons: ``TLS 1.0/1.1``, ``finite-field
DH``, ``OpenSSL internals`` (a test of OpenSSL's private behaviour or of ``_ssl`` internals), ``undeclared
capability`` (a backend that does not declare the capability the test needs, and refuses it), or ``open: ...``
with the cause, for a difference not fixed yet.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import faulthandler
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

PLAIN = "ssl"
BACKENDS = ("stdlib", "pyopenssl", "native")
#: Backends ``run`` takes too, measured on demand but not checked (the list has no entries for them).
UNCHECKED_BACKENDS = ("rustls",)
EXPECTED_FAILURES = Path(__file__).with_name("cpython_ssl_expected_failures.txt")
RESOURCES = ("walltime", "cpu")  # every resource test_ssl asks for, except "network"
CHILD_TIMEOUT = 600.0
SHARDS = 3
RETRIES = 2
TEST_TIMEOUT = 20.0  # seconds; a test passing over plain ssl takes a few at most
PASSED = "passed"
SCRIPT = str(Path(__file__).resolve())  # the children run it from a scratch directory


def has_test_ssl() -> bool:
    """Whether this interpreter ships ``test.test_ssl`` (distributions may strip the ``test`` package)."""
    import importlib.util

    try:
        return importlib.util.find_spec("test.test_ssl") is not None
    except ModuleNotFoundError:
        return False


def redirect_ssl(backend: str) -> None:
    """Make ``ssl``'s context class build tlsapi contexts of ``backend``: ``tlsapi.inject_into_ssl``, with the
    stdlib backend wrapped too (its contexts are then the interface over OpenSSL, not ``ssl``'s own)."""
    import tlsapi

    tlsapi.inject_into_ssl(backend, wrap_stdlib=True)


class _OutcomeResult(unittest.TextTestResult):
    """Reports each test as a JSON line on ``report``: ``{"start": id}``, then ``{"test": id, "outcome": ...}``.

    Outcomes: passed, skipped, expected failure, unexpected success, or ``failed: ...`` / ``error: ...`` with
    the last line of the traceback (a failed subtest fails the whole test). A test still running after
    ``TEST_TIMEOUT`` seconds ends the process (``faulthandler``); the parent records it as ``hung`` and starts a
    new child for the tests not yet run.
    """

    report: TextIO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcomes: dict[str, str] = {}
        self.started = 0.0

    def _emit(self, record: dict[str, Any]) -> None:
        self.report.write(json.dumps(record) + "\n")
        self.report.flush()

    def _record(self, test: unittest.TestCase, outcome: str) -> None:
        test_id = _short_id(test)
        if self.outcomes.get(test_id, PASSED) == PASSED:
            self.outcomes[test_id] = outcome

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._emit({"start": _short_id(test)})
        self.started = time.monotonic()
        faulthandler.dump_traceback_later(TEST_TIMEOUT, exit=True)

    def stopTest(self, test: unittest.TestCase) -> None:
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        test_id = _short_id(test)
        outcome = self.outcomes.get(test_id, "error")
        self._emit({"test": test_id, "outcome": outcome, "seconds": round(time.monotonic() - self.started, 3)})

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._record(test, PASSED)

    def _failure(self, test: unittest.TestCase, kind: str, err: Any) -> None:
        lines = self._exc_info_to_string(err, test).strip().splitlines()  # type: ignore[attr-defined]
        self._record(test, f"{kind}: {lines[-1][:200]}")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._failure(test, "failed", err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self._failure(test, "error", err)

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._record(test, "skipped")

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._record(test, "expected failure")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected success")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._failure(test, "failed" if issubclass(err[0], test.failureException) else "error", err)


def _short_id(test: unittest.TestCase) -> str:
    return test.id().removeprefix("test.test_ssl.")


def _tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests(item)
        else:
            yield item


def run_in_this_process(target: str, shard: Shard, only: set[str], excluded: set[str], report: TextIO) -> None:
    """Run ``shard`` of test_ssl here over ``target`` (``ssl`` or a backend name), or the tests ``only`` names
    when it names any, except ``excluded``; see _OutcomeResult."""
    if target != PLAIN:
        redirect_ssl(target)
    from test import support  # type: ignore[import-not-found]

    support.use_resources = list(RESOURCES)
    support.verbose = False
    import test.test_ssl  # type: ignore[import-not-found]

    loaded = unittest.defaultTestLoader.loadTestsFromModule(test.test_ssl)
    selected = [
        test
        for number, test in enumerate(_tests(loaded))
        if (_short_id(test) in only if only else number % shard.count == shard.index)
    ]
    suite = unittest.TestSuite(test for test in selected if _short_id(test) not in excluded)
    _OutcomeResult.report = report
    unittest.TextTestRunner(stream=io.StringIO(), resultclass=_OutcomeResult).run(suite)


@dataclass(frozen=True)
class Shard:
    """Every ``count``-th test of test_ssl in load order, from the ``index``-th (0-based)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, count = (int(part) for part in text.split("/"))
        if not 0 <= index < count:
            raise ValueError(f"shard {text}: expected INDEX/COUNT with 0 <= INDEX < COUNT")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def run_child(target: str, shard: Shard, only: Iterable[str] = ()) -> dict[str, str]:
    """The outcome of each test of ``shard`` (or of those ``only`` names) over ``target``, run in fresh
    interpreters (the redirection must precede every import); a test that hangs is recorded as ``hung`` and the
    run goes on in a new child."""
    outcomes: dict[str, str] = {}
    selection = ["--shard", str(shard), "--only", ",".join(only)]
    while True:
        with tempfile.TemporaryDirectory(prefix="test_ssl-") as scratch:  # test_ssl writes files in its cwd
            completed = subprocess.run(
                [sys.executable, SCRIPT, "run", target, *selection, "--exclude", ",".join(outcomes)],
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT,
                env={**os.environ, "TLSAPI_BACKEND": "stdlib"},
                check=False,
                cwd=scratch,
            )
        unfinished = None
        for line in completed.stdout.splitlines():
            record = json.loads(line)
            if "start" in record:
                unfinished = record["start"]
            else:
                outcomes[record["test"]] = record["outcome"]
                unfinished = None
        if completed.returncode == 0 and unfinished is None:
            return outcomes
        if unfinished is None:
            raise RuntimeError(f"test_ssl over {target} exited {completed.returncode}:\n{completed.stderr[-4000:]}")
        outcomes[unfinished] = "hung"


def run_all(targets: Iterable[str], shards: int = SHARDS) -> dict[str, dict[str, str]]:
    """The outcomes of every target. All children run side by side: they mostly wait on sockets and timers
    (each of test_ssl's echo servers takes a second to stop), so the run takes about the time of one shard."""
    jobs = [(target, Shard(index, shards)) for target in targets for index in range(shards)]
    results: dict[str, dict[str, str]] = {target: {} for target, _ in jobs}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for (target, _), outcomes in zip(jobs, pool.map(lambda job: run_child(*job), jobs), strict=True):
            results[target].update(outcomes)
    return results


def retry_unexpected_failures(
    results: dict[str, dict[str, str]], expected: list[ExpectedFailure]
) -> dict[str, dict[str, str]]:
    """Run up to ``RETRIES`` more times, in a fresh child per backend, each test that failed over it
    unexpectedly; a pass replaces the outcome in ``results``. Over the backends, test_ssl's background servers
    intermittently see a connection reset (issue 12), any of them on a loaded machine. Returns the first
    outcome of each test that passed only on a retry."""
    first = {backend: unexpected_failures(results, backend, expected) for backend in BACKENDS}
    intermittent: dict[str, dict[str, str]] = {}
    for _ in range(RETRIES):
        jobs = [(backend, unexpected_failures(results, backend, expected)) for backend in BACKENDS]
        jobs = [(backend, tests) for backend, tests in jobs if tests]
        if not jobs:
            break
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            reruns = pool.map(lambda job: run_child(job[0], Shard(0, 1), job[1]), jobs)
            for (backend, _), outcomes in zip(jobs, reruns, strict=True):
                for test, outcome in outcomes.items():
                    if outcome == PASSED:
                        intermittent.setdefault(backend, {})[test] = first[backend][test]
                        results[backend][test] = PASSED
    return intermittent


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"
_CONDITION = re.compile(r"python(>=|==|<)(3\.\d+)")


@dataclass(frozen=True)
class ExpectedFailure:
    """A test that passes over plain ``ssl`` and is known not to pass over ``backend``, and why; ``python`` is
    empty (every version) or a condition on the interpreter's version: ``>=3.12``, ``==3.13``, ``<3.13``."""

    backend: str
    test: str
    reason: str
    python: str = ""

    def applies_to(self, version: str = RUNNING) -> bool:
        match = _CONDITION.fullmatch(f"python{self.python}")
        if match is None:
            return True
        operator, bound = match[1], _version_key(match[2])
        key = _version_key(version)
        return key >= bound if operator == ">=" else key == bound if operator == "==" else key < bound

    def line(self) -> str:
        condition = f"python{self.python} " if self.python else ""
        return f"{self.backend:<10} {self.test:<70} {condition}{self.reason}"


def read_expected_failures(path: Path = EXPECTED_FAILURES) -> list[ExpectedFailure]:
    """The entries of the list: ``backend  Class.test_method  [python CONDITION]  reason`` per line, ``#``
    starts a comment line."""
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = "" if raw.lstrip().startswith("#") else raw.strip()
        if not line:
            continue
        fields = line.split(None, 2)
        if len(fields) != 3 or fields[0] not in BACKENDS:
            raise ValueError(f"{path}:{number}: expected 'backend test reason', got {raw!r}")
        backend, test, reason = fields
        condition = _CONDITION.match(reason)
        if condition is not None:
            python, _, reason = reason.partition(" ")
            if not reason or _CONDITION.fullmatch(python) is None:
                raise ValueError(f"{path}:{number}: expected 'python>=3.N reason', got {raw!r}")
            entries.append(ExpectedFailure(backend, test, reason.strip(), python.removeprefix("python")))
        else:
            entries.append(ExpectedFailure(backend, test, reason))
    return entries


def passing(outcomes: dict[str, str]) -> set[str]:
    return {test for test, outcome in outcomes.items() if outcome == PASSED}


def unexpected_failures(
    results: dict[str, dict[str, str]], backend: str, expected: list[ExpectedFailure], version: str = RUNNING
) -> dict[str, str]:
    """Tests passing over plain ``ssl`` that fail over ``backend`` and are not listed for ``version`` (the
    interpreter that measured ``results``): {test: outcome}."""
    listed = {entry.test for entry in expected if entry.backend == backend and entry.applies_to(version)}
    missing = passing(results[PLAIN]) - passing(results[backend]) - listed
    return {test: results[backend].get(test, "not run") for test in sorted(missing)}


def stale_entries(results: dict[str, dict[str, str]], expected: list[ExpectedFailure]) -> list[ExpectedFailure]:
    """Entries for this interpreter about tests that now pass over their backend."""
    return [entry for entry in expected if entry.applies_to() and results[entry.backend].get(entry.test) == PASSED]


def _condition(failing: set[str], informative: set[str]) -> str:
    """The narrowest condition on the versions of ``informative`` (those where the test passes over plain
    ``ssl``) that holds on exactly the ``failing`` ones; empty when it fails on all of them or none fits."""
    ordered = sorted(informative, key=_version_key)
    if failing == informative:
        return ""
    first = min(failing, key=_version_key)
    if failing == {v for v in ordered if _version_key(v) >= _version_key(first)}:
        return f">={first}"
    above = [v for v in ordered if v not in failing and _version_key(v) > _version_key(max(failing, key=_version_key))]
    if above and failing == {v for v in ordered if _version_key(v) < _version_key(above[0])}:
        return f"<{above[0]}"
    return f"=={first}" if len(failing) == 1 else ""


def updated_list(
    measured: dict[str, dict[str, dict[str, str]]], expected: list[ExpectedFailure], prune: bool
) -> list[ExpectedFailure]:
    """The list after the runs of ``measured`` ({python version: results}): their unlisted failures added (reason
    ``open: unclassified (OUTCOME)``, limited to the versions where they fail); with ``prune``, without the
    entries whose test passed on every version that ran it, and with the condition of those that fail on some
    versions only narrowed to them."""
    entries = []
    for entry in expected:
        informative = {v for v, results in measured.items() if results[PLAIN].get(entry.test) == PASSED}
        failing = {v for v in informative if measured[v][entry.backend].get(entry.test) != PASSED}
        if prune and informative and not failing:
            continue
        if prune and failing and failing != informative:
            entry = ExpectedFailure(entry.backend, entry.test, entry.reason, _condition(failing, informative))
        entries.append(entry)
    for backend in BACKENDS:
        new: dict[str, tuple[set[str], str]] = {}
        for version, results in measured.items():
            for test, outcome in unexpected_failures(results, backend, expected, version).items():
                new.setdefault(test, (set(), outcome))[0].add(version)
        for test, (failing, outcome) in new.items():
            informative = {v for v, results in measured.items() if results[PLAIN].get(test) == PASSED}
            reason = f"open: unclassified ({outcome})"
            entries.append(ExpectedFailure(backend, test, reason, _condition(failing, informative)))
    return sorted(entries, key=lambda entry: (BACKENDS.index(entry.backend), entry.test, entry.python))


def _print_report(results: dict[str, dict[str, str]], expected: list[ExpectedFailure]) -> None:
    baseline = passing(results[PLAIN])
    print(f"{sys.version.split()[0]}: {len(baseline)} of {len(results[PLAIN])} tests pass over plain ssl")
    for backend in BACKENDS:
        print(f"  {backend:<10} passes {len(baseline & passing(results[backend]))} of them")
        for test, outcome in unexpected_failures(results, backend, expected).items():
            print(f"    not listed: {test} ({outcome})")
    for entry in stale_entries(results, expected):
        print(f"  now passes, drop from the list: {entry.backend} {entry.test}")


def _ids(text: str) -> set[str]:
    return set(filter(None, text.split(",")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="one child run; prints JSON {test id: outcome}")
    run.add_argument("target", choices=(PLAIN, *BACKENDS, *UNCHECKED_BACKENDS))
    run.add_argument("--shard", type=Shard.parse, default=Shard(0, 1), help="INDEX/COUNT: run every COUNT-th test")
    run.add_argument("--only", default="", help="comma-separated test ids to run instead of the shard")
    run.add_argument("--exclude", default="", help="comma-separated test ids not to run")
    report_command = commands.add_parser("report", help="pass counts per target and the failures not in the list")
    report_command.add_argument("--save", type=Path, help="also write this run's outcomes to FILE (JSON), for update")
    update = commands.add_parser("update", help="print the list with the unlisted failures added")
    update.add_argument("--prune", action="store_true", help="and without the entries that passed everywhere")
    update.add_argument("--measured", type=Path, nargs="+", default=[],
                        help="runs saved by report --save (one per Python version) instead of a run here")
    args = parser.parse_args(argv)
    if args.command == "run":
        report = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):  # what tests print must not mix with the JSON lines
            run_in_this_process(args.target, args.shard, _ids(args.only), _ids(args.exclude), report)
        sys.stderr.flush()
        os._exit(0)  # a test that failed may leave a thread blocked on a socket: do not wait for it at exit
    if not has_test_ssl():
        print("this interpreter has no test.test_ssl (its 'test' package is not installed)")
        return 1
    expected = read_expected_failures()
    if args.command == "update" and args.measured:
        saved = [json.loads(path.read_text(encoding="utf-8")) for path in args.measured]
        measured = {run["python"]: run["results"] for run in saved}
    else:
        results = run_all((PLAIN, *BACKENDS))
        intermittent = retry_unexpected_failures(results, expected)
        measured = {RUNNING: results}
    if args.command == "report":
        _print_report(results, expected)
        for backend, tests in intermittent.items():
            for test, outcome in tests.items():
                print(f"  {backend}: {test} passed on the retry (first: {outcome})")
        if args.save:
            args.save.write_text(json.dumps({"python": RUNNING, "results": results}), encoding="utf-8")
    else:
        header = [line for line in EXPECTED_FAILURES.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
        print("\n".join([*header, *(entry.line() for entry in updated_list(measured, expected, args.prune))]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
