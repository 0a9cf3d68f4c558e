"""On the wire, against the stdlib's ``ssl`` as the peer: alerts received, ``select()`` readiness, no byte lost
or doubled, trailing bytes after close_notify.

Each case runs the backend's ``TLSSocket`` and, where the Connection alone decides, the backend's Connection
driven by a hand pump over a real socket: a backend whose Connection drops the alert it should send, or takes
the bytes behind a close_notify, fails here even though every BIO-level case passes.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import ssl
import threading

import pytest

import tlsapi
from tlsapi_conformance.harness import VERSIONS, ThreadedServer, client_context, server_context
from tlsapi_conformance.pki import PKI
from tlsapi_conformance.wire import TIMEOUT, HandPump, exchange_non_blocking

BULK = 4 * 1024 * 1024


def _stdlib_server(pki: PKI, version: ssl.TLSVersion, leaf: str = "ecdsa-p256") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki[leaf].certfile)
    context.minimum_version = context.maximum_version = version
    return context


def _stdlib_client(pki: PKI, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.ca_file)
    context.minimum_version = context.maximum_version = version
    return context


def _refusing_stdlib_server(pki: PKI, version: ssl.TLSVersion) -> ThreadedServer:
    """A stdlib server whose chain the client cannot verify; ``result()`` is the error its handshake raised."""
    context = _stdlib_server(pki, version, leaf="untrusted-root")

    def serve(raw: socket.socket) -> BaseException:
        with pytest.raises(ssl.SSLError) as failure:
            context.wrap_socket(raw, server_side=True)
        return failure.value

    return ThreadedServer(serve)


# -- the alert a failing handshake sends ------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_alert_reaches_peer_socket(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """The backend's ``TLSSocket`` client rejects the chain; the stdlib server receives unknown_ca."""
    with _refusing_stdlib_server(pki, version) as server, server.connect() as raw:
        client = client_context(backend, pki, version=version)
        with client.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLCertVerificationError):
                tls.do_handshake()
            received = server.result()  # before the close, which would reset with unread bytes
    assert received.reason == "TLSV1_ALERT_UNKNOWN_CA", received


@pytest.mark.parametrize("version", VERSIONS)
def test_alert_reaches_peer_pump(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """The backend's Connection, pumped by hand: the unknown_ca alert it writes reaches the stdlib server."""
    with _refusing_stdlib_server(pki, version) as server, server.connect() as raw:
        pump = HandPump(raw, client_context(backend, pki, version=version), server_side=False)
        with pytest.raises(ssl.SSLCertVerificationError):
            pump.run(pump.tls.do_handshake)
        received = server.result()
    assert received.reason == "TLSV1_ALERT_UNKNOWN_CA", received


@pytest.mark.capability(tlsapi.Capability.CLIENT_AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_server_alert_reaches_peer_socket(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """The backend's server requires a certificate the stdlib client does not send; the client gets the alert."""
    server_ctx = server_context(backend, pki, version=version, verify_mode=ssl.CERT_REQUIRED)
    received_it = threading.Event()

    def serve(raw: socket.socket) -> None:
        with server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            with pytest.raises(ssl.SSLError):
                tls.do_handshake()
            received_it.wait(TIMEOUT)

    with ThreadedServer(serve) as server, server.connect() as raw:
        with _stdlib_client(pki, version).wrap_socket(
            raw, server_hostname="localhost", do_handshake_on_connect=False
        ) as tls:
            with pytest.raises(ssl.SSLError) as received:
                tls.do_handshake()
                tls.recv(1)  # TLS 1.3: the alert follows the client's Finished
            received_it.set()
        server.result()
    expected = "CERTIFICATE_REQUIRED" if version == ssl.TLSVersion.TLSv1_3 else "HANDSHAKE_FAILURE"
    assert expected in received.value.reason


# -- select() sees what ssl's select() sees ------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_select_sees_next_record(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """Two records in one segment: once the first is read, ``select()`` reports the second (no read-ahead)."""
    looked = threading.Event()
    server_ctx = _stdlib_server(pki, version)

    def serve(raw: socket.socket) -> None:
        pump = HandPump(raw, server_ctx, server_side=True)
        pump.run(pump.tls.do_handshake)
        assert pump.run(lambda: pump.tls.read(100)) == b"go"
        pump.tls.write(b"first")
        pump.tls.write(b"second")
        pump.flush()
        looked.wait()  # an EOF would make the socket readable as well

    with ThreadedServer(serve) as server, server.connect() as raw:
        with client_context(backend, pki, version=version).wrap_socket(raw, server_hostname="localhost") as tls:
            try:
                tls.sendall(b"go")
                assert tls.recv(100) == b"first"
                readable, _, _ = select.select([tls], [], [], TIMEOUT)
            finally:
                looked.set()
            assert readable == [tls], "the second record was taken from the kernel with the first"
            assert tls.recv(100) == b"second"
        server.result()


# -- no byte lost or doubled --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_non_blocking_exchange_byte_exact(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """Non-blocking, both ends write before reading and retry want-writes with the same data: byte-exact."""
    ours, theirs = os.urandom(BULK), os.urandom(BULK)
    server_ctx = _stdlib_server(pki, version)

    def serve(raw: socket.socket) -> str:
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            return hashlib.sha256(exchange_non_blocking(tls, theirs)).hexdigest()

    with ThreadedServer(serve) as server, server.connect() as raw:
        with client_context(backend, pki, version=version).wrap_socket(raw, server_hostname="localhost") as tls:
            received = exchange_non_blocking(tls, ours)
        assert server.result() == hashlib.sha256(ours).hexdigest(), "the peer received other bytes"
    assert received == theirs


# -- bytes after close_notify -------------------------------------------------------------------------------------


def _downgrading_server(pki: PKI, version: ssl.TLSVersion) -> ThreadedServer:
    """A stdlib server that answers ``STOPTLS`` with its close_notify and plaintext in one segment."""
    server_ctx = _stdlib_server(pki, version)

    def serve(raw: socket.socket) -> bytes:
        pump = HandPump(raw, server_ctx, server_side=True)
        pump.run(pump.tls.do_handshake)
        assert pump.run(lambda: pump.tls.read(100)) == b"STOPTLS"
        pump.receive_close_notify()
        pump.tls.unwrap()  # the close_notify is already here: ours is written, not sent
        pump.flush(b"plaintext")
        return raw.recv(100)

    return ThreadedServer(serve)


@pytest.mark.parametrize("version", VERSIONS)
def test_unwrap_trailing_bytes_socket(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """``TLSSocket.unwrap()`` returns a socket from which the plaintext behind the close_notify is read."""
    with _downgrading_server(pki, version) as server, server.connect() as raw:
        tls = client_context(backend, pki, version=version).wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"STOPTLS")
        plain = tls.unwrap()
        assert plain.recv(100) == b"plaintext"
        plain.sendall(b"done")
        assert server.result() == b"done"
        plain.close()


@pytest.mark.capability(tlsapi.Capability.BIO_TRAILING_DATA)
@pytest.mark.parametrize("version", VERSIONS)
def test_unwrap_trailing_bytes_pump(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """The Connection's ``unwrap()`` leaves the plaintext behind the close_notify in the incoming BIO."""
    with _downgrading_server(pki, version) as server, server.connect() as raw:
        pump = HandPump(raw, client_context(backend, pki, version=version), server_side=False)
        pump.run(pump.tls.do_handshake)
        pump.tls.write(b"STOPTLS")
        pump.run(pump.tls.unwrap)  # receives the segment holding the server's close_notify and the plaintext
        trailing = pump.incoming.read()
        raw.sendall(b"done")
        assert server.result() == b"done"
    assert trailing == b"plaintext", "the Connection took the bytes after the close_notify"
