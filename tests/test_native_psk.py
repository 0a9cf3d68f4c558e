"""TLS 1.3 external PSKs in the native engine through Python 3.13's ``set_psk_client_callback`` /
``set_psk_server_callback``, over loopback sockets against ``openssl s_server -psk`` / ``s_client -psk``
and, where the running ``ssl`` has the callbacks (3.13+), against plain ``ssl`` with the same callbacks."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from test_native_trust import openssl_s_server

import tlsapi
from tlsapi_conformance.harness import ThreadedServer
from tlsapi_native._context import NativeContext

OPENSSL = shutil.which("openssl")
KEY = bytes.fromhex("deadbeef00112233445566778899aabb")
IDENTITY = "client-identity"
STDLIB_HAS_PSK = hasattr(ssl.SSLContext, "set_psk_client_callback")
PEERS = ["openssl", *(["stdlib"] if STDLIB_HAS_PSK else [])]


def _echo(tls: Any) -> None:
    tls.sendall(tls.recv(100))


def native_client(key: bytes = KEY, seen: list[Any] | None = None) -> NativeContext:
    context = NativeContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3

    def callback(hint: str | None) -> tuple[str | None, bytes]:
        if seen is not None:
            seen.append(hint)
        return IDENTITY, key

    context.set_psk_client_callback(callback)
    return context


def native_server(seen: list[Any] | None = None) -> NativeContext:
    """A server with no certificate at all: only the PSK can authenticate it."""
    context = NativeContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3

    def callback(identity: str | None) -> bytes:
        if seen is not None:
            seen.append(identity)
        return KEY if identity == IDENTITY else b""

    context.set_psk_server_callback(callback, "identity-hint")
    return context


@contextmanager
def peer_server(peer: str) -> Iterator[int]:
    """A PSK-only TLS 1.3 echo server (no certificate) of ``peer``; yields its port."""
    if peer == "openssl":
        with openssl_s_server("-nocert", "-tls1_3", "-psk", KEY.hex(), "-psk_identity", IDENTITY) as (_, port):
            yield port
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_psk_server_callback(  # type: ignore[attr-defined]
        lambda identity: KEY if identity == IDENTITY else b"", "identity-hint")
    server = ThreadedServer(_echo, context)
    yield server.port
    with suppress(ssl.SSLError, OSError):
        server.result()


@pytest.mark.skipif(OPENSSL is None, reason="no openssl binary")
@pytest.mark.parametrize("peer", PEERS)
def test_native_client_to_psk_only_server(peer: str) -> None:
    seen: list[Any] = []
    with peer_server(peer) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            native_client(seen=seen).wrap_socket(raw) as tls:
        # A SHA-256 suite (the PSK's hash); OpenSSL picks ChaCha20-Poly1305 from our order, keyed anew.
        cipher = tls.cipher()
        assert tls.version() == "TLSv1.3" and cipher is not None and cipher[0].endswith("_SHA256")
        assert tls.getpeercert() is None and tls.session_reused  # no certificate: as ssl reports it
        tls.sendall(b"hello psk\n")
        reply = tls.recv(100)
    assert reply in (b"hello psk\n", b"ksp olleh\n")  # stdlib echoes, openssl -rev reverses
    assert seen == [None]  # TLS 1.3 sends no identity hint


@pytest.mark.skipif(OPENSSL is None, reason="no openssl binary")
@pytest.mark.parametrize("peer", PEERS)
def test_native_client_with_the_wrong_key_fails(peer: str) -> None:
    with peer_server(peer) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            native_client(key=bytes(16)).wrap_socket(raw).recv(1)


def _client_of(peer: str, port: int, key: bytes) -> bool:
    """Connect ``peer`` as a PSK client with ``key``; whether it exchanged data."""
    if peer == "openssl":
        assert OPENSSL is not None
        result = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-psk", key.hex(),
                                 "-psk_identity", IDENTITY, "-quiet"], input=b"ping\n", capture_output=True,
                                timeout=30, check=False)
        return b"ping" in result.stdout
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_psk_client_callback(lambda hint: (IDENTITY, key))  # type: ignore[attr-defined]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, context.wrap_socket(raw) as tls:
            tls.sendall(b"ping\n")
            return tls.recv(100) == b"ping\n"
    except ssl.SSLError:
        return False


@pytest.mark.skipif(OPENSSL is None, reason="no openssl binary")
@pytest.mark.parametrize("peer", PEERS)
def test_psk_client_to_native_server(peer: str) -> None:
    seen: list[Any] = []
    server = ThreadedServer(_echo, native_server(seen))
    assert _client_of(peer, server.port, KEY)
    server.result()
    assert seen == [IDENTITY]
    server = ThreadedServer(_echo, native_server())
    assert not _client_of(peer, server.port, bytes(16))
    with pytest.raises(ssl.SSLError) as info:
        server.result()
    assert info.value.reason == "BINDER_DOES_NOT_VERIFY"


def test_unknown_identity_falls_back_to_certificates() -> None:
    """An identity the server callback refuses (empty key) is not used: without a certificate the server
    then has nothing to authenticate with (handshake_failure)."""
    server = ThreadedServer(_echo, native_server())
    client = native_client()
    client.set_psk_client_callback(lambda hint: ("someone-else", KEY))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, pytest.raises(ssl.SSLError):
        client.wrap_socket(raw).recv(1)
    with pytest.raises(ssl.SSLError) as info:
        server.result()
    assert info.value.reason == "NO_CERTIFICATE_ASSIGNED"


def test_callback_setters_follow_ssl() -> None:
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")
    server = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend="native")
    with pytest.raises(ssl.SSLError, match="Cannot add PSK server callback to a PROTOCOL_TLS_CLIENT context"):
        client.set_psk_server_callback(lambda identity: KEY)  # type: ignore[attr-defined]
    with pytest.raises(ssl.SSLError, match="Cannot add PSK client callback to a PROTOCOL_TLS_SERVER context"):
        server.set_psk_client_callback(lambda hint: (IDENTITY, KEY))  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="callback must be callable"):
        client.set_psk_client_callback(123)  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        server.set_psk_server_callback(lambda identity: KEY, 5)  # type: ignore[attr-defined]
    client.set_psk_client_callback(None)  # type: ignore[attr-defined]
    assert client.psk_client_callback is None  # type: ignore[attr-defined]
