"""The conformance suite's wire cases refuse to certify a backend that drops its fatal alerts or takes the
bytes after a close_notify, although every memory-BIO case passes for both (``broken_backend.py``)."""

from __future__ import annotations

from broken_backend import ALERT_DROPPING, TRAILING_SWALLOWING

import tlsapi_conformance
from tlsapi_conformance.report import Report


def _failed(report: Report | None) -> set[str]:
    assert report is not None
    return {r.nodeid.split("::")[-1] for r in report.failures()}


def test_dropped_alert_is_not_certified() -> None:
    code, report = tlsapi_conformance.run(
        [ALERT_DROPPING], pytest_args=["-q", "-k", "test_alert_reaches or test_handshake_bio"], installed_peers=False
    )
    assert code == 1
    assert report is not None
    assert any(r.outcome == "passed" for r in report.results), "the BIO-level handshake cases pass"
    (verdict,) = report.backends
    assert not verdict.certified
    assert set(verdict.failed_capabilities) == {"TLS 1.2", "TLS 1.3"}
    assert _failed(report) == {
        f"test_alert_reaches_peer_{kind}[drops-alert-{version}]"
        for kind in ("socket", "pump") for version in ("TLSv1.2", "TLSv1.3")
    }


def test_swallowed_trailing_bytes_are_not_certified() -> None:
    code, report = tlsapi_conformance.run(
        [TRAILING_SWALLOWING], pytest_args=["-q", "-k", "test_wire or test_unwrap_bio"], installed_peers=False
    )
    assert code == 1
    assert report is not None
    assert any(r.outcome == "passed" for r in report.results), "the BIO-level unwrap cases pass"
    (verdict,) = report.backends
    assert not verdict.certified
    assert _failed(report) == {
        f"test_unwrap_trailing_bytes_pump[swallows-trailing-{version}]" for version in ("TLSv1.2", "TLSv1.3")
    }
