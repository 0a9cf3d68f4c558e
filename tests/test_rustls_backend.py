"""The rustls backend over real loopback sockets against the stdlib's ``ssl`` as the independent peer.

What rustls does not do by itself and the adapter adds (the SNI callback and the stdlib's ALPN rule through
the ClientHello peek, close_notify told apart from "no data yet", the stdlib's error values), what it refuses
honestly (client-certificate requests, sessions, channel binding), and its extension, Encrypted Client Hello.
"""

from __future__ import annotations

import importlib.metadata
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.ech import ech_config_list
from tlsapi_conformance.harness import ThreadedServer, recv_exactly, tls_client
from tlsapi_conformance.pki import PKI

RUSTLS = tlsapi.get_backend("rustls") if "rustls" in {b.name for b in tlsapi.backends()} else None
pytestmark = pytest.mark.skipif(
    RUSTLS is None or not RUSTLS.is_available(),
    reason=f"rustls backend unavailable: {RUSTLS.unavailable_reason if RUSTLS else 'not installed'}",
)


def _server(pki: PKI, leaf: str = "ecdsa-p256") -> Any:
    context = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="rustls")
    context.load_cert_chain(pki[leaf].certfile)
    return context


def _stdlib_client(pki: PKI) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    return context


def test_server_refuses_to_request_client_certificates(pki: PKI) -> None:
    context = _server(pki)
    for mode in (ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED):
        with pytest.raises(tlsapi.UnsupportedFeatureError, match="client certificates"):
            context.verify_mode = mode
        assert context.verify_mode == ssl.CERT_NONE


def test_sessions_and_channel_binding_are_refused(pki: PKI) -> None:
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="rustls")
    connection = client.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_hostname="localhost")
    assert connection.session is None and connection.session_reused is False
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        connection.session = object()
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        client.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_hostname="localhost", session=object())
    with pytest.raises(ValueError, match="not implemented"):
        connection.get_channel_binding("tls-exporter-bogus")
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        connection.get_channel_binding("tls-unique")


def test_sni_callback_switches_certificate_for_a_stdlib_client(pki: PKI) -> None:
    """rustls has no servername hook: the peeked name runs the callback, which serves another certificate."""
    seen: list[str | None] = []
    alternate = _server(pki, "alternate")
    server = _server(pki)

    def callback(connection: Any, name: str | None, context: Any) -> None:
        seen.append(name)
        connection.context = alternate

    server.sni_callback = callback
    with ThreadedServer(lambda tls: tls.sendall(b"ok"), server) as listener:
        with tls_client(listener, _stdlib_client(pki), server_hostname="alternate.example") as tls:
            assert recv_exactly(tls, 2) == b"ok"
            assert tls.getpeercert(binary_form=True) == pki["alternate"].der
        listener.result()
    assert seen == ["alternate.example"]


def test_sni_callback_alert_reaches_a_stdlib_client(pki: PKI) -> None:
    """The callback's alert goes out before rustls sees the hello (over memory BIOs: the socket layer's
    flushing of a final alert is another issue's)."""
    server = _server(pki)
    server.sni_callback = lambda connection, name, context: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    to_server, to_client = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    client = _stdlib_client(pki).wrap_bio(to_client, to_server, server_hostname="localhost")
    conn = server.wrap_bio(to_server, to_client, server_side=True)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    with pytest.raises(ssl.SSLError) as server_error:
        conn.do_handshake()
    assert server_error.value.reason == "CALLBACK_FAILED"
    with pytest.raises(ssl.SSLError) as client_error:
        client.do_handshake()
    assert client_error.value.reason == "TLSV1_UNRECOGNIZED_NAME"


def test_alpn_without_overlap_completes_as_the_stdlib_does(pki: PKI) -> None:
    """rustls alone would send no_application_protocol; the stdlib's server goes on without ALPN."""
    server = _server(pki)
    server.set_alpn_protocols(["h2"])
    client = _stdlib_client(pki)
    client.set_alpn_protocols(["http/1.1"])
    with ThreadedServer(lambda tls: (tls.sendall(b"ok"), tls.selected_alpn_protocol())[1], server) as listener:
        with tls_client(listener, client) as tls:
            assert recv_exactly(tls, 2) == b"ok"
            assert tls.selected_alpn_protocol() is None
        assert listener.result() is None


def test_close_notify_is_told_apart_from_no_data(pki: PKI) -> None:
    """Before the stdlib peer's close_notify ``read`` wants more; after it, ``read`` returns ``b""``."""
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="rustls")
    client.load_verify_locations(cafile=pki.ca_file)

    def handler(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"x")
        recv_exactly(tls, 1)
        tls.unwrap()

    stdlib_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    stdlib_server.load_cert_chain(pki.leaf().certfile)
    with ThreadedServer(handler, stdlib_server) as listener:
        raw = listener.connect()
        incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
        conn = client.wrap_bio(incoming, outgoing, server_hostname="localhost")
        data = _drive(conn, raw, incoming, outgoing, lambda: conn.read(10))
        assert data == b"x"
        with pytest.raises(ssl.SSLWantReadError) as want:
            conn.read(10)  # nothing received yet: not an end of stream
        assert want.value.errno == ssl.SSL_ERROR_WANT_READ
        conn.write(b"y")
        raw.sendall(outgoing.read())
        assert _drive(conn, raw, incoming, outgoing, lambda: conn.read(10)) == b""
        conn.unwrap()  # the peer's close_notify is in: ours goes out and unwrap completes at once
        raw.sendall(outgoing.read())
        raw.close()
        listener.result()


def _drive(conn: Any, raw: Any, incoming: Any, outgoing: Any, operation: Any) -> Any:
    """Run ``operation`` over the socket, feeding ``incoming`` until it stops wanting to read."""
    while True:
        try:
            return operation()
        except ssl.SSLWantReadError:
            raw.sendall(outgoing.read())
            data = raw.recv(65536)
            if data:
                incoming.write(data)
            else:
                incoming.write_eof()
        finally:
            pending = outgoing.read()
            if pending:
                raw.sendall(pending)


def test_ragged_eof_from_a_stdlib_peer(pki: PKI) -> None:
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="rustls")
    client.load_verify_locations(cafile=pki.ca_file)
    stdlib_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    stdlib_server.load_cert_chain(pki.leaf().certfile)
    with ThreadedServer(lambda tls: tls.sendall(b"x"), stdlib_server) as listener:
        with tls_client(listener, client, suppress_ragged_eofs=False) as tls:
            assert recv_exactly(tls, 1) == b"x"
            listener.result()  # the server closed its socket without close_notify
            with pytest.raises(ssl.SSLEOFError) as info:
                tls.recv(10)
            assert info.value.reason == "UNEXPECTED_EOF_WHILE_READING"


@pytest.mark.skipif(RUSTLS is not None and tlsapi.Capability.ECH not in RUSTLS.capabilities(),
                    reason="rtls built without aws-lc-rs has no ECH")
def test_ech_status_reports_the_offer() -> None:
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="rustls")
    plain = client.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_hostname="secret.example")
    client.set_ech_configs(ech_config_list("public.example"))
    offered = client.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_hostname="secret.example")
    assert plain.ech_status() is tlsapi.ECHStatus.NOT_OFFERED  # made before the configs: keeps its configuration
    assert offered.ech_status() is tlsapi.ECHStatus.OFFERED
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="rustls")
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        server.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_side=True).ech_status()


def test_an_untested_rtls_makes_the_backend_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import tlsapi_rustls._backend as backend_module

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2027.1.0")
    with pytest.raises(ImportError, match="outside the tested range"):
        backend_module._check_rtls_version()


def test_client_without_versions_sends_only_the_alert(pki: PKI) -> None:
    """As OpenSSL's client: no ClientHello, only a protocol_version alert."""
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="rustls")
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    outgoing = tlsapi.MemoryBIO()
    conn = client.wrap_bio(tlsapi.MemoryBIO(), outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLError) as info:
        conn.do_handshake()
    assert info.value.reason == "NO_PROTOCOLS_AVAILABLE"
    assert outgoing.read() == b"\x15\x03\x03\x00\x02\x02\x46"


def test_server_without_versions_answers_protocol_version(pki: PKI) -> None:
    server = _server(pki)
    server.options |= ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3
    to_server, to_client = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    client = _stdlib_client(pki).wrap_bio(to_client, to_server, server_hostname="localhost")
    conn = server.wrap_bio(to_server, to_client, server_side=True)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    with pytest.raises(ssl.SSLError) as server_error:
        conn.do_handshake()
    assert server_error.value.reason == "NO_PROTOCOLS_AVAILABLE"
    with pytest.raises(ssl.SSLError) as client_error:
        client.do_handshake()
    assert client_error.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.parametrize("flag", [ssl.VERIFY_X509_STRICT, ssl.VERIFY_X509_PARTIAL_CHAIN])
def test_openssl_verify_modes_are_refused(flag: ssl.VerifyFlags) -> None:
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="rustls")
    before = client.verify_flags
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        client.verify_flags = before | flag
    assert client.verify_flags == before
    client.verify_flags = ssl.VERIFY_DEFAULT  # what webpki does anyway is accepted


def test_without_rtls_the_backend_reports_why() -> None:
    """An interpreter without rtls (no wheel for it): listed, unavailable with the reason, named in the test
    report header and by ``tlsapi-conformance --list``, and refused with that reason when selected."""
    script = (
        "import sys; sys.modules['rtls'] = None  # what a missing wheel looks like\n"
        "import tlsapi, conftest\n"
        "from tlsapi_conformance.cli import main\n"
        "backend = next(b for b in tlsapi.backends() if b.name == 'rustls')\n"
        "print('available', backend.is_available())\n"
        "print('header', conftest.pytest_report_header())\n"
        "main(['--list'])\n"
        "try:\n"
        "    tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend='rustls')\n"
        "except tlsapi.BackendUnavailableError as exc:\n"
        "    print('refused', exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parent, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "available False" in out
    assert "tlsapi backend rustls skipped: unavailable: cannot import rtls._rustls" in out
    assert "rustls rtls" in out and "(unavailable: cannot import rtls._rustls" in out
    assert "refused tlsapi backend 'rustls' is unavailable: cannot import rtls._rustls" in out
