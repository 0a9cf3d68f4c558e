"""The conformance suite can fail: deliberately broken backends are reported as failing the right
capability, undeclared capabilities are "not declared" (not failures), and the reports render."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from broken_backend import (
    FOREIGN_SESSION,
    HOSTNAME_BROKEN,
    IGNORES_CLIENT_AUTH,
    IGNORES_CLIENT_CERT,
    IGNORES_CRL_FLAGS,
    IGNORES_MINIMUM_VERSION,
    NO_ALPN,
    NO_CLIENT_AUTH,
    NO_SET_GROUPS,
    OVERCLAIMING,
    PARTIAL_WILDCARD,
)

import tlsapi
import tlsapi_conformance
from tlsapi_conformance.cli import main
from tlsapi_conformance.pki import BAD_CASES
from tlsapi_conformance.report import LEGEND, Report
from tlsapi_stdlib._backend import StdlibConnection, StdlibContext, _capabilities

CORE = tlsapi.Capability.CORE.value
DIAGNOSTICS = tlsapi.Capability.VERIFY_DIAGNOSTICS.value


def _verdict(report: Report | None, name: str) -> dict[str, str]:
    assert report is not None
    (verdict,) = [b for b in report.backends if b.name == name]
    return {row.capability: row.status for row in verdict.capabilities}


def _failed_cases(report: Report | None) -> set[str]:
    assert report is not None
    return {r.nodeid.split("::")[-1] for r in report.failures()}


def test_missing_hostname_check_fails_core() -> None:
    code, report = tlsapi_conformance.run(
        [HOSTNAME_BROKEN], pytest_args=["-q", "-k", "test_bad_server or test_handshake_bio"], installed_peers=False
    )
    assert code == 1
    statuses = _verdict(report, "broken-hostname")
    assert statuses[CORE] == "failed"
    assert statuses["TLS 1.3"] == "passed" and statuses["TLS 1.2"] == "passed"
    assert report is not None and not report.ok
    (verdict,) = report.backends
    # No hostname check at all: the diagnostics of the hostname cases are wrong too.
    assert not verdict.certified and verdict.failed_capabilities == [CORE, DIAGNOSTICS]
    hostname_cases = ["wrong-host", "wrong-ip", "wrong-ipv6", "partial-wildcard"]
    assert _failed_cases(report) == {
        *(f"test_bad_server_certificate[broken-hostname-{case}]" for case in hostname_cases),
        *(f"test_bad_server_certificate_diagnostics[broken-hostname-{case}]" for case in hostname_cases),
        "test_bad_server_certificate_socket[broken-hostname-wrong-host]",
    }


@pytest.mark.parametrize(
    ("broken", "keyword", "expected"),
    [
        pytest.param(IGNORES_CLIENT_AUTH, "test_server_verify_mode", {
            "test_server_verify_mode_refused_or_enforced[ignores-client-auth-required-no-cert]",
            "test_server_verify_mode_refused_or_enforced[ignores-client-auth-required-untrusted-cert]",
            "test_server_verify_mode_refused_or_enforced[ignores-client-auth-optional-untrusted-cert]",
        }, id="server-ignores-verify-mode"),
        pytest.param(IGNORES_MINIMUM_VERSION, "no_version or no_overlap or below_minimum", {
            "test_version_no_overlap[ignores-minimum-version-1.2]",
            "test_version_no_overlap[ignores-minimum-version-1.3]",
            "test_client_bounds_leaving_no_version[ignores-minimum-version-min-above-max]",
            "test_server_bounds_leaving_no_version[ignores-minimum-version-min-above-max]",
            "test_never_below_minimum_version[ignores-minimum-version-client]",
            "test_never_below_minimum_version[ignores-minimum-version-server]",
        }, id="negotiates-below-minimum"),
        pytest.param(IGNORES_CRL_FLAGS, "test_verify_flag", {
            "test_verify_flag_refused_or_enforced[ignores-crl-flags-crl-check-leaf]",
            "test_verify_flag_refused_or_enforced[ignores-crl-flags-crl-check-chain]",
        }, id="verify-flags-ignored"),
        pytest.param(PARTIAL_WILDCARD, "test_bad_server_certificate and not diagnostics or partial_wildcards", {
            "test_bad_server_certificate[partial-wildcard-partial-wildcard]",
            "test_hostname_flags_never_match_partial_wildcards[partial-wildcard-default]",
            "test_hostname_flags_never_match_partial_wildcards[partial-wildcard-common-name-on]",
        }, id="partial-wildcard-hostname"),
        pytest.param(FOREIGN_SESSION, "test_session", {
            "test_session_from_another_context_is_refused[foreign-session]",
        }, id="session-of-another-context"),
    ],
)
def test_accept_and_ignore_fails_core(broken: tlsapi.Backend, keyword: str, expected: set[str]) -> None:
    """Each security property is core: a backend that accepts and ignores it is refused certification."""
    code, report = tlsapi_conformance.run([broken], pytest_args=["-q", "-k", keyword], installed_peers=False)
    assert code == 1
    assert report is not None and not report.ok
    (verdict,) = report.backends
    assert not verdict.certified and verdict.failed_capabilities == [CORE]
    assert _failed_cases(report) == expected


def test_client_certificates_are_judged_per_side() -> None:
    """A client that never presents its certificate fails "client presents", not "server verifies"."""
    code, report = tlsapi_conformance.run(
        [IGNORES_CLIENT_CERT], pytest_args=["-q", "-k", "client_presents or mutual_tls or server_verifies"],
        installed_peers=False,
    )
    assert code == 1 and report is not None
    statuses = _verdict(report, "ignores-client-cert")
    assert statuses[tlsapi.Capability.CLIENT_AUTH.value] == "passed"
    assert report.backends[0].failed_capabilities == [tlsapi.Capability.CLIENT_CERT.value]
    assert _failed_cases(report) == {
        "test_client_presents_certificate[ignores-client-cert-TLSv1.2]",
        "test_client_presents_certificate[ignores-client-cert-TLSv1.3]",
        "test_mutual_tls_socket[ignores-client-cert-client-presents]",
    }


def test_undeclared_feature_refused_is_certified() -> None:
    """Not declaring client-certificate verification and refusing verify_mode (the base class does) passes
    core; the client-certificate cases are "not declared"."""
    code, report = tlsapi_conformance.run([NO_CLIENT_AUTH], pytest_args=["-q", "-k", "test_server_verify_mode or "
                                          "test_cert_required or test_handshake_bio"], installed_peers=False)
    assert code == 0
    statuses = _verdict(report, "no-client-auth")
    assert statuses[CORE] == "passed"
    assert statuses[tlsapi.Capability.CLIENT_AUTH.value] == "not declared"
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=NO_CLIENT_AUTH)
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        server.verify_mode = tlsapi.CERT_REQUIRED


# -- diagnostics: a backend over an engine whose verification codes differ from OpenSSL's ------------------

_UNKNOWN_ISSUER = (20, "unable to get local issuer certificate")


class Code20Connection(StdlibConnection):
    """Rejects exactly the chains OpenSSL rejects, but reports every one as "unknown issuer" (20)."""

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except ssl.SSLCertVerificationError as exc:
            exc.args = (exc.args[0], exc.args[1].replace(exc.verify_message, _UNKNOWN_ISSUER[1]))
            exc.verify_code, exc.verify_message = _UNKNOWN_ISSUER
            raise


class Code20Context(StdlibContext):
    sslobject_class = Code20Connection


class Code20ClaimingContext(Code20Context):
    """The same, declaring OpenSSL-identical diagnostics, which it does not have."""


def _code20_backend(context_class: type[StdlibContext], claims_diagnostics: bool) -> tlsapi.Backend:
    def capabilities() -> list[tlsapi.Capability]:
        return [c for c in _capabilities() if claims_diagnostics or c is not tlsapi.Capability.VERIFY_DIAGNOSTICS]

    name = "code20-claiming" if claims_diagnostics else "code20"
    backend = tlsapi.Backend(name, version="0", description="stdlib reporting 20 for every bad chain",
                             context_class=f"{__name__}:{context_class.__name__}", capabilities=capabilities)
    context_class.backend = backend
    return backend


CODE20 = _code20_backend(Code20Context, claims_diagnostics=False)
CODE20_CLAIMING = _code20_backend(Code20ClaimingContext, claims_diagnostics=True)


def test_different_diagnostics_reach_core_certification() -> None:
    """A complete run certifies the backend that reports 20 everywhere (it does not claim diagnostics)."""
    code, report = tlsapi_conformance.run([CODE20], pytest_args=["-q"], installed_peers=False)
    assert report is not None and code == 0, report and report.to_text()
    (verdict,) = report.backends
    assert verdict.verdict == "CERTIFIED" and CORE in verdict.certified_for
    assert _verdict(report, "code20")[DIAGNOSTICS] == "not declared"


def test_claimed_diagnostics_fail_per_case() -> None:
    """Claiming VERIFY_DIAGNOSTICS with other codes fails that capability only, case by case."""
    code, report = tlsapi_conformance.run([CODE20_CLAIMING], pytest_args=["-q", "-k", "test_bad_"],
                                          installed_peers=False)
    assert report is not None and code == 1
    (verdict,) = report.backends
    assert verdict.verdict == "NOT CERTIFIED"
    assert CORE in verdict.passed_capabilities and verdict.failed_capabilities == [DIAGNOSTICS]
    # Reported per case: exactly the chains whose OpenSSL code is not 20.
    differing = {name for name, case in BAD_CASES.items() if case.verify_code != _UNKNOWN_ISSUER[0]}
    assert differing and _failed_cases(report) == {
        *(f"test_bad_server_certificate_diagnostics[code20-claiming-{name}]" for name in differing),
        *(f"test_bad_client_certificate_diagnostics[code20-claiming-{name}]" for name in ("expired", "self-signed")),
    }


def test_overclaimed_capability_fails_that_capability() -> None:
    code, report = tlsapi_conformance.run([OVERCLAIMING], pytest_args=["-q", "-k", "test_exporter or test_alpn"],
                                          installed_peers=False)
    assert code == 1
    statuses = _verdict(report, "overclaiming")
    assert statuses["keying material exporter"] == "failed"
    assert statuses["ALPN"] == "passed"
    assert report is not None and report.backends[0].failed_capabilities == ["keying material exporter"]


def test_undeclared_capability_is_not_declared_not_failed() -> None:
    code, report = tlsapi_conformance.run([NO_ALPN], pytest_args=["-q", "-k", "test_alpn"], installed_peers=False)
    assert code == 0
    assert report is not None
    statuses = _verdict(report, "no-alpn")
    assert statuses["ALPN"] == "not declared"
    alpn = [r for r in report.results if "ALPN" in r.capabilities]
    assert alpn and {r.outcome for r in alpn} == {"not declared"}
    assert report.backends[0].verdict == "PARTIAL" and not report.backends[0].certified


def test_cli_module_spec_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI takes a module:attr spec and writes JSON, Markdown and HTML."""
    outputs = [tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.html"]
    args = ["broken_backend:HOSTNAME_BROKEN", "--no-peers", "-k", "wrong-host"]
    for path in outputs:
        args += ["--report", str(path)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "NOT CERTIFIED" in out and "core" in out
    data = json.loads(outputs[0].read_text())
    assert data["ok"] is False
    assert data["backends"][0]["failed_capabilities"] == [CORE, DIAGNOSTICS]
    assert "❌ **failed**" in outputs[1].read_text()
    assert outputs[2].read_text().startswith("<!doctype html>")


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-backend"]) == 2
    assert "no-such-backend" in capsys.readouterr().err
    assert main(["--list"]) == 0
    assert "stdlib" in capsys.readouterr().out


def _pytest_subprocess(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)


def test_plugin_is_inert_in_unrelated_runs(tmp_path: Path) -> None:
    """Loaded through the pytest11 entry point, the plugin imports neither tlsapi nor cryptography."""
    result = _pytest_subprocess(tmp_path, """
        import sys
        def test_nothing_imported():
            assert 'tlsapi_conformance.plugin' in sys.modules
            assert 'tlsapi_conformance.report' not in sys.modules
            assert 'tlsapi' not in sys.modules and 'cryptography' not in sys.modules
    """)
    assert result.returncode == 0, result.stdout
    assert "tlsapi conformance" not in result.stdout


def test_capability_marker_registered(tmp_path: Path) -> None:
    result = _pytest_subprocess(tmp_path, """
        import pytest
        @pytest.mark.capability("x")
        def test_marked():
            pass
    """, "--strict-markers")
    assert result.returncode == 0, result.stdout


def test_backend_objects_resolve() -> None:
    assert tlsapi_conformance.resolve_backend(HOSTNAME_BROKEN) is HOSTNAME_BROKEN
    assert tlsapi_conformance.resolve_backend("broken_backend:NO_ALPN") is NO_ALPN
    assert tlsapi_conformance.resolve_backend("stdlib") is tlsapi.get_backend("stdlib")
    with pytest.raises(TypeError):
        tlsapi_conformance.resolve_backend("sys:path")
    assert "broken_backend" in sys.modules



# -- honest verdicts and reports -------------------------------------------------------------------------------


def test_keyword_run_is_partial_never_certified(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stdlib", "--no-peers", "-k", "test_alpn"]) == 0
    out = capsys.readouterr().out
    assert "verdict: PARTIAL" in out and "verdict: CERTIFIED" not in out
    assert "stdlib PARTIAL; PARTIAL (" in out  # the summary line


def test_exitfirst_run_is_partial() -> None:
    code, report = tlsapi_conformance.run([IGNORES_CRL_FLAGS], pytest_args=["-q", "-x", "-k", "test_verify_flag"],
                                          installed_peers=False)
    assert code == 1 and report is not None
    assert "stopped early" in report.partial and "did not run" in report.partial
    (verdict,) = report.backends
    assert verdict.verdict == "NOT CERTIFIED" and not verdict.certified_for


def test_tables_and_verdicts_come_before_the_failures() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "tlsapi_conformance.cli", "broken_backend:IGNORES_CRL_FLAGS", "--no-peers", "-k",
         "test_verify_flag or test_handshake_bio"],
        capture_output=True, text=True, timeout=120, check=False, cwd=Path(__file__).parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )
    out = process.stdout
    assert process.returncode == 1, out
    verdict = out.index("verdict: NOT CERTIFIED")
    assert verdict < out.index("failures (2):") < out.index("= FAILURES =")  # pytest's tracebacks last
    assert out.index("capability") < verdict
    assert len(out[:verdict].splitlines()) < 50, "the table and verdict are on the first screen"


def test_legend_explains_every_cell() -> None:
    code, report = tlsapi_conformance.run([NO_SET_GROUPS], pytest_args=["-q", "-k", "interop and x25519"])
    assert report is not None and code == 0, report and report.to_text()
    text = report.to_text()
    legend = text[text.index("legend:"):]
    for word in ("declared", "passed", "FAILED", "not declared", "untested", "skipped", "not run", "ran",
                 "CERTIFIED", "PARTIAL", "NOT CERTIFIED", "6/6 n3", "FAIL", "-"):
        assert word in legend, word
    shown = {row.status for verdict in report.backends for row in verdict.capabilities}
    assert shown <= {"passed", "failed", "not declared", "untested", "skipped"}
    assert [name for name, _ in LEGEND] == ["declared", "status", "ran", "not run", "skipped", "matrix", "verdict"]


def test_group_credited_from_peers_that_force_it() -> None:
    """A backend without set_groups is certified for a group by negotiating it with installed peers that
    force it; its cells against itself cannot force anything and are not run."""
    code, report = tlsapi_conformance.run([NO_SET_GROUPS], pytest_args=["-q", "-k", "interop and x25519"])
    assert report is not None and code == 0
    row = _verdict(report, "no-set-groups")
    assert row["group x25519"] == "passed"
    credited = [r for r in report.results if r.backend == "no-set-groups" and "group x25519" in r.capabilities]
    peers = {r.interop["server"] if r.interop["client"] == "no-set-groups" else r.interop["client"]
             for r in credited if r.interop and r.outcome == "passed"}
    assert "stdlib" in peers
    own = [r for r in report.results if r.interop and r.interop["client"] == r.interop["server"] == "no-set-groups"]
    assert own and {r.outcome for r in own} == {"not declared"}


# -- installable for backend authors ------------------------------------------------------------------------


_WITHOUT_PYTEST = "import sys; sys.modules['pytest'] = None  # as if pytest were not installed\n"


@pytest.mark.parametrize(
    "entry",
    ["from tlsapi_conformance.cli import main; raise SystemExit(main(['stdlib', '--no-peers']))",
     "from tlsapi.cli import main; raise SystemExit(main(['conformance', 'stdlib']))"],
    ids=["tlsapi-conformance", "tlsapi conformance"],
)
def test_without_pytest_the_command_says_what_to_install(entry: str) -> None:
    process = subprocess.run([sys.executable, "-c", _WITHOUT_PYTEST + entry], capture_output=True, text=True,
                             timeout=60, check=False)
    assert process.returncode == 2, process.stderr
    assert 'pip install "tlsapi[conformance]"' in process.stderr
    assert "ModuleNotFoundError" not in process.stderr and "Traceback" not in process.stderr


def test_without_pytest_run_raises_a_helpful_import_error() -> None:
    code = _WITHOUT_PYTEST + textwrap.dedent("""
        import tlsapi_conformance
        try:
            tlsapi_conformance.run(['stdlib'])
        except ImportError as exc:
            assert isinstance(exc, tlsapi_conformance.MissingRequirementError) and exc.name == 'pytest'
            print(exc)
    """)
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert process.returncode == 0, process.stderr
    assert 'pip install "tlsapi[conformance]"' in process.stdout


def test_conformance_extra_brings_the_runner() -> None:
    """The ``conformance`` extra lists every module a run imports beyond tlsapi."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["conformance"]
    assert {requirement.split(">")[0].split("=")[0].lower() for requirement in extra} >= set(
        tlsapi_conformance.RUNNER_MODULES
    )


def test_declared_but_untested_is_named_in_the_verdict(tmp_path: Path) -> None:
    """A complete run where a declared capability had no case that could run: certified, but not for it,
    and the verdict says so (no set_groups, no peers, no openssl binary: nothing can force a group)."""
    report_path = tmp_path / "report.json"
    process = subprocess.run(
        [sys.executable, "-m", "tlsapi_conformance.cli", "broken_backend:NO_SET_GROUPS", "--no-peers", "--report",
         str(report_path)],
        capture_output=True, text=True, timeout=300, check=False, cwd=Path(__file__).parent,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent), "TLSAPI_CONFORMANCE_OPENSSL": ""},
    )
    assert process.returncode == 0, process.stdout[-3000:]
    (verdict,) = json.loads(report_path.read_text())["backends"]
    rows = {row["capability"]: row for row in verdict["capabilities"]}
    assert verdict["verdict"] == "CERTIFIED" and "group x25519" not in verdict["certified_for"]
    assert rows["group x25519"]["status"] == "untested" and rows["group x25519"]["declared"]
    assert "declared but not tested: group x25519, group secp256r1, group secp384r1" in process.stdout
