"""The conformance suite can fail: deliberately broken backends are reported as failing the right
capability, undeclared capabilities are "not declared" (not failures), and the reports render."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from broken_backend import HOSTNAME_BROKEN, NO_ALPN, OVERCLAIMING

import tlsapi
import tlsapi_conformance
from tlsapi_conformance.cli import main
from tlsapi_conformance.report import Report


def _verdict(report: Report | None, name: str) -> dict[str, str]:
    assert report is not None
    (verdict,) = [b for b in report.backends if b.name == name]
    return {row.capability: row.status for row in verdict.capabilities}


def test_missing_hostname_check_fails_core() -> None:
    code, report = tlsapi_conformance.run(
        [HOSTNAME_BROKEN], pytest_args=["-q", "-k", "test_verify or test_handshake_bio"], installed_peers=False
    )
    assert code == 1
    statuses = _verdict(report, "broken-hostname")
    assert statuses["core"] == "failed"
    assert statuses["TLS 1.3"] == "passed" and statuses["TLS 1.2"] == "passed"
    assert report is not None and not report.ok
    (verdict,) = report.backends
    assert not verdict.certified and verdict.failed_capabilities == ["core"]
    failed = {r.nodeid.split("::")[-1] for r in report.failures()}
    assert failed == {
        "test_bad_server_certificate[broken-hostname-wrong-host]",
        "test_bad_server_certificate[broken-hostname-wrong-ip]",
        "test_bad_server_certificate[broken-hostname-wrong-ipv6]",
        "test_bad_server_certificate_socket[broken-hostname-wrong-host]",
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
    assert report.backends[0].certified


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
    assert data["backends"][0]["failed_capabilities"] == ["core"]
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
