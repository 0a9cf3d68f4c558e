"""The benchmark harness runs end to end (tiny durations; no timing is asserted)."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

import pytest

import tlsapi
from bench.__main__ import FULL_CASE, main


def test_quick_run_writes_every_series(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    status = main(["--quick", "--duration", "0.01", "--rounds", "1", "--megabytes", "1", "--json", str(report)])
    assert status == 0
    data = json.loads(report.read_text())
    cases = {series["case"] for series in data["series"]}
    assert "full handshake, ecdsa-p256 leaf, x25519 (BIO)" in cases
    assert "full handshake, ecdsa-p256 leaf, each backend's default groups (BIO)" in cases
    assert "bulk one way, 16 KiB writes, AES-256-GCM, TLSSocket client (loopback, per client CPU second)" in cases
    # ssl cannot select TLS 1.3 suites: where the stdlib runs ChaCha20-Poly1305 over TLS 1.2, native does too
    chacha_case = "bulk one way, 16 KiB writes, ChaCha20-Poly1305 (BIO)"
    chacha = {series["variant"] for series in data["series"] if series["case"] == chacha_case}
    assert {"stdlib (TLS 1.2)", "native", "native (TLS 1.2, as stdlib)"} <= chacha
    for series in data["series"]:
        assert series["rates"] and series["median"] > 0, series
        if series["backend"] != "stdlib":
            assert series["ratio_to_stdlib"] is not None and series["ratio_to_stdlib"] > 0, series
    for name in data["backends"]:
        if name != "ssl":  # plain ssl is measured for the stdlib backend's overhead, not for memory
            assert data["memory"][name]["resident_retained"] >= 0
    assert "ssl" in data["backends"]
    assert data["stdlib_overhead"][FULL_CASE] < 1  # a fraction, measured for the handshake case
    if "rustls" in data["backends"]:  # the adapter's cost: rtls measured without it, handshake and bulk
        direct = {(s["case"], s["variant"]) for s in data["series"] if s["variant"].startswith("rtls")}
        assert {variant for _, variant in direct} == {"rtls's own wrap_bio (no adapter)", "rtls engine pumped by hand"}
        assert len(direct) == 4


def test_socket_overhead_tool_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import sockets

    assert sockets.main(["--megabytes", "1", "--rounds", "2", "--pki", str(tmp_path)]) == 0
    assert "TLSSocket / pump" in capsys.readouterr().out
    assert sockets.main(["--only", "socket", "--units", "1", "--megabytes", "1", "--pki", str(tmp_path)]) == 0
    for client in ("connect", "request"):  # the small-request cases against their request server process
        for backend in ("stdlib", "ssl"):
            assert sockets.main(["--only", client, "--units", "1", "--backend", backend, "--pki", str(tmp_path)]) == 0


def test_instruction_count_workload_runs(tmp_path: Path) -> None:
    from bench import instructions

    for case in instructions.BIO_CASES:  # the counted process's work (valgrind itself is not run here)
        for backend in ("native", "stdlib", "ssl"):
            assert instructions.main(["--run", case, "--units", "1", "--pki", str(tmp_path),
                                      "--backend", backend]) == 0


@pytest.mark.parametrize("grease", [True, False])
def test_handshake_targets_tool_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, grease: bool
) -> None:
    """Every target is printed; ``--no-ech-grease`` turns GREASE ECH off on the native clients it measures."""
    from bench import cases, targets

    made: list[ssl.SSLContext] = []

    def contexts(*args: Any, **kwargs: Any) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        pair = real_contexts(*args, **kwargs)
        made.append(pair[0])
        return pair

    real_contexts = cases.contexts
    monkeypatch.setattr(cases, "contexts", contexts)
    flags = [] if grease else ["--no-ech-grease"]
    assert targets.main(["--rounds", "2", "--handshakes", "1", "--pki", str(tmp_path), *flags]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  native")[0].strip() for line in lines] == list(targets.TARGETS)
    native_clients = [context for context in made if isinstance(context, tlsapi.Context)
                      and context.backend.name == "native"]
    assert len(native_clients) == len(targets.TARGETS)
    assert all(client.ech_grease is grease for client in native_clients)  # type: ignore[attr-defined]


def test_server_load_tool_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import server

    report = tmp_path / "server.json"
    assert server.main(["--backends", "native", "--duration", "0.2", "--rounds", "1", "--concurrency", "2",
                        "--requests", "3", "--pki", str(tmp_path), "--json", str(report)]) == 0
    results = {(r["server"], r["load"]): r for r in json.loads(report.read_text())}
    assert set(results) == {(name, load) for name in ("ssl", "native") for load in server.LOADS}
    for result in results.values():  # every server answered requests under both loads
        assert result["rates"][0] > 0 and result["latencies"], result
    assert "keepalive" in capsys.readouterr().out


def test_context_creation_tool_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import contexts

    assert contexts.main(["--backends", "native", "--duration", "0.05", "--rounds", "1"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert {(row[-4], row[-2]) for row in rows if row[-4] == "ssl"} == {("ssl", "1.00x")}
    assert len(rows) == 2 * len(contexts.CASES)


def test_record_cost_tool_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import records

    assert records.main(["--rounds", "2", "--megabytes", "1", "--suites", "ChaCha20-Poly1305"]) == 0
    out = capsys.readouterr().out
    for series in ("stdlib (TLS 1.2)", "native ", "native (TLS 1.2)", "native record layer",
                   "native ops, no engine", "AEAD alone"):
        assert series in out


def test_profile_tool_splits_primitives_from_python(tmp_path: Path) -> None:
    """cProfile mode runs and reports a split; a py-spy raw profile is split by the frames on each stack, and
    samples outside the handshake loop (start-up) are not counted."""
    from bench import profile

    report = profile.profile("resumed", 2, tmp_path, 3)
    assert "crypto primitives" in report and report.count(" %  ") == 3
    raw = tmp_path / "raw.txt"
    loop = "<module> (bench/profile.py:1);work (bench/cases.py:128)"
    raw.write_text("\n".join([
        f"{loop};X25519PrivateKey.generate (x25519.py:77);generate_x25519 (cryptography/_rust.abi3.so) 3",
        f"{loop};Transcript.update (tlsapi_native/_keyschedule.py:84);EVP_DigestUpdate (_hashlib.so) 1",
        f"{loop};NativeConnection._dispatch (tlsapi_native/_connection.py:245) 4",
        "<module> (bench/profile.py:1);import (x.py:1);PEM_read (libcrypto.so.3) 50",
    ]))
    split = profile.split_py_spy(raw, 5)
    assert "8 samples" in split and "crypto primitives 50.0 %, Python 50.0 %" in split
    assert "37.5 %  X25519PrivateKey.generate" in split and "12.5 %  Transcript.update" in split


def test_instruction_count_failure_reports_its_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A counted process that fails under callgrind is reported with its own output (not valgrind's lines),
    and the cases that worked still print their counts. (valgrind's output is stood in for here.)"""
    import subprocess

    from bench import instructions

    def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if "wantread" in command:
            stderr = ("==7== Callgrind, a call-graph generating cache profiler\nTraceback (most recent call last):\n"
                      "  File \"bench/cases.py\", line 1, in work\nRuntimeError: a read with nothing received returned"
                      " data\n==7== \n")
            return subprocess.CompletedProcess(command, 1, "", stderr)
        units = int(command[command.index("--units") + 1])
        return subprocess.CompletedProcess(command, 0, "", f"==7== Collected : {1000 + 500 * units}\n")

    monkeypatch.setattr(instructions.subprocess, "run", run)
    status = instructions.main(["wantread", "full", "--units", "2", "--backend", "ssl", "--pki", str(tmp_path)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "ssl wantread (2 units) under callgrind exited 1" in err
    assert "RuntimeError: a read with nothing received returned data" in err and "==7==" not in err
    assert "full" in out and "0.0005 M instructions per unit" in out and "wantread" not in out
