"""The stdlib backend's sockets do their I/O in OpenSSL, as ``ssl.SSLSocket`` does (issue 19: a ``recv`` waits
inside OpenSSL instead of a Python pump over memory BIOs), so what they raise is exactly what ``ssl`` raises,
in tlsapi's classes: checked over loopback against plain ``ssl`` peers, each case run with a plain ``ssl``
client and with a stdlib-backend client."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from native_pki import ca, leaf

import tlsapi
from tlsapi_stdlib._backend import StdlibSocket

TIMEOUT = 10.0


def values(error: BaseException) -> tuple[Any, ...]:
    return (type(error).__name__, error.args, str(error), getattr(error, "library", "absent"),
            getattr(error, "reason", "absent"), getattr(error, "verify_code", None),
            getattr(error, "verify_message", None))


@contextlib.contextmanager
def peer(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    """A plain TCP listener on loopback whose one accepted connection ``serve`` handles in a thread."""
    failures: list[BaseException] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)

        def run() -> None:
            try:
                raw, _ = listener.accept()
                with raw:
                    serve(raw)
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield listener.getsockname()[1]
        thread.join(TIMEOUT)
    if failures:
        raise failures[0]


def server_context(issuer: str = "ca") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    identity = leaf(issuer=issuer)
    context.load_cert_chain(identity.cert_path, identity.key_path)
    return context


def client_contexts() -> list[ssl.SSLContext]:
    """A plain ``ssl`` client and a stdlib-backend client, both trusting the test CA."""
    contexts = [ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="stdlib")]
    for context in contexts:
        context.load_verify_locations(ca().cert_path)
    return contexts


def test_the_stdlib_backend_wraps_sockets_in_its_own_class() -> None:
    def serve(raw: socket.socket) -> None:
        with server_context().wrap_socket(raw, server_side=True) as tls:
            tls.sendall(tls.recv(100))

    client = client_contexts()[1]
    with peer(serve) as port, socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with client.wrap_socket(raw, server_hostname="localhost") as tls:
            assert type(tls) is StdlibSocket and isinstance(tls, tlsapi.TLSSocket)
            assert isinstance(tls._sslobj, tlsapi.Connection)
            tls.sendall(b"echo")
            assert tls.recv(100) == b"echo"
            assert tls.version() == "TLSv1.3" and tls.getpeercert()["subject"]


def test_verification_failure_is_ssls_error_in_the_tlsapi_class() -> None:
    results = []
    for client in client_contexts():

        def serve(raw: socket.socket) -> None:
            with contextlib.suppress(ssl.SSLError, OSError):
                server_context(issuer="other-ca").wrap_socket(raw, server_side=True)

        with peer(serve) as port, socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                client.wrap_socket(raw, server_hostname="localhost")
        results.append(info.value)
    plain, ours = results
    assert type(ours) is tlsapi.SSLCertVerificationError
    assert values(ours) == values(plain)


@pytest.mark.parametrize("suppress_ragged_eofs", [True, False])
def test_ragged_eof_is_ssls(suppress_ragged_eofs: bool) -> None:
    """The peer closes the TCP connection without close_notify."""
    results: list[Any] = []
    for client in client_contexts():

        def serve(raw: socket.socket) -> None:
            tls = server_context().wrap_socket(raw, server_side=True)
            tls.recv(1)
            socket.socket(fileno=tls.detach()).close()  # the descriptor alone: no close_notify

        with peer(serve) as port, socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with client.wrap_socket(raw, server_hostname="localhost",
                                    suppress_ragged_eofs=suppress_ragged_eofs) as tls:
                tls.sendall(b"!")
                try:
                    results.append(tls.recv(10))
                except ssl.SSLError as exc:
                    results.append(exc)
    plain, ours = results
    if suppress_ragged_eofs:
        assert plain == ours == b""
    else:
        assert type(ours) is tlsapi.SSLEOFError
        assert values(ours) == values(plain)


def test_non_blocking_want_read_and_a_timeout_are_ssls() -> None:
    """Nothing to read: a non-blocking socket raises want-read, a socket with a timeout ``TimeoutError``,
    each with ``ssl``'s words."""
    results = []
    for client in client_contexts():
        done = threading.Event()

        def serve(raw: socket.socket, done: threading.Event = done) -> None:
            with server_context().wrap_socket(raw, server_side=True):
                done.wait(TIMEOUT)

        with peer(serve) as port, socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with client.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.setblocking(False)
                with pytest.raises(ssl.SSLWantReadError) as want:
                    tls.recv(10)
                tls.settimeout(0.05)
                with pytest.raises(TimeoutError) as timeout:
                    tls.recv(10)
                done.set()
        results.append((want.value, timeout.value))
    (plain_want, plain_timeout), (our_want, our_timeout) = results
    assert type(our_want) is tlsapi.SSLWantReadError
    assert values(our_want) == values(plain_want)
    assert values(our_timeout) == values(plain_timeout)


def test_a_connection_class_of_ones_own_runs_in_a_tlssocket_over_memory_bios() -> None:
    """``StdlibSocket`` would bypass a Connection class set with ``sslobject_class``: with one, ``wrap_socket``
    makes a ``TLSSocket`` whose Connection is that class's; a ``sslsocket_class`` assigned is used as given."""
    from tlsapi_stdlib._backend import StdlibConnection

    class Mine(StdlibConnection):
        pass

    def serve(raw: socket.socket) -> None:
        with server_context().wrap_socket(raw, server_side=True) as tls:
            tls.sendall(tls.recv(100))

    client = client_contexts()[1]
    client.sslobject_class = Mine  # type: ignore[assignment]  # a tlsapi Connection class
    with peer(serve) as port, socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with client.wrap_socket(raw, server_hostname="localhost") as tls:
            assert type(tls) is tlsapi.TLSSocket and type(tls._sslobj) is Mine
            tls.sendall(b"echo")
            assert tls.recv(100) == b"echo"
    client.sslsocket_class = StdlibSocket
    assert client.sslsocket_class is StdlibSocket
