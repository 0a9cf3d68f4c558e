"""The ``tlsapi`` command: ``connect`` against a local server, over every backend."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

import tlsapi
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
    status = main(["connect", f"127.0.0.1:{server}", "--backend", backend.name, "--cafile", str(pki.ca_file),
                   "--servername", "localhost", "--alpn", "h2", "http/1.1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"backend:  {backend.name}" in out
    assert "version:  TLSv1." in out and "alpn:     h2" in out
    assert "chain[0]: subject:" in out and "chain[1]: subject:" in out  # leaf and intermediate
    assert "verification: ok" in out


def test_connect_reports_verification_failure(
    backend: tlsapi.Backend, server: int, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    status = main(["connect", f"127.0.0.1:{server}", "--backend", backend.name, "--servername", "localhost"])
    out = capsys.readouterr().out
    assert status == 1
    assert "verification: failed: unable to get local issuer certificate (code 20)" in out


def test_connect_rejects_bad_address_and_backend(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["connect", "no-port"])
    assert main(["connect", "127.0.0.1:1", "--backend", "no-such-backend"]) == 2
    assert "no-such-backend" in capsys.readouterr().err


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
    with pytest.raises(ValueError):
        tlsapi.get_server_certificate(address, ssl.PROTOCOL_TLSv1_2, backend=backend.name)  # legacy protocol
