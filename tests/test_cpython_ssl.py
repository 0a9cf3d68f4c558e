"""CPython's own test.test_ssl over each backend: whatever passes over plain ssl passes over every backend.

The exceptions are the entries of ``cpython_ssl_expected_failures.txt``, each with its reason; see
``cpython_ssl.py`` for how the suite runs and for the command that regenerates the list.
"""

from __future__ import annotations

import subprocess
import sys

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
