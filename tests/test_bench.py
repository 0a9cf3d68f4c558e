"""The benchmark harness runs end to end (tiny durations; no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.__main__ import main


def test_quick_run_writes_every_series(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    status = main(["--quick", "--duration", "0.01", "--rounds", "1", "--megabytes", "1", "--json", str(report)])
    assert status == 0
    data = json.loads(report.read_text())
    cases = {series["case"] for series in data["series"]}
    assert "full handshake, ecdsa-p256 leaf, x25519 (BIO)" in cases
    assert "bulk one way, 16 KiB writes, AES-256-GCM, TLSSocket client (loopback, per client CPU second)" in cases
    for series in data["series"]:
        assert series["rates"] and series["median"] > 0, series
        if series["backend"] != "stdlib":
            assert series["ratio_to_stdlib"] is not None and series["ratio_to_stdlib"] > 0, series
    for name in data["backends"]:
        assert data["memory"][name]["resident_retained"] >= 0
