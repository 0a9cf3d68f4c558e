"""CPython's own test.test_ssl over each backend: whatever passes over plain ssl passes over every backend.

The exceptions are the entries of ``cpython_ssl_expected_failures.txt``, each with its reason; see
``cpython_ssl.py`` for how the suite runs and for the command that regenerates the list.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cpython_ssl
import pytest

pytestmark = [
    pytest.mark.skipif(
        not cpython_ssl.has_test_ssl(), reason="this interpreter has no test.test_ssl (its 'test' package is absent)"
    ),
    pytest.mark.timeout(cpython_ssl.CHILD_TIMEOUT),  # the first test also waits for the run of test_ssl
]


@pytest.fixture(scope="module")
def expected() -> list[cpython_ssl.ExpectedFailure]:
    return cpython_ssl.read_expected_failures()


@pytest.fixture(scope="module")
def results(expected: list[cpython_ssl.ExpectedFailure]) -> dict[str, dict[str, str]]:
    """test.test_ssl's outcome per test over plain ssl and over each backend, measured in this run; a test that
    fails unexpectedly over a backend is run once more (see ``retry_unexpected_failures``)."""
    results = cpython_ssl.run_all((cpython_ssl.PLAIN, *cpython_ssl.BACKENDS))
    for backend, tests in cpython_ssl.retry_unexpected_failures(results, expected).items():
        print(f"test_ssl over {backend}: passed on the retry only: {tests}")
    return results


@pytest.mark.parametrize("backend", cpython_ssl.BACKENDS)
def test_factories_are_redirected(backend: str) -> None:
    """In a child run, every way test_ssl makes a context yields a tlsapi context of that backend, which is
    still an ``ssl.SSLContext``; ssl.py's ``super(SSLContext, SSLContext)`` still reaches the C members."""
    probe = (
        "import _ssl, ssl, sys; sys.path.insert(0, sys.argv[1]); import cpython_ssl;"
        f"cpython_ssl.redirect_ssl({backend!r});"
        "made = [ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),"
        " ssl.create_default_context(), ssl.create_default_context(ssl.Purpose.CLIENT_AUTH),"
        " ssl._create_unverified_context(), ssl._create_stdlib_context(), ssl._create_default_https_context()];"
        "assert all(isinstance(context, ssl.SSLContext) for context in made);"
        "assert super(ssl.SSLContext, ssl.SSLContext).options is _ssl._SSLContext.options;"
        "print(*[context.backend.name for context in made])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(cpython_ssl.EXPECTED_FAILURES.parent)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.split() == [backend] * 7


def test_plain_ssl_baseline_is_measured(results: dict[str, dict[str, str]]) -> None:
    """The baseline is real: test_ssl ran over plain ssl here and most of it passed (the rest skips, for lack
    of the network resource or of a protocol this OpenSSL disables), so the comparisons below mean something."""
    plain = results[cpython_ssl.PLAIN]
    assert cpython_ssl.passing(plain)
    assert not {test: outcome for test, outcome in plain.items() if outcome not in ("passed", "skipped")}


@pytest.mark.parametrize("backend", cpython_ssl.BACKENDS)
def test_backend_passes_what_plain_ssl_passes(
    results: dict[str, dict[str, str]], expected: list[cpython_ssl.ExpectedFailure], backend: str
) -> None:
    """Every test passing over plain ssl passes over ``backend``, except the listed ones."""
    assert cpython_ssl.unexpected_failures(results, backend, expected) == {}


def test_an_unexpected_failure_is_run_again_before_it_counts() -> None:
    """A test recorded as failed over a backend, which passes when run again in a fresh child, counts as
    passed and is reported with its first outcome; the others keep theirs."""
    results = {
        target: {"ContextTests.test_options": "passed", "ContextTests.test_ciphers": "passed"}
        for target in (cpython_ssl.PLAIN, *cpython_ssl.BACKENDS)
    }
    results["stdlib"]["ContextTests.test_options"] = "error: recorded by this test"
    intermittent = cpython_ssl.retry_unexpected_failures(results, [])
    assert intermittent == {"stdlib": {"ContextTests.test_options": "error: recorded by this test"}}
    assert cpython_ssl.unexpected_failures(results, "stdlib", []) == {}


def test_an_entry_with_a_python_condition_applies_on_those_versions_only(tmp_path: Path) -> None:
    """``python>=3.12`` / ``==3.13`` / ``<3.13`` after the test limit an entry to those interpreters: elsewhere the
    test counts as unexpected when it fails, and the entry is not stale when it passes."""
    listed = tmp_path / "list.txt"
    listed.write_text(
        "# comment\n"
        "native     ContextTests.test_a   python>=3.12 open: newer only\n"
        "native     ContextTests.test_b   python==3.13 open: 3.13 only\n"
        "native     ContextTests.test_c   python<3.13 open: older only\n"
        "native     ContextTests.test_d   open: every version\n",
        encoding="utf-8",
    )
    entries = cpython_ssl.read_expected_failures(listed)
    assert [(entry.python, entry.reason) for entry in entries] == [
        (">=3.12", "open: newer only"), ("==3.13", "open: 3.13 only"), ("<3.13", "open: older only"),
        ("", "open: every version"),
    ]
    assert [[entry.applies_to(v) for v in ("3.11", "3.12", "3.13")] for entry in entries] == [
        [False, True, True], [False, False, True], [True, True, False], [True, True, True],
    ]
    assert entries[0].line().split() == ["native", "ContextTests.test_a", "python>=3.12", "open:", "newer", "only"]
    tests = ("ContextTests.test_a", "ContextTests.test_b", "ContextTests.test_c", "ContextTests.test_d")
    failing_everywhere = {cpython_ssl.PLAIN: dict.fromkeys(tests, "passed"),
                          **{b: dict.fromkeys(tests, "failed: x") for b in cpython_ssl.BACKENDS}}
    assert cpython_ssl.unexpected_failures(failing_everywhere, "native", entries, "3.11") == {
        "ContextTests.test_a": "failed: x", "ContextTests.test_b": "failed: x"}


def _run(failing: dict[str, set[str]]) -> dict[str, dict[str, str]]:
    """Results where every test of ``failing`` passes over plain ssl and fails over the backends it maps to."""
    results: dict[str, dict[str, str]] = {target: {} for target in (cpython_ssl.PLAIN, *cpython_ssl.BACKENDS)}
    for test, backends in failing.items():
        results[cpython_ssl.PLAIN][test] = "passed"
        for backend in cpython_ssl.BACKENDS:
            results[backend][test] = "failed: x" if backend in backends else "passed"
    return results


def test_update_prunes_and_narrows_over_the_versions_measured() -> None:
    """An entry passing on every version measured goes; one failing on some versions gets their condition; one
    about a test no version ran stays; a new failure is added for the versions where it fails."""
    entries = [
        cpython_ssl.ExpectedFailure("native", "T.test_fixed", "open: fixed"),
        cpython_ssl.ExpectedFailure("native", "T.test_newer", "open: newer"),
        cpython_ssl.ExpectedFailure("native", "T.test_absent", "open: absent"),
    ]
    measured = {
        "3.11": _run({"T.test_fixed": set(), "T.test_newer": set(), "T.test_new": set()}),
        "3.12": _run({"T.test_fixed": set(), "T.test_newer": {"native"}, "T.test_new": set()}),
        "3.13": _run({"T.test_fixed": set(), "T.test_newer": {"native"}, "T.test_new": {"stdlib"}}),
    }
    lines = [entry.line().split(None, 3) for entry in cpython_ssl.updated_list(measured, entries, prune=True)]
    assert lines == [
        ["stdlib", "T.test_new", "python>=3.13", "open: unclassified (failed: x)"],
        ["native", "T.test_absent", "open:", "absent"],
        ["native", "T.test_newer", "python>=3.12", "open: newer"],
    ]
    kept = cpython_ssl.updated_list(measured, entries, prune=False)
    assert {entry.test for entry in kept} == {"T.test_fixed", "T.test_newer", "T.test_absent", "T.test_new"}
