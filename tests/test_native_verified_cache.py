"""The native engine remembers verified chains (issue 19) without giving up any check.

``_trust.verify_peer_chain`` keeps each successful verification on the trust store it was made against,
keyed by the peer's exact chain bytes, the name matched, the peer's role and the partial-chain flag, and
uses it only while every certificate of the verified chain is valid. These tests count cryptography's
verifications (``_trust._run``) while real handshakes run over loopback sockets against plain ``ssl``
servers, and show that an expired, changed or differently named chain, a changed trust store and a
failure are all verified again (and rejected where they must be), and that a remembered chain does not
spare the server's CertificateVerify.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hostile_peer import HostileServer, drive, new_connection, records
from native_pki import Identity, ca, leaf
from test_native_trust import outcome

import tlsapi
from tlsapi_native import _trust
from tlsapi_native._record import HANDSHAKE

UNKNOWN_ISSUER = (20, "unable to get local issuer certificate")


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The hostnames of the chain verifications cryptography really runs (``None``: no name matched), with
    nothing remembered at the start (contexts loading the same CA file share one trust store, and so what was
    verified against it)."""
    _trust._CACHE.clear()
    calls: list[str | None] = []
    real = _trust._run

    def counting(request: Any, hostname: str | None, time: Any) -> Any:
        calls.append(hostname)
        return real(request, hostname, time)

    monkeypatch.setattr(_trust, "_run", counting)
    return calls


def server_of(identity: Identity) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(identity.cert_path, identity.key_path)
    return context


def native_client(*cafiles: str) -> tlsapi.Context:
    """A native client context trusting ``cafiles``, made once (the test reuses it, as a pool does)."""
    context = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")
    for cafile in cafiles:
        context.load_verify_locations(cafile)
    return context


def reuse(context: ssl.SSLContext) -> Callable[[], ssl.SSLContext]:
    return lambda: context


def test_a_second_handshake_reuses_the_verified_chain(verifications: list[str | None]) -> None:
    client = native_client(ca("cache-a").cert_path)
    server = server_of(leaf(issuer="cache-a"))
    assert outcome(reuse(client), server) == "ok"
    assert outcome(reuse(client), server) == "ok"
    assert verifications == ["localhost"]


def test_a_chain_expired_since_it_was_verified_is_rejected(
    verifications: list[str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    identity = leaf(issuer="cache-a")
    client = native_client(ca("cache-a").cert_path)
    assert outcome(reuse(client), server_of(identity)) == "ok"
    after = identity.certificate.not_valid_after_utc + datetime.timedelta(seconds=1)
    monkeypatch.setattr(_trust, "_now", lambda: after)
    assert outcome(reuse(client), server_of(identity)) == (10, "certificate has expired")
    assert verifications[:2] == ["localhost", "localhost"]  # verified again (then diagnosed)


def test_a_changed_chain_is_verified_again(verifications: list[str | None]) -> None:
    client = native_client(ca("cache-a").cert_path)
    assert outcome(reuse(client), server_of(leaf(issuer="cache-a"))) == "ok"
    # Same name, another issuer the client does not trust.
    assert outcome(reuse(client), server_of(leaf(issuer="cache-untrusted"))) == UNKNOWN_ISSUER
    # Same name and issuer, another certificate (another key): verified on its own.
    assert outcome(reuse(client), server_of(leaf("ecdsa-p384", issuer="cache-a"))) == "ok"
    assert verifications.count("localhost") == 3


def test_the_name_is_part_of_what_was_verified(verifications: list[str | None]) -> None:
    client = native_client(ca("cache-a").cert_path)
    server = server_of(leaf(issuer="cache-a"))
    assert outcome(reuse(client), server) == "ok"
    assert outcome(reuse(client), server, hostname="example.com") == (
        62, "Hostname mismatch, certificate is not valid for 'example.com'.")
    assert verifications[:2] == ["localhost", "example.com"]


def test_a_changed_trust_store_verifies_again(verifications: list[str | None]) -> None:
    server = server_of(leaf(issuer="cache-a"))
    client = native_client(ca("cache-a").cert_path)
    assert outcome(reuse(client), server) == "ok"
    # A context trusting another CA only: the chain verified for the first store is not taken from it.
    assert outcome(reuse(native_client(ca("cache-b").cert_path)), server) == UNKNOWN_ISSUER
    # The first context's store changes (one more CA): a new store, verified again.
    client.load_verify_locations(ca("cache-b").cert_path)
    assert outcome(reuse(client), server) == "ok"
    assert verifications.count("localhost") == 3


def test_a_failure_is_never_remembered(verifications: list[str | None]) -> None:
    client = native_client(ca("cache-a").cert_path)
    server = server_of(leaf(issuer="cache-untrusted"))
    assert outcome(reuse(client), server) == UNKNOWN_ISSUER
    assert outcome(reuse(client), server) == UNKNOWN_ISSUER
    assert verifications == ["localhost", "localhost"]


def _handshake_with(client: tlsapi.Context, identity: Identity, key: Any) -> Any:
    """A native client's handshake with a server sending ``identity``'s chain and signing with ``key``."""
    conn, incoming, outgoing = new_connection(client, False)
    hello = drive(conn, incoming, outgoing, [b""])
    assert hello.want_read
    peer = HostileServer([identity.der], key)
    peer.receive(hello.output)
    server_hello = peer.server_hello()
    flight = records(server_hello) + peer.protect(HANDSHAKE, b"".join(peer.flight()))
    return drive(conn, incoming, outgoing, [flight]), peer


def test_a_remembered_chain_still_needs_the_servers_certificate_verify() -> None:
    identity = leaf(issuer="cache-a")
    client = native_client(ca("cache-a").cert_path)
    done, _ = _handshake_with(client, identity, identity.key)
    assert done.error is None
    # The same chain, remembered as verified, signed with a key that is not the certificate's.
    forged, peer = _handshake_with(client, identity, ec.generate_private_key(ec.SECP256R1()))
    assert isinstance(forged.error, ssl.SSLError) and not isinstance(forged.error, ssl.SSLWantReadError)
    assert forged.error.reason == "BAD_SIGNATURE"
    assert peer.read_alert(forged.output).description == 51  # decrypt_error
