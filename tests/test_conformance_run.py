"""The full conformance run for every first-party backend that is installed (one subprocess each)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import tlsapi

FIRST_PARTY = ("stdlib", "pyopenssl", "native", "rustls")


def _installed() -> list[str]:
    names = {b.name for b in tlsapi.backends() if b.is_available()}
    return [name for name in FIRST_PARTY if name in names]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", _installed())
def test_backend_is_certified_for_all_it_declares(name: str, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    process = subprocess.run(
        [sys.executable, "-m", "tlsapi_conformance.cli", name, "--no-peers", "--report", str(report_path)],
        capture_output=True, text=True, timeout=280, check=False,
    )
    assert report_path.exists(), process.stdout[-5000:] + process.stderr[-5000:]
    report = json.loads(report_path.read_text())
    (verdict,) = report["backends"]
    rows = {row["capability"]: row for row in verdict["capabilities"]}
    failed = [cap for cap, row in rows.items() if row["status"] == "failed"]
    assert not failed, f"{name} fails {failed}:\n{process.stdout[-8000:]}"
    assert verdict["certified"], process.stdout[-8000:]
    tested = [cap for cap in verdict["declared"] if rows[cap]["passed"] or rows[cap]["failed"]]
    assert set(verdict["certified_for"]) == set(tested)
    if name == "stdlib":  # the reference: every capability it declares has tests, and all pass
        assert set(verdict["declared"]) == set(verdict["certified_for"])
    assert process.returncode == 0, process.stdout[-8000:]
