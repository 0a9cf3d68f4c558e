"""Fidelity to ``ssl`` on every backend (issue 13): each behaviour is run through plain ``ssl`` on the same
interpreter and through each backend, over loopback sockets, and the two must agree."""

from __future__ import annotations

import socket
import ssl
import threading
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import TIMEOUT, ThreadedServer
from tlsapi_conformance.pki import PKI

# -- helpers ------------------------------------------------------------------------------------------------


def _error_values(exc: BaseException) -> tuple[Any, ...]:
    """What code can branch on: the ssl class, errno, library, reason, and the text without its origin."""
    public_class = next(c for c in type(exc).__mro__ if c.__module__ in ("ssl", "builtins"))
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return (public_class, getattr(exc, "errno", None), getattr(exc, "library", None), getattr(exc, "reason", None),
            text.rsplit(" (", 1)[0])


def _raised(action: Callable[[], Any]) -> BaseException:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("no error was raised")


def _recording_server() -> tuple[socket.socket, list[bytes], threading.Thread]:
    """A TCP listener on 127.0.0.1 that records every byte of its one connection until EOF."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    received: list[bytes] = []

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            while data := conn.recv(65536):
                received.append(data)
        listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, received, thread


def _client_attempt(context: ssl.SSLContext) -> tuple[BaseException, bytes]:
    """Connect ``context`` to a recording server: the error raised and every byte the server received."""
    listener, received, thread = _recording_server()
    with socket.create_connection(listener.getsockname()[:2], timeout=TIMEOUT) as raw:
        exc = _raised(lambda: context.wrap_socket(raw, server_hostname="localhost"))
    thread.join(TIMEOUT)
    return exc, b"".join(received)


def _server_attempt(context: ssl.SSLContext, client: ssl.SSLContext) -> tuple[BaseException | None, BaseException]:
    """Connect a plain ``ssl`` ``client`` to ``context`` serving: (the server's error, the client's error)."""
    server = ThreadedServer(lambda tls: None, context)
    with server, socket.create_connection(server.address, timeout=TIMEOUT) as raw:
        client_error = _raised(lambda: client.wrap_socket(raw, server_hostname="localhost"))
        return server.error(), client_error


def _plain_ssl_client(pki: PKI) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    return context


# -- version bounds -----------------------------------------------------------------------------------------

def _min_above_max(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_2


def _no_tls12_no_tls13(context: ssl.SSLContext) -> None:
    context.options |= ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3


_NO_VERSIONS: dict[str, Callable[[ssl.SSLContext], None]] = {
    "min-above-max": _min_above_max, "no-tls12-no-tls13": _no_tls12_no_tls13,
}


def _without_versions(context: ssl.SSLContext, how: str) -> ssl.SSLContext:
    with warnings.catch_warnings():  # the OP_NO_TLS* options are deprecated in ssl
        warnings.simplefilter("ignore", DeprecationWarning)
        _NO_VERSIONS[how](context)
    return context


@pytest.mark.parametrize("how", list(_NO_VERSIONS))
def test_client_without_versions_refuses_before_sending_hello(backend: tlsapi.Backend, pki: PKI, how: str) -> None:
    reference, reference_wire = _client_attempt(_without_versions(_plain_ssl_client(pki), how))
    context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
    exc, wire = _client_attempt(_without_versions(context, how))
    assert isinstance(exc, tlsapi.SSLError)
    assert _error_values(exc) == _error_values(reference)
    assert exc.reason == "NO_PROTOCOLS_AVAILABLE"
    assert not wire.startswith(b"\x16") and not reference_wire.startswith(b"\x16")  # no ClientHello


@pytest.mark.parametrize("server_side", [False, True], ids=["client", "server"])
@pytest.mark.parametrize("how", list(_NO_VERSIONS))
def test_without_versions_only_the_alert_goes_out(backend: tlsapi.Backend, how: str, server_side: bool) -> None:
    """What the connection writes is OpenSSL's: a protocol_version alert and nothing else."""

    def attempt(context: ssl.SSLContext) -> tuple[tuple[Any, ...], bytes]:
        outgoing = ssl.MemoryBIO()
        connection = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_side=server_side)
        return _error_values(_raised(connection.do_handshake)), outgoing.read()

    protocol = ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT
    reference = ssl.SSLContext(protocol)
    context = tlsapi.Context(protocol, backend=backend)
    for ctx in (reference, context):
        if not server_side:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    assert attempt(_without_versions(context, how)) == attempt(_without_versions(reference, how))


@pytest.mark.parametrize("how", list(_NO_VERSIONS))
def test_server_without_versions_refuses(backend: tlsapi.Backend, pki: PKI, how: str) -> None:
    def serving(make: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        context = _without_versions(make(), how)
        context.load_cert_chain(pki.leaf().certfile)
        return context

    reference_server, reference_client = _server_attempt(
        serving(lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)), _plain_ssl_client(pki))
    server_error, client_error = _server_attempt(
        serving(lambda: tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend)), _plain_ssl_client(pki))
    assert reference_server is not None and server_error is not None
    assert isinstance(server_error, tlsapi.SSLError)
    assert _error_values(server_error) == _error_values(reference_server)
    # The client never completes a handshake (what it reads, alert or reset, is the socket layer's).
    assert isinstance(client_error, OSError) and isinstance(reference_client, OSError)
