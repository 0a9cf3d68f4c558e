"""The native connection after the handshake: post-handshake client authentication (RFC 8446 4.6.2), and our
own KeyUpdate at the AEAD limit (never in TLS 1.2)."""

from __future__ import annotations

import ssl
from typing import Any

import native_pki as pki
import pytest
from test_native_engine import CA, Pair, client_context, read_all, server_context

from tlsapi_native import _traffic


def _pha_contexts(client_kind: str, server_kind: str, with_cert: bool = True,
                  mode: ssl.VerifyMode = ssl.CERT_REQUIRED) -> tuple[Any, Any, Any]:
    identity = pki.leaf("ecdsa-p256", "client.example", client=True)
    client = client_context(client_kind)
    if with_cert:
        client.load_cert_chain(identity.cert_path, identity.key_path)
    client.post_handshake_auth = True
    server = server_context(server_kind)
    server.verify_mode = mode
    server.load_verify_locations(CA.cert_path)
    server.post_handshake_auth = True
    return client, server, identity


@pytest.mark.parametrize("client_kind,server_kind", [("native", "native"), ("native", "stdlib"),
                                                      ("stdlib", "native")])
def test_post_handshake_auth(client_kind: str, server_kind: str) -> None:
    client, server, identity = _pha_contexts(client_kind, server_kind)
    pair = Pair(client, server)
    assert pair.handshake() == {}
    assert pair.server.getpeercert() is None
    pair.server.verify_client_post_handshake()
    pair.server.write(b"request")
    pair.flush()
    assert read_all(pair.client, 7) == b"request"  # the client answers the CertificateRequest here
    pair.client.write(b"answer")
    pair.flush()
    assert read_all(pair.server, 6) == b"answer"
    assert pair.server.getpeercert(True) == identity.der
    assert pair.server.getpeercert()["subject"] == ((("commonName", "client.example"),),)
    pair.roundtrip()


@pytest.mark.parametrize("client_kind", ["native", "stdlib"])
def test_post_handshake_auth_required_but_no_certificate(client_kind: str) -> None:
    client, server, _ = _pha_contexts(client_kind, "native", with_cert=False)
    pair = Pair(client, server)
    assert pair.handshake() == {}
    pair.server.verify_client_post_handshake()
    pair.server.write(b"request")
    pair.flush()
    assert read_all(pair.client, 7) == b"request"
    pair.client.write(b"answer")
    pair.flush()
    with pytest.raises(ssl.SSLError) as info:
        pair.server.read(6)
    assert info.value.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert pair.s_out.read()[-2:] != b""  # the certificate_required alert went out
    pair.flush()


def test_post_handshake_auth_optional_without_certificate() -> None:
    client, server, _ = _pha_contexts("native", "native", with_cert=False, mode=ssl.CERT_OPTIONAL)
    pair = Pair(client, server)
    assert pair.handshake() == {}
    pair.server.verify_client_post_handshake()
    pair.roundtrip()
    pair.roundtrip()
    assert pair.server.getpeercert() is None


def test_verify_client_post_handshake_errors() -> None:
    client, server, _ = _pha_contexts("native", "native")
    client.post_handshake_auth = False
    pair = Pair(client, server)
    with pytest.raises(ssl.SSLError):  # still in the handshake
        pair.server.verify_client_post_handshake()
    assert pair.handshake() == {}
    with pytest.raises(ssl.SSLError) as info:
        pair.server.verify_client_post_handshake()
    assert info.value.reason == "EXTENSION_NOT_RECEIVED"
    with pytest.raises(ssl.SSLError) as info:
        pair.client.verify_client_post_handshake()
    assert info.value.reason == "NOT_SERVER"


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_key_update_at_record_limit(monkeypatch: pytest.MonkeyPatch, peer: str) -> None:
    monkeypatch.setattr(_traffic, "KEY_UPDATE_AFTER_RECORDS", 3)
    pair = Pair(client_context(), server_context(peer))
    assert pair.handshake() == {}
    first_secret = pair.client.traffic.write_secret
    for index in range(10):
        pair.roundtrip(b"message %d" % index)
    assert pair.client.traffic.write_secret != first_secret
    assert pair.client._records.write_sequence <= 3


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_tls12_never_sends_key_update(monkeypatch: pytest.MonkeyPatch, peer: str) -> None:
    """TLS 1.2 has no KeyUpdate: past the TLS 1.3 limit the records simply go on."""
    monkeypatch.setattr(_traffic, "KEY_UPDATE_AFTER_RECORDS", 3)
    client = client_context()
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    pair = Pair(client, server_context(peer))
    assert pair.handshake() == {}
    assert pair.client.version() == "TLSv1.2"
    for index in range(10):
        pair.roundtrip(b"message %d" % index)
    assert pair.client._records.write_sequence > 10
