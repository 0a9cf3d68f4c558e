"""Handshakes per TLS version (BIOs and sockets), per key type, version bounds, cipher()/version()."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import (
    KEY_TYPES,
    VERSION_NAME,
    VERSIONS,
    BIOPair,
    ThreadedServer,
    check_error,
    client_context,
    recv_exactly,
    reference_server_context,
    server_context,
    tls_client,
)
from tlsapi_conformance.pki import PKI

Capability = tlsapi.Capability


def _check_cipher(cipher: Any, version: str) -> None:
    assert isinstance(cipher, tuple) and len(cipher) == 3, cipher
    name, protocol, bits = cipher
    assert isinstance(name, str) and name, cipher
    assert protocol == version, cipher
    assert isinstance(bits, int) and bits >= 128, cipher
    if version == "TLSv1.3":
        assert name.startswith("TLS_"), f"TLS 1.3 suites use IANA names: {name}"


@pytest.mark.parametrize("version", VERSIONS)
def test_handshake_bio(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    pair = BIOPair(client_context(backend, pki, version=version), server_context(backend, pki))
    assert pair.client.version() is None and pair.client.cipher() is None
    pair.connect()
    for conn in (pair.client, pair.server):
        assert conn.version() == VERSION_NAME[version]
        _check_cipher(conn.cipher(), VERSION_NAME[version])
    assert pair.client.cipher() == pair.server.cipher()
    assert pair.client.server_side is False and pair.server.server_side is True
    assert pair.client.server_hostname == "localhost" and pair.server.server_hostname is None
    assert pair.send(b"hello server") == b"hello server"
    assert pair.send(b"hello client", from_client=False) == b"hello client"


@pytest.mark.parametrize("version", VERSIONS)
def test_handshake_socket(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    def serve(tls: Any) -> tuple[str, Any]:
        data = recv_exactly(tls, 5)
        tls.sendall(data.upper())
        return tls.version(), tls.cipher()

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki, version=version)) as tls:
            assert isinstance(tls, ssl.SSLSocket) and isinstance(tls, socket.socket)
            assert tls.version() == VERSION_NAME[version]
            tls.sendall(b"hello")
            assert recv_exactly(tls, 5) == b"HELLO"
            _check_cipher(tls.cipher(), VERSION_NAME[version])
        server_version, server_cipher = server.result()
    assert server_version == VERSION_NAME[version]
    _check_cipher(server_cipher, VERSION_NAME[version])


def test_handshake_socket_ipv6(backend: tlsapi.Backend, pki: PKI) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        server = ThreadedServer(lambda tls: tls.sendall(b"ok"), server_context(backend, pki),
                                family=socket.AF_INET6)
    except OSError as exc:
        pytest.skip(f"cannot bind ::1: {exc}")
    with server, tls_client(server, client_context(backend, pki), server_hostname="::1") as tls:
        assert recv_exactly(tls, 2) == b"ok"
    server.result()


def test_handshake_on_connect(backend: tlsapi.Backend, pki: PKI) -> None:
    """wrap_socket before connect(): connect() performs the handshake."""
    with ThreadedServer(lambda tls: tls.sendall(b"ok"), server_context(backend, pki)) as server:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.settimeout(10)
        with client_context(backend, pki).wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() is None
            tls.connect(server.address)
            assert tls.version() is not None
            assert recv_exactly(tls, 2) == b"ok"
        server.result()


def test_explicit_handshake(backend: tlsapi.Backend, pki: PKI) -> None:
    with ThreadedServer(lambda tls: tls.sendall(b"ok"), server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki), do_handshake_on_connect=False) as tls:
            assert tls.version() is None
            tls.do_handshake()
            assert recv_exactly(tls, 2) == b"ok"
        server.result()


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_key_type(backend: tlsapi.Backend, pki: PKI, key_type: str) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki, leaf=key_type)).connect()
    assert pair.client.getpeercert(binary_form=True) == pki.leaf(key_type).der
    assert pair.send(b"x" * 100) == b"x" * 100


@pytest.mark.capability(Capability.TLSv1_2)
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_key_type_tls12(backend: tlsapi.Backend, pki: PKI, key_type: str) -> None:
    client = client_context(backend, pki, version=ssl.TLSVersion.TLSv1_2)
    BIOPair(client, server_context(backend, pki, leaf=key_type)).connect()


@pytest.mark.capability(requires=(Capability.CLIENT_CERT,))
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_client_key_type(backend: tlsapi.Backend, pki: PKI, key_type: str) -> None:
    """Each key type as a client certificate, verified by the reference server (chain and CertificateVerify
    signature)."""
    server = reference_server_context(pki, verify_mode=ssl.CERT_REQUIRED)
    pair = BIOPair(client_context(backend, pki, cert=key_type), server).connect()
    assert pair.server.getpeercert(binary_form=True) == pki.leaf(key_type).der


@pytest.mark.capability(requires=(Capability.TLSv1_2, Capability.TLSv1_3))  # core: never below the minimum
@pytest.mark.parametrize("client_has", ["1.2", "1.3"])
def test_version_no_overlap(backend: tlsapi.Backend, pki: PKI, client_has: str) -> None:
    client, server = client_context(backend, pki), server_context(backend, pki)
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    client.minimum_version = client.maximum_version = v12 if client_has == "1.2" else v13
    server.minimum_version = server.maximum_version = v13 if client_has == "1.2" else v12
    result = BIOPair(client, server).handshake()
    server_error = check_error(result.server_error, "SSLError")
    client_error = check_error(result.client_error, "SSLError")
    assert not isinstance(server_error, ssl.SSLCertVerificationError)
    assert server_error.reason in ("UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "VERSION_TOO_LOW",
                                   "VERSION_TOO_HIGH"), server_error
    assert client_error.reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"), client_error
