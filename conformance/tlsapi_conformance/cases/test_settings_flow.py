"""A connection uses its context's settings as they were at ``wrap_socket``, as with ``ssl``.

Each case wraps a loopback socket without handshaking, then changes the backend's context in a way that would
change the handshake (a stricter verification, another version, ALPN, another certificate), then handshakes
against the stdlib ``ssl`` as the peer: the outcome must be the wrap-time one, because ``ssl``'s own
connections copy these settings when they are made. A backend that reads the live context during the
handshake fails here.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import TIMEOUT, ThreadedServer, client_context, server_context
from tlsapi_conformance.pki import PKI

Capability = tlsapi.Capability


def _client_handshake_after(backend: tlsapi.Backend, pki: PKI, peer: ssl.SSLContext,
                            setup: Callable[[Any], None], change: Callable[[Any], None]) -> Any:
    """The backend's client, wrapped, changed by ``change``, then handshaken with ``peer``: the
    ``(version, selected_alpn_protocol)`` it negotiated."""

    def serve(raw: socket.socket) -> None:
        with peer.wrap_socket(raw, server_side=True) as tls:
            tls.sendall(b"p")

    subject = client_context(backend, pki)
    setup(subject)
    with ThreadedServer(serve) as server, server.connect() as raw:
        with subject.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False) as tls:
            change(subject)
            tls.do_handshake()
            assert tls.recv(1) == b"p"
            outcome = (tls.version(), tls.selected_alpn_protocol())
        server.result()
    return outcome


def _server_handshake_after(backend: tlsapi.Backend, pki: PKI, setup: Callable[[Any], None],
                            change: Callable[[Any], None]) -> tuple[str | None, bytes | None]:
    """The backend's server, wrapped, changed by ``change``, then handshaken with an ``ssl`` client: the
    version and the certificate the client received."""
    subject = server_context(backend, pki)
    setup(subject)

    def serve(raw: socket.socket) -> str | None:
        with subject.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            change(subject)
            tls.do_handshake()
            tls.sendall(b"s")
            version: str | None = tls.version()
            return version

    peer = client_context(None, pki)
    with ThreadedServer(serve) as server, server.connect() as raw:
        raw.settimeout(TIMEOUT)
        with peer.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.recv(1) == b"s"
            received = tls.getpeercert(binary_form=True)
        version = server.result()
    return version, received


def _no_verification(ctx: Any) -> None:
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE


def test_client_verify_mode_is_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """Wrapped with ``CERT_NONE``, then ``CERT_REQUIRED``: the self-signed server is still accepted."""
    peer = server_context(None, pki, leaf="self-signed")
    version, _ = _client_handshake_after(backend, pki, peer, _no_verification,
                                         lambda ctx: setattr(ctx, "verify_mode", ssl.CERT_REQUIRED))
    assert version is not None


def test_client_check_hostname_is_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """Wrapped without the hostname check, then with it: the certificate for another name is still accepted."""
    peer = server_context(None, pki, leaf="wrong-host")
    version, _ = _client_handshake_after(backend, pki, peer, lambda ctx: setattr(ctx, "check_hostname", False),
                                         lambda ctx: setattr(ctx, "check_hostname", True))
    assert version is not None


@pytest.mark.capability(Capability.ALPN)
def test_client_alpn_is_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """ALPN set after wrapping is not offered by that connection."""
    peer = server_context(None, pki)
    peer.set_alpn_protocols(["h2"])
    _, alpn = _client_handshake_after(backend, pki, peer, lambda ctx: None,
                                      lambda ctx: ctx.set_alpn_protocols(["h2"]))
    assert alpn is None


@pytest.mark.capability(Capability.TLSv1_3)
def test_client_versions_are_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """``maximum_version = TLSv1_2`` after wrapping: that connection still negotiates TLS 1.3."""
    version, _ = _client_handshake_after(backend, pki, server_context(None, pki), lambda ctx: None,
                                         lambda ctx: setattr(ctx, "maximum_version", ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.3"


def test_server_certificate_is_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """``load_cert_chain`` after wrapping: that connection presents the certificate loaded before."""
    _, received = _server_handshake_after(backend, pki, lambda ctx: None,
                                          lambda ctx: ctx.load_cert_chain(pki["wrong-host"].certfile))
    assert received == pki.leaf().der


@pytest.mark.capability(Capability.TLSv1_3)
def test_server_versions_are_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    version, _ = _server_handshake_after(backend, pki, lambda ctx: None,
                                         lambda ctx: setattr(ctx, "maximum_version", ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.3"


@pytest.mark.capability(Capability.CLIENT_AUTH)
def test_server_verify_mode_is_taken_at_wrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """``CERT_REQUIRED`` after wrapping: that connection does not demand the client certificate."""
    version, _ = _server_handshake_after(
        backend, pki, lambda ctx: ctx.load_verify_locations(cafile=pki.ca_file),
        lambda ctx: setattr(ctx, "verify_mode", ssl.CERT_REQUIRED))
    assert version is not None
