"""The ``tlsapi`` command: ``connect`` against a local server over every backend, ``backends``, exit statuses."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tlsapi
from tlsapi import _registry
from tlsapi.cli import main
from tlsapi_conformance.pki import PKI


@pytest.fixture
def server(pki: PKI) -> Iterator[int]:
    """A stdlib TLS server on 127.0.0.1 that accepts connections until the test ends."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.leaf().certfile)
    context.set_alpn_protocols(["h2", "http/1.1"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(raw, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_connect_describes_the_connection(
    backend: tlsapi.Backend, pki: PKI, server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["connect", "--alpn", "h2,http/1.1", "--backend", backend.name, f"127.0.0.1:{server}",
                   "--cafile", str(pki.ca_file), "--servername", "localhost"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert captured.err == ""
    out = captured.out
    assert f"backend:  {backend.name}" in out
    assert "version:  TLSv1." in out and "alpn:     h2" in out
    assert "chain[0]: subject:" in out and "chain[1]: subject:" in out  # leaf and intermediate
    assert "verification: ok" in out


def test_connect_alpn_list_order_and_repetition(server: int, pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["connect", f"127.0.0.1:{server}", "--alpn", "http/1.1", "--alpn", "h2",
                   "--cafile", str(pki.ca_file), "--servername", "localhost"])
    assert status == 0
    assert "alpn:     h2" in capsys.readouterr().out  # the server prefers h2 among those offered


def test_connect_reports_verification_failure_on_stderr(
    backend: tlsapi.Backend, server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["connect", f"127.0.0.1:{server}", "--backend", backend.name, "--servername", "localhost"])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert "verification failed: unable to get local issuer certificate (code 20)" in captured.err


def test_connect_exit_statuses(pki: PKI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connect", "no-port"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
    assert main(["connect", "127.0.0.1:1", "--backend", "no-such-backend"]) == 3
    assert "no-such-backend" in capsys.readouterr().err
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    assert main(["connect", f"127.0.0.1:{port}", "--timeout", "5"]) == 4  # nothing listens there now
    captured = capsys.readouterr()
    assert captured.out == "" and "cannot connect to 127.0.0.1" in captured.err
    with socket.create_server(("127.0.0.1", 0)) as plain:
        def answer_in_plain_http() -> None:
            raw, _ = plain.accept()
            with raw:
                raw.recv(4096)
                raw.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)

        thread = threading.Thread(target=answer_in_plain_http)
        thread.start()
        assert main(["connect", f"127.0.0.1:{plain.getsockname()[1]}", "--timeout", "5"]) == 5
        thread.join(5)
    captured = capsys.readouterr()
    assert captured.out == "" and "TLS error" in captured.err


def test_closed_stdout_exits_quietly(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes anything
    try:
        result = subprocess.run([sys.executable, "-m", "tlsapi", "backends"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


def test_version_and_help_match_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"tlsapi {tlsapi.__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    for command in ("backends", "connect", "run", "conformance"):
        assert f"    {command}" in help_text
    assert "bench" not in help_text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "tlsapi run [--backend NAME] (SCRIPT | -m MODULE)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["connect", "--help"])
    assert "comma-separated" in capsys.readouterr().out


@pytest.fixture
def clean_selection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TLSAPI_BACKEND", raising=False)
    monkeypatch.delenv("TLSAPI_INJECT", raising=False)
    monkeypatch.delenv("TLSAPI_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))


def _selected_line(out: str) -> str:
    marked = [line for line in out.splitlines() if line.startswith("*")]
    assert len(marked) == 1, out
    return marked[0]


@pytest.mark.usefixtures("clean_selection")
def test_backends_marks_the_selection_and_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    assert _selected_line(out).startswith("* stdlib") and "selected by the built-in default" in out
    assert "capabilities:" in out and "TLS 1.3" in out
    config = tmp_path / "config.toml"
    config.write_text('backend = "pyopenssl"\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    assert main(["backends"]) == 0
    line = _selected_line(capsys.readouterr().out)
    assert line.startswith("* pyopenssl") and f"selected by config file {str(config)!r}" in line
    monkeypatch.setenv("TLSAPI_BACKEND", "Native")
    assert main(["backends"]) == 0
    assert _selected_line(capsys.readouterr().out).endswith("selected by TLSAPI_BACKEND")
    assert main(["backends", "--backend", "stdlib"]) == 0
    assert "selected by the backend= argument" in _selected_line(capsys.readouterr().out)


@pytest.mark.usefixtures("clean_selection")
def test_backends_warns_about_a_broken_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TLSAPI_BACKEND", "nope")
    assert main(["backends"]) == 3
    captured = capsys.readouterr()
    assert "stdlib" in captured.out and "*" not in captured.out
    assert "warning" in captured.err and "'nope'" in captured.err and "TLSAPI_BACKEND" in captured.err
    monkeypatch.delenv("TLSAPI_BACKEND")
    config = tmp_path / "config.toml"
    config.write_text('backnd = "native"\n')
    monkeypatch.setenv("TLSAPI_CONFIG", str(config))
    assert main(["backends"]) == 3
    assert "unknown key 'backnd'" in capsys.readouterr().err
    monkeypatch.delenv("TLSAPI_CONFIG")
    monkeypatch.setenv("TLSAPI_INJECT", "Native")
    assert main(["backends"]) == 0
    assert "TLSAPI_INJECT: Python programs start with native injected into ssl" in capsys.readouterr().out
    monkeypatch.setenv("TLSAPI_INJECT", "nope")
    assert main(["backends"]) == 3
    assert "will not start" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_selection")
def test_backends_lists_unavailable_ones_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.metadata

    missing_dependency = tlsapi.Backend(
        "needs-more", version="1", description="requires a module that is not installed",
        context_class="tlsapi_stdlib._backend:StdlibContext", capabilities=[], requires=["tlsapi_no_such_dep"],
    )
    installed = _registry.backends()
    monkeypatch.setattr(_registry, "backends", lambda: [*installed, missing_dependency])
    points = dict(_registry._entry_points())
    points["exploding"] = importlib.metadata.EntryPoint(
        "exploding", "tlsapi_no_such_module:BACKEND", _registry.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(_registry, "_entry_points", lambda: points)
    try:
        assert main(["backends"]) == 0
    finally:
        _registry._load.cache_clear()
    out = capsys.readouterr().out
    assert "needs-more  1  [unavailable: cannot import tlsapi_no_such_dep: ModuleNotFoundError" in out
    assert "exploding  [unavailable: tlsapi backend 'exploding' failed to load: ModuleNotFoundError" in out


def test_get_server_certificate(backend: tlsapi.Backend, pki: PKI, server: int) -> None:
    """The server's certificate as PEM: unverified by default, verified (no hostname check) with ca_certs."""
    address = ("127.0.0.1", server)
    pem = tlsapi.get_server_certificate(address, backend=backend.name)
    assert tlsapi.PEM_cert_to_DER_cert(pem) == pki.leaf().der
    verified = tlsapi.get_server_certificate(address, ca_certs=str(pki.ca_file), backend=backend.name)
    assert verified == pem
    with pytest.raises(tlsapi.SSLCertVerificationError) as info:
        tlsapi.get_server_certificate(address, ca_certs=str(pki.untrusted_root.leaf_file), backend=backend.name)
    assert info.value.verify_code == 20
    with pytest.warns(DeprecationWarning, match="PROTOCOL_TLSv1_2"):  # a legacy protocol, as in ssl
        assert tlsapi.get_server_certificate(address, ssl.PROTOCOL_TLSv1_2, backend=backend.name) == pem
    with pytest.raises(tlsapi.UnsupportedFeatureError), pytest.warns(DeprecationWarning):
        tlsapi.get_server_certificate(address, ssl.PROTOCOL_TLSv1_1, backend=backend.name)  # TLS 1.1: refused
