"""``TLSSocket`` semantics over every backend: blocking, timeouts, non-blocking, makefile, unwrap."""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.pki import PKI


def _contexts(backend: tlsapi.Backend, pki: PKI) -> tuple[tlsapi.Context, tlsapi.Context]:
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    server.load_cert_chain(pki.leaf().certfile)
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend)
    client.load_verify_locations(pki.ca_file)
    return client, server


@contextmanager
def _serving(
    context: tlsapi.Context, handler: Callable[[tlsapi.TLSSocket], None], gate: threading.Event | None = None
) -> Iterator[int]:
    """Accept one connection on 127.0.0.1 in a thread, wrap it with ``context`` and run ``handler``.

    With a ``gate``, the server handshakes only once the gate is set.
    """
    errors: list[BaseException] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def run() -> None:
        try:
            raw, _ = listener.accept()
            raw.settimeout(10)
            if gate is not None:
                gate.wait(10)
            with context.wrap_socket(raw, server_side=True) as tls:
                handler(tls)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(10)
        listener.close()
    if errors:
        raise errors[0]


def _echo_until_eof(tls: tlsapi.TLSSocket) -> None:
    while data := tls.recv(65536):
        tls.sendall(data)


def test_blocking_roundtrip_and_inspection(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = _contexts(backend, pki)
    with _serving(server, _echo_until_eof) as port, socket.create_connection(("127.0.0.1", port)) as raw:
        with client.wrap_socket(raw, server_hostname="localhost") as tls:
            assert isinstance(tls, socket.socket) and isinstance(tls, ssl.SSLSocket)
            assert raw.fileno() == -1  # the TLS socket took over the descriptor
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert tls.getpeercert()["subjectAltName"]
            tls.sendall(b"ping")
            assert tls.recv(4) == b"ping"
            buffer = bytearray(4)
            tls.sendall(b"pong")
            assert tls.recv_into(buffer) == 4 and buffer == b"pong"
            with pytest.raises(ValueError):
                tls.recv(10, socket.MSG_PEEK)


def test_connect_after_wrap_and_accept(backend: tlsapi.Backend, pki: PKI) -> None:
    """An unconnected socket handshakes on ``connect``; a wrapped listener's ``accept`` handshakes."""
    client, server = _contexts(backend, pki)
    listener = server.wrap_socket(socket.create_server(("127.0.0.1", 0)), server_side=True)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    result: list[bytes] = []

    def accept_one() -> None:
        connection, _ = listener.accept()
        with connection:
            assert isinstance(connection, tlsapi.TLSSocket) and connection.server_side
            result.append(connection.recv(5))

    thread = threading.Thread(target=accept_one, daemon=True)
    thread.start()
    with client.wrap_socket(socket.socket(), server_hostname="localhost") as tls:
        tls.settimeout(10)
        tls.connect(("127.0.0.1", port))
        assert tls.version() is not None
        tls.sendall(b"hello")
        thread.join(10)
    listener.close()
    assert result == [b"hello"]


def test_timeout_raises_timeout_error(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = _contexts(backend, pki)
    release = threading.Event()

    def silent(tls: tlsapi.TLSSocket) -> None:
        release.wait(10)

    with _serving(server, silent) as port, socket.create_connection(("127.0.0.1", port)) as raw:
        with client.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.settimeout(0.2)
            with pytest.raises(TimeoutError):
                tls.recv(10)
            release.set()


def test_handshake_timeout(backend: tlsapi.Backend, pki: PKI) -> None:
    """A server that never answers the ClientHello: the handshake times out instead of hanging."""
    client, _ = _contexts(backend, pki)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        raw = socket.create_connection(listener.getsockname())
        raw.settimeout(0.2)
        with pytest.raises(TimeoutError):
            client.wrap_socket(raw, server_hostname="localhost")
        assert raw.fileno() == -1


def test_non_blocking_want_errors_and_nothing_lost(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = _contexts(backend, pki)
    payload = bytes(range(256)) * 4096  # 1 MiB: more than the socket buffers hold

    def echo_exact(tls: tlsapi.TLSSocket) -> None:
        received = b""
        while len(received) < len(payload):
            received += tls.recv(65536)
        tls.sendall(received)

    gate = threading.Event()
    with _serving(server, echo_exact, gate) as port, socket.create_connection(("127.0.0.1", port)) as raw:
        tls = client.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
        tls.setblocking(False)
        with pytest.raises(ssl.SSLWantReadError) as info:
            tls.do_handshake()  # the ClientHello is out; the gated server has not answered
        assert info.value.errno == ssl.SSL_ERROR_WANT_READ  # httpcore relies on errno being set
        gate.set()
        _drive(tls.do_handshake, tls)
        view = memoryview(payload)
        for start in range(0, len(payload), 100_000):
            chunk = view[start : start + 100_000]
            assert _drive(lambda chunk=chunk: tls.send(chunk), tls) == len(chunk)
        received = b""
        while len(received) < len(payload):
            received += _drive(lambda: tls.recv(65536), tls)
        assert received == payload
        tls.close()


def _drive(operation: Callable[[], Any], tls: tlsapi.TLSSocket) -> Any:
    """Retry ``operation`` on want-errors, waiting with select as a non-blocking caller would."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            return operation()
        except ssl.SSLWantReadError:
            select.select([tls], [], [], 1)
        except ssl.SSLWantWriteError:
            select.select([], [tls], [], 1)
    raise AssertionError("operation did not complete")


def test_makefile_lines(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = _contexts(backend, pki)

    def greet(tls: tlsapi.TLSSocket) -> None:
        tls.sendall(b"line one\nline two\n" + b"x" * 100_000 + b"\n")

    with _serving(server, greet) as port, socket.create_connection(("127.0.0.1", port)) as raw:
        with client.wrap_socket(raw, server_hostname="localhost") as tls, tls.makefile("rb") as stream:
            assert stream.readline() == b"line one\n"
            assert stream.readline() == b"line two\n"
            assert stream.readline() == b"x" * 100_000 + b"\n"


def test_unwrap_returns_plaintext_socket(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = _contexts(backend, pki)

    def downgrade(tls: tlsapi.TLSSocket) -> None:
        assert tls.recv(6) == b"secret"
        plain = tls.unwrap()
        assert plain.recv(5) == b"plain"
        plain.sendall(b"PLAIN")

    with _serving(server, downgrade) as port, socket.create_connection(("127.0.0.1", port)) as raw:
        tls = client.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"secret")
        plain = tls.unwrap()
        assert plain.version() is None
        plain.sendall(b"plain")
        assert plain.recv(5) == b"PLAIN"
        plain.close()


def test_ragged_eof_on_sockets(backend: tlsapi.Backend, pki: PKI) -> None:
    """A peer that closes TCP without close_notify: b'' when suppressed, SSLEOFError otherwise."""
    client, server = _contexts(backend, pki)

    def hang_up(tls: tlsapi.TLSSocket) -> None:
        tls.sendall(b"bye")
        tls.shutdown(socket.SHUT_RDWR)  # no close_notify

    for suppress in (True, False):
        with _serving(server, hang_up) as port, socket.create_connection(("127.0.0.1", port)) as raw:
            with client.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=suppress) as tls:
                assert tls.recv(3) == b"bye"
                if suppress:
                    assert tls.recv(10) == b""
                else:
                    with pytest.raises(tlsapi.SSLEOFError) as info:
                        tls.recv(10)
                    assert info.value.reason == "UNEXPECTED_EOF_WHILE_READING"
                    assert info.value.errno == ssl.SSL_ERROR_EOF


def test_close_notify_reads_as_eof(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = _contexts(backend, pki)

    def say_and_close(tls: tlsapi.TLSSocket) -> None:
        tls.sendall(b"done")
        tls.unwrap()

    with _serving(server, say_and_close) as port, socket.create_connection(("127.0.0.1", port)) as raw:
        with client.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls:
            assert tls.recv(4) == b"done"
            assert tls.recv(10) == b""
            tls.unwrap()


def test_empty_read_reads_no_record_as_ssl(backend: tlsapi.Backend) -> None:
    """``read(0)`` returns ``b""`` at once, before the handshake too, as ``ssl.SSLObject`` does (CPython's
    ``test_recv_zero``): no want-read for a read of nothing."""
    results = []
    for context in (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
        results.append((connection.read(0), connection.read(5, bytearray())))
    assert results[1] == results[0] == (b"", 0)
