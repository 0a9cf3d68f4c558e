"""Security properties every backend holds, whatever it declares (all CORE).

A setting the backend cannot honour must be refused with :class:`tlsapi.UnsupportedFeatureError`; a setting
it accepts must be enforced. An undeclared feature must be refused: "accept and ignore" fails core. The
peer is the stdlib ``ssl`` module (the reference), so a backend cannot pass by agreeing with itself.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import (
    BIOPair,
    HandshakeResult,
    ThreadedServer,
    check_error,
    check_reference_error,
    client_context,
    reference_client_context,
    reference_server_context,
    server_context,
)
from tlsapi_conformance.pki import BAD_CASES, DEFAULT_LEAF, PKI

Capability = tlsapi.Capability
TLS12, TLS13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3


_ALERT = 21


def _record_types(data: bytes) -> set[int]:
    """The content types of the TLS records in ``data`` (OpenSSL may send an alert, never a ClientHello)."""
    types, offset = set(), 0
    while offset + 5 <= len(data):
        types.add(data[offset])
        offset += 5 + int.from_bytes(data[offset + 3 : offset + 5], "big")
    if offset != len(data):
        types.add(-1)  # not a sequence of records
    return types


def _refused(error: BaseException | None) -> bool:
    return isinstance(error, tlsapi.UnsupportedFeatureError)


# -- client certificates on a server -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "client_cert", "expected_reason"),
    [
        (ssl.CERT_REQUIRED, None, "PEER_DID_NOT_RETURN_A_CERTIFICATE"),
        (ssl.CERT_REQUIRED, "self-signed", "CERTIFICATE_VERIFY_FAILED"),
        (ssl.CERT_OPTIONAL, "self-signed", "CERTIFICATE_VERIFY_FAILED"),
    ],
    ids=["required-no-cert", "required-untrusted-cert", "optional-untrusted-cert"],
)
def test_server_verify_mode_refused_or_enforced(
    backend: tlsapi.Backend, pki: PKI, mode: ssl.VerifyMode, client_cert: str | None, expected_reason: str
) -> None:
    """``verify_mode`` other than ``CERT_NONE`` on a server: refused without CLIENT_AUTH, else enforced."""
    declared = Capability.CLIENT_AUTH in backend.capabilities()
    try:
        server = server_context(backend, pki, verify_mode=mode)
        result = BIOPair(reference_client_context(pki, cert=client_cert), server).handshake()
    except tlsapi.UnsupportedFeatureError:
        assert not declared, f"declares {Capability.CLIENT_AUTH.value!r} but refuses verify_mode={mode.name}"
        return
    if _refused(result.server_error):
        assert not declared, f"declares {Capability.CLIENT_AUTH.value!r} but refuses verify_mode={mode.name}"
        return
    assert declared, (
        f"verify_mode={mode.name} on a server was accepted without declaring {Capability.CLIENT_AUTH.value!r}: "
        "an undeclared feature must raise UnsupportedFeatureError"
    )
    assert result.server_error is not None, (
        f"verify_mode={mode.name} accepted but not enforced: the handshake with "
        f"{'no client certificate' if client_cert is None else 'an untrusted client certificate'} succeeded"
    )
    error = check_error(result.server_error, "SSLError")
    assert error.reason == expected_reason, error


# -- version bounds ----------------------------------------------------------------------------------------


def _no_version(ctx: Any, how: str) -> None:
    if how == "min-above-max":
        ctx.minimum_version = TLS13
        ctx.maximum_version = TLS12
    else:
        ctx.options |= ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3


@pytest.mark.parametrize("how", ["min-above-max", "options"])
def test_client_bounds_leaving_no_version(backend: tlsapi.Backend, pki: PKI, how: str) -> None:
    """A client with no version left fails with ``NO_PROTOCOLS_AVAILABLE`` before sending a ClientHello (OpenSSL
    sends at most an alert)."""
    try:
        ctx = client_context(backend, pki)
        _no_version(ctx, how)
    except tlsapi.UnsupportedFeatureError:
        return  # refused at configuration time: nothing can be sent
    incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLError) as info:
        conn.do_handshake()
    assert not isinstance(info.value, ssl.SSLWantReadError), (
        f"no version is enabled, yet the client sent a ClientHello ({outgoing.pending} bytes)"
    )
    error = check_error(info.value, "SSLError")
    assert error.reason == "NO_PROTOCOLS_AVAILABLE", error
    sent = outgoing.read()
    assert not _record_types(sent) - {_ALERT}, f"records other than an alert were sent: {sent[:16].hex()}"


@pytest.mark.parametrize("how", ["min-above-max", "options"])
def test_server_bounds_leaving_no_version(backend: tlsapi.Backend, pki: PKI, how: str) -> None:
    """A server with no version left fails with ``NO_PROTOCOLS_AVAILABLE``; the peer gets protocol_version."""
    try:
        server = server_context(backend, pki)
        _no_version(server, how)
    except tlsapi.UnsupportedFeatureError:
        return
    result = BIOPair(reference_client_context(pki), server).handshake()
    assert not result.ok, "a server with no version enabled completed a handshake"
    error = check_error(result.server_error, "SSLError")
    assert error.reason == "NO_PROTOCOLS_AVAILABLE", error
    peer = check_reference_error(result.client_error, "SSLError")
    assert peer.reason == "TLSV1_ALERT_PROTOCOL_VERSION", f"the peer received {peer.reason}, not protocol_version"


def _below_minimum(backend: tlsapi.Backend, pki: PKI, side: str) -> tuple[HandshakeResult, BIOPair]:
    if side == "client":
        client = client_context(backend, pki)
        client.minimum_version = TLS13
        pair = BIOPair(client, reference_server_context(pki, version=TLS12))
    else:
        server = server_context(backend, pki)
        server.minimum_version = TLS13
        pair = BIOPair(reference_client_context(pki, version=TLS12), server)
    return pair.handshake(), pair


@pytest.mark.parametrize("side", ["client", "server"])
def test_never_below_minimum_version(backend: tlsapi.Backend, pki: PKI, side: str) -> None:
    """``minimum_version = TLSv1_3`` against a TLS 1.2-only peer fails: never a silent TLS 1.2."""
    result, pair = _below_minimum(backend, pki, side)
    mine = pair.client if side == "client" else pair.server
    assert not result.ok, f"negotiated {mine.version()} below minimum_version TLSv1.3"
    mine_error, peer_error = (
        (result.client_error, result.server_error) if side == "client" else (result.server_error, result.client_error)
    )
    if side == "client":
        # The client offered TLS 1.3 only: the 1.2-only peer finds no common version and says so.
        assert check_reference_error(peer_error, "SSLError").reason == "UNSUPPORTED_PROTOCOL", peer_error
        assert check_error(mine_error, "SSLError").reason == "TLSV1_ALERT_PROTOCOL_VERSION", mine_error
    else:
        assert check_error(mine_error, "SSLError").reason == "UNSUPPORTED_PROTOCOL", mine_error
        assert check_reference_error(peer_error, "SSLError").reason == "TLSV1_ALERT_PROTOCOL_VERSION", peer_error


def _tls12_method(backend: tlsapi.Backend, pki: PKI) -> Any:
    """A ``PROTOCOL_TLSv1_2`` context (deprecated: it warns) serving the default leaf, verifying nothing."""
    with pytest.warns(DeprecationWarning, match="PROTOCOL_TLSv1_2"):
        ctx = tlsapi.Context(ssl.PROTOCOL_TLSv1_2, backend=backend)
    ctx.load_cert_chain(pki[DEFAULT_LEAF].certfile)
    return ctx


@pytest.mark.parametrize("side", ["client", "server"])
def test_tls12_method_speaks_tls12_only(backend: tlsapi.Backend, pki: PKI, side: str) -> None:
    """A ``PROTOCOL_TLSv1_2`` context (either side, as in ``ssl``) negotiates TLS 1.2 with a peer that offers
    1.2 and 1.3, and fails against a TLS 1.3-only peer: its fixed bound is enforced, never widened."""
    for peer_minimum, expected in ((TLS12, "TLSv1.2"), (TLS13, None)):
        if side == "client":
            peer = reference_server_context(pki)
            peer.minimum_version = peer_minimum
            pair = BIOPair(_tls12_method(backend, pki), peer)
        else:
            peer = reference_client_context(pki)
            peer.minimum_version = peer_minimum
            pair = BIOPair(peer, _tls12_method(backend, pki))
        result = pair.handshake()
        mine = pair.client if side == "client" else pair.server
        if expected is None:
            assert not result.ok, f"a PROTOCOL_TLSv1_2 {side} negotiated {mine.version()} with a TLS 1.3-only peer"
        else:
            assert result.ok, result
            assert mine.version() == expected


# -- verify flags --------------------------------------------------------------------------------------------


def _trusting_intermediate_only(backend: tlsapi.Backend, pki: PKI) -> Any:
    ctx = client_context(backend)
    ctx.load_verify_locations(cafile=pki.intermediate.leaf_file)
    return ctx


#: flag -> (client context factory, server leaf, whether the handshake must fail with the flag set).
_FLAG_CASES: dict[str, tuple[ssl.VerifyFlags, Callable[[tlsapi.Backend, PKI], Any], str, bool]] = {
    "crl-check-leaf": (ssl.VERIFY_CRL_CHECK_LEAF, client_context, DEFAULT_LEAF, True),  # no CRL is loaded
    "crl-check-chain": (ssl.VERIFY_CRL_CHECK_CHAIN, client_context, DEFAULT_LEAF, True),
    "x509-strict": (ssl.VERIFY_X509_STRICT, client_context, "no-authority-key-id", True),
    "partial-chain": (ssl.VERIFY_X509_PARTIAL_CHAIN, _trusting_intermediate_only, DEFAULT_LEAF, False),
}


@pytest.mark.parametrize("name", list(_FLAG_CASES))
def test_verify_flag_refused_or_enforced(backend: tlsapi.Backend, pki: PKI, name: str) -> None:
    """Each verify flag is refused (``UnsupportedFeatureError``) or changes the verdict as OpenSSL's does."""
    flag, make_client, leaf, must_fail = _FLAG_CASES[name]
    control = BIOPair(make_client(backend, pki), server_context(backend, pki, leaf=leaf)).handshake()
    assert control.ok is must_fail, f"without {flag.name} the handshake must {'pass' if must_fail else 'fail'}"
    client = make_client(backend, pki)
    try:
        client.verify_flags |= flag
    except tlsapi.UnsupportedFeatureError:
        return
    result = BIOPair(client, server_context(backend, pki, leaf=leaf)).handshake()
    if _refused(result.client_error):
        return
    if must_fail:
        assert result.client_error is not None, f"{flag.name} accepted but not enforced: the handshake succeeded"
        error = check_error(result.client_error, "SSLCertVerificationError")
        assert error.reason == "CERTIFICATE_VERIFY_FAILED", error
    else:
        result.check()


# -- hostname checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("common_name", [None, True], ids=["default", "common-name-on"])
def test_hostname_flags_never_match_partial_wildcards(
    backend: tlsapi.Backend, pki: PKI, common_name: bool | None
) -> None:
    """``f*.example.com`` never matches ``foo.example.com``, whatever the hostname options: enabling
    ``hostname_checks_common_name`` (or refusing it) must not enable partial wildcards."""
    case = BAD_CASES["partial-wildcard"]
    client = client_context(backend, pki)
    if common_name is not None:
        try:
            client.hostname_checks_common_name = common_name
        except tlsapi.UnsupportedFeatureError:
            return
    pair = BIOPair(client, server_context(backend, pki, leaf=case.credential), server_hostname=case.server_hostname)
    result = pair.handshake()
    assert result.client_error is not None, f"the partial wildcard f*.example.com matched {case.server_hostname}"
    error = check_error(result.client_error, "SSLCertVerificationError")
    assert error.reason == "CERTIFICATE_VERIFY_FAILED", error


def test_check_hostname_requires_server_hostname_on_sockets(backend: tlsapi.Backend, pki: PKI) -> None:
    """``check_hostname`` with no ``server_hostname`` cannot check anything: ``wrap_socket`` raises."""
    ctx = client_context(backend, pki)
    with socket.socket() as raw, pytest.raises(ValueError, match="check_hostname requires server_hostname"):
        ctx.wrap_socket(raw)


def test_wrong_hostname_fails_over_sockets(backend: tlsapi.Backend, pki: PKI) -> None:
    """A certificate for another name is rejected against the reference server, over a real socket."""
    with ThreadedServer(lambda tls: None, reference_server_context(pki, leaf="wrong-host")) as server:
        raw = server.connect()
        with raw, pytest.raises(ssl.SSLError) as info:
            client_context(backend, pki).wrap_socket(raw, server_hostname="localhost")
        error = check_error(info.value, "SSLCertVerificationError")
        assert error.reason == "CERTIFICATE_VERIFY_FAILED", error
        server.error()


# -- sessions ------------------------------------------------------------------------------------------------


def test_session_from_another_context_is_refused(backend: tlsapi.Backend, pki: PKI) -> None:
    """A session resumes only on the context that made it: another context (which may trust nothing) gets
    ``ValueError`` (the stdlib's "Session refers to a different SSLContext."), never an unverified resumption."""
    server = server_context(backend, pki)
    first = BIOPair(client_context(backend, pki), server).connect()
    first.exchange()
    session = first.client.session
    if session is None:
        assert Capability.SESSION_RESUMPTION not in backend.capabilities(), "no session after a handshake"
        return
    trusts_nothing = client_context(backend)
    with pytest.raises(ValueError, match="different SSLContext"):
        pair = BIOPair(trusts_nothing, server, session=session)
        result = pair.handshake()
        reused = pair.client.session_reused if result.ok else False
        raise AssertionError(
            f"a session of another context was accepted (handshake ok={result.ok}, resumed={reused})"
        )
