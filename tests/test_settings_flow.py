"""One settings flow: a connection is built from its context's settings at ``wrap_*`` time.

Each case wraps a loopback socket without handshaking, changes the backend's context, then handshakes
against a stdlib ``ssl`` peer: what the peer and the connection see is the configuration at wrap time. The
stdlib backend *is* ``ssl``, whose OpenSSL keeps reading a few settings from the context (the cipher list, a
server's ALPN choice); for it each case is run through plain ``ssl`` too and the outcomes must be equal.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import available_backends

import tlsapi
from tlsapi_conformance.harness import TIMEOUT, client_context, server_context
from tlsapi_conformance.pki import PKI

Capability = tlsapi.Capability
TLS12_AES256 = "ECDHE-ECDSA-AES256-GCM-SHA384"
TLS12_AES128 = "ECDHE-ECDSA-AES128-GCM-SHA256"


@dataclass(frozen=True)
class Outcome:
    """What both ends saw of one handshake."""

    version: str | None
    cipher: str | None
    alpn: str | None
    subject_peercert: Any  # the tested connection's getpeercert()
    peer_saw_der: bytes | None  # the certificate the ssl peer received (DER)


def _handshake_after_change(subject: Any, peer: ssl.SSLContext, subject_is_server: bool,
                            change: Callable[[], None]) -> Outcome:
    """Wrap a loopback socket with ``subject`` (no handshake yet), run ``change``, then handshake with an
    ``ssl`` peer in a thread and exchange a byte each way."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    address = listener.getsockname()
    peer_view: dict[str, Any] = {}

    def run_peer() -> None:
        try:
            if subject_is_server:
                tls = peer.wrap_socket(socket.create_connection(address, timeout=TIMEOUT),
                                       server_hostname="localhost")
            else:
                raw, _ = listener.accept()
                raw.settimeout(TIMEOUT)
                tls = peer.wrap_socket(raw, server_side=True)
            with tls:
                peer_view["der"] = tls.getpeercert(binary_form=True)
                tls.sendall(b"p")
                peer_view["echo"] = tls.recv(1)
        except BaseException as exc:  # reported by the main thread
            peer_view["error"] = exc

    thread = threading.Thread(target=run_peer, daemon=True)
    thread.start()
    try:
        if subject_is_server:
            raw, _ = listener.accept()
            raw.settimeout(TIMEOUT)
            tls = subject.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        else:
            tls = subject.wrap_socket(socket.create_connection(address, timeout=TIMEOUT),
                                      server_hostname="localhost", do_handshake_on_connect=False)
        with tls:
            change()
            tls.do_handshake()
            assert tls.recv(1) == b"p"
            tls.sendall(b"s")
            cipher = tls.cipher()
            outcome = Outcome(tls.version(), cipher[0] if cipher else None, tls.selected_alpn_protocol(),
                              tls.getpeercert(), None)
    finally:
        thread.join(TIMEOUT * 2)
        listener.close()
    if "error" in peer_view:
        raise peer_view["error"]
    assert peer_view["echo"] == b"s"
    return Outcome(outcome.version, outcome.cipher, outcome.alpn, outcome.subject_peercert, peer_view["der"])


@dataclass(frozen=True)
class Case:
    """A setting changed between ``wrap_*`` and the handshake, and the outcome the wrap-time value gives."""

    subject_is_server: bool
    setup: Callable[[Any, ssl.SSLContext, PKI], None]  # (subject, peer, pki), before wrapping
    change: Callable[[Any, PKI], None]  # (subject, pki), after wrapping
    wrap_time: Callable[[Outcome, PKI], bool]  # the outcome shows the wrap-time setting
    needs: Capability = Capability.CORE
    peer_leaf: str = "ecdsa-p256"  # the certificate a peer server presents


def _nothing(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    return None


def _client_without_verification(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    subject.check_hostname = False
    subject.verify_mode = ssl.CERT_NONE


def _without_hostname_check(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    subject.check_hostname = False


def _peer_alpn(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    peer.set_alpn_protocols(["h2"])


def _tls12_aes256(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    peer.maximum_version = ssl.TLSVersion.TLSv1_2
    subject.set_ciphers(TLS12_AES256)


def _peer_asks_for_a_certificate(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    peer.verify_mode = ssl.CERT_OPTIONAL


def _trust_for_clients(subject: Any, peer: ssl.SSLContext, pki: PKI) -> None:
    subject.load_verify_locations(cafile=pki.ca_file)


CASES: dict[str, Case] = {
    # The peer serves a self-signed certificate: only the wrap-time CERT_NONE lets the handshake through.
    "client-verify-mode": Case(
        False, _client_without_verification, lambda s, pki: setattr(s, "verify_mode", ssl.CERT_REQUIRED),
        lambda o, pki: o.version is not None, peer_leaf="self-signed"),
    # The peer's certificate is for another name: only the wrap-time check_hostname=False accepts it.
    "client-check-hostname": Case(
        False, _without_hostname_check, lambda s, pki: setattr(s, "check_hostname", True),
        lambda o, pki: o.version is not None, peer_leaf="wrong-host"),
    "client-alpn": Case(
        False, _peer_alpn, lambda s, pki: s.set_alpn_protocols(["h2"]), lambda o, pki: o.alpn is None,
        needs=Capability.ALPN),
    "client-versions": Case(
        False, _nothing, lambda s, pki: setattr(s, "maximum_version", ssl.TLSVersion.TLSv1_2),
        lambda o, pki: o.version == "TLSv1.3", needs=Capability.TLSv1_3),
    "client-ciphers": Case(
        False, _tls12_aes256, lambda s, pki: s.set_ciphers(TLS12_AES128), lambda o, pki: o.cipher == TLS12_AES256,
        needs=Capability.SET_CIPHERS),
    "client-cert-chain": Case(
        False, _peer_asks_for_a_certificate, lambda s, pki: s.load_cert_chain(pki.client.certfile),
        lambda o, pki: o.peer_saw_der is None, needs=Capability.CLIENT_CERT),
    "server-cert-chain": Case(
        True, _nothing, lambda s, pki: s.load_cert_chain(pki["wrong-host"].certfile),
        lambda o, pki: o.peer_saw_der == pki.leaf().der),
    "server-versions": Case(
        True, _nothing, lambda s, pki: setattr(s, "maximum_version", ssl.TLSVersion.TLSv1_2),
        lambda o, pki: o.version == "TLSv1.3", needs=Capability.TLSv1_3),
    "server-verify-mode": Case(
        True, _trust_for_clients, lambda s, pki: setattr(s, "verify_mode", ssl.CERT_REQUIRED),
        lambda o, pki: o.subject_peercert is None, needs=Capability.CLIENT_AUTH),
    "server-alpn": Case(
        True, _peer_alpn, lambda s, pki: s.set_alpn_protocols(["h2"]), lambda o, pki: o.alpn is None,
        needs=Capability.ALPN),
    "server-ciphers": Case(
        True, _tls12_aes256, lambda s, pki: s.set_ciphers(TLS12_AES128), lambda o, pki: o.cipher == TLS12_AES256,
        needs=Capability.SET_CIPHERS),
}

#: What plain ``ssl`` lets reach a connection already made (OpenSSL reads them from the context during the
#: handshake): the stdlib backend does the same, the other backends do not.
SSL_REACHES_EXISTING_CONNECTIONS = frozenset({"client-ciphers", "server-ciphers", "server-alpn"})


def _run(case: Case, backend: tlsapi.Backend | None, pki: PKI) -> Outcome:
    """The case with ``backend`` as the subject (``None``: plain ``ssl``) and an ``ssl`` peer."""
    if case.subject_is_server:
        subject, peer = server_context(backend, pki), client_context(None, pki)
    else:
        subject, peer = client_context(backend, pki), server_context(None, pki, leaf=case.peer_leaf)
    case.setup(subject, peer, pki)
    return _handshake_after_change(subject, peer, case.subject_is_server, lambda: case.change(subject, pki))


def _params() -> list[Any]:
    return [pytest.param(backend, name, id=f"{backend}-{name}") for backend in available_backends()
            for name, case in CASES.items() if case.needs in tlsapi.get_backend(backend).capabilities()]


@pytest.mark.parametrize(("backend_name", "case_name"), _params())
def test_a_change_after_wrap_does_not_reach_the_connection(backend_name: str, case_name: str, pki: PKI) -> None:
    case = CASES[case_name]
    outcome = _run(case, tlsapi.get_backend(backend_name), pki)
    if backend_name == "stdlib":
        reference = _run(case, None, pki)
        assert outcome == reference
        assert case.wrap_time(reference, pki) is (case_name not in SSL_REACHES_EXISTING_CONNECTIONS)
    else:
        assert case.wrap_time(outcome, pki), outcome


@pytest.mark.parametrize("backend_name", [name for name in available_backends()
                                          if Capability.SNI_CALLBACK in tlsapi.get_backend(name).capabilities()])
def test_the_sni_callback_switches_to_the_other_contexts_settings(backend_name: str, pki: PKI) -> None:
    """``connection.context = other`` in the SNI callback: the handshake continues with ``other``'s
    certificate and ALPN, as they are when the callback runs (changed after the connection was wrapped)."""
    backend = tlsapi.get_backend(backend_name)
    first, other = server_context(backend, pki), server_context(backend, pki, leaf="wrong-host")

    def switch(connection: Any, server_name: str | None, context: Any) -> None:
        connection.context = other

    first.sni_callback = switch
    peer = client_context(None, pki)
    peer.check_hostname = False
    peer.set_alpn_protocols(["h2"])

    def change() -> None:
        other.load_cert_chain(pki.leaf("ecdsa-p384").certfile)
        other.set_alpn_protocols(["h2"])

    outcome = _handshake_after_change(first, peer, True, change)
    assert outcome.alpn == "h2" and outcome.peer_saw_der == pki.leaf("ecdsa-p384").der
