"""Optional features: ALPN, SNI and its callback, sessions, keylog, post-handshake auth, channel binding,
cipher selection, key-exchange groups, HelloRetryRequest, the exporter."""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Any

import pytest

import tlsapi
from tlsapi._enums import GROUP_CAPABILITIES, TLS13_ONLY_GROUPS
from tlsapi_conformance.harness import (
    VERSIONS,
    BIOPair,
    check_error,
    client_context,
    group_test_leaf,
    negotiated_group,
    not_declared,
    reference_server_context,
    server_context,
    set_groups,
)
from tlsapi_conformance.pki import PKI
from tlsapi_conformance.plugin import get_run

Capability = tlsapi.Capability
GROUP_CAPABILITY = {name: capability for capability, name in GROUP_CAPABILITIES.items()}

# -- ALPN -------------------------------------------------------------------------------------------------


@pytest.mark.capability(Capability.ALPN)
@pytest.mark.parametrize(
    ("client_offer", "server_prefs", "expected"),
    [
        (["h2", "http/1.1"], ["h2", "http/1.1"], "h2"),
        (["http/1.1", "h2"], ["h2", "http/1.1"], "h2"),  # the server's preference wins
        (["http/1.1"], ["h2", "http/1.1"], "http/1.1"),
        (["h2"], ["http/1.1"], None),  # no overlap: the handshake completes without ALPN
        (["h2", "http/1.1"], [], None),  # server without ALPN
        ([], ["h2"], None),  # client without ALPN
    ],
    ids=["match", "server-preference", "second-choice", "no-overlap", "server-without", "client-without"],
)
@pytest.mark.parametrize("version", VERSIONS)
def test_alpn(
    backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion, client_offer: list[str],
    server_prefs: list[str], expected: str | None,
) -> None:
    client, server = client_context(backend, pki, version=version), server_context(backend, pki)
    if client_offer:
        client.set_alpn_protocols(client_offer)
    if server_prefs:
        server.set_alpn_protocols(server_prefs)
    pair = BIOPair(client, server).connect()
    assert pair.client.selected_alpn_protocol() == expected
    assert pair.server.selected_alpn_protocol() == expected


def test_alpn_absent_by_default(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    assert pair.client.selected_alpn_protocol() is None
    assert pair.server.selected_alpn_protocol() is None


# -- SNI --------------------------------------------------------------------------------------------------


@pytest.mark.capability(Capability.SNI_CALLBACK)
@pytest.mark.parametrize(("hostname", "expected"), [("localhost", "localhost"), ("127.0.0.1", None)],
                         ids=["dns-name", "ip-sends-no-sni"])
def test_sni_value_seen_by_server(backend: tlsapi.Backend, pki: PKI, hostname: str, expected: str | None) -> None:
    seen: list[Any] = []
    server = server_context(backend, pki)
    server.sni_callback = lambda conn, name, ctx: seen.append((name, ctx is server, conn.server_side))
    BIOPair(client_context(backend, pki), server, server_hostname=hostname).connect()
    assert seen == [(expected, True, True)]


@pytest.mark.capability(Capability.SNI_CALLBACK)
def test_sni_callback_switches_certificate(backend: tlsapi.Backend, pki: PKI) -> None:
    server = server_context(backend, pki)
    alternate = server_context(backend, pki, leaf="alternate")

    def choose(conn: Any, name: str | None, ctx: Any) -> None:
        if name == "alternate.example":
            conn.context = alternate

    server.sni_callback = choose
    pair = BIOPair(client_context(backend, pki), server, server_hostname="alternate.example").connect()
    assert pair.client.getpeercert(binary_form=True) == pki["alternate"].der
    assert pair.server.context is alternate
    pair = BIOPair(client_context(backend, pki), server, server_hostname="localhost").connect()
    assert pair.client.getpeercert(binary_form=True) == pki.leaf().der


@pytest.mark.capability(Capability.SNI_CALLBACK)
def test_sni_callback_alert(backend: tlsapi.Backend, pki: PKI) -> None:
    server = server_context(backend, pki)
    server.sni_callback = lambda conn, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    result = BIOPair(client_context(backend, pki), server).handshake()
    client_error = check_error(result.client_error, "SSLError")
    assert client_error.reason == "TLSV1_UNRECOGNIZED_NAME", client_error
    check_error(result.server_error, "SSLError")


# -- sessions ---------------------------------------------------------------------------------------------


@pytest.mark.capability(Capability.SESSION_RESUMPTION)
@pytest.mark.parametrize("version", VERSIONS)
def test_session_resumption(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    client, server = client_context(backend, pki, version=version), server_context(backend, pki)
    first = BIOPair(client, server).connect()
    first.exchange()  # TLS 1.3: the tickets arrive after the handshake
    assert not first.client.session_reused and not first.server.session_reused
    session = first.client.session
    assert session is not None
    second = BIOPair(client, server, session=session).connect()
    second.exchange()
    assert second.client.session_reused, "the client did not resume"
    assert second.server.session_reused, "the server did not resume"
    third = BIOPair(client, server).connect()
    assert not third.client.session_reused


@pytest.mark.capability(Capability.SESSION_RESUMPTION)
def test_session_assigned_before_handshake(backend: tlsapi.Backend, pki: PKI) -> None:
    client, server = client_context(backend, pki), server_context(backend, pki)
    first = BIOPair(client, server).connect()
    first.exchange()
    second = BIOPair(client, server)
    second.client.session = first.client.session
    second.connect()
    assert second.client.session_reused


# -- keylog -----------------------------------------------------------------------------------------------

_HEX64 = "[0-9a-f]{64}"
_LABELS_13 = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
              "SERVER_TRAFFIC_SECRET_0"}


@pytest.mark.capability(Capability.KEYLOG)
@pytest.mark.parametrize("side", ["client", "server"])
@pytest.mark.parametrize("version", VERSIONS)
def test_keylog_nss_format(
    backend: tlsapi.Backend, pki: PKI, tmp_path: Path, version: ssl.TLSVersion, side: str
) -> None:
    path = tmp_path / "keylog.txt"
    client, server = client_context(backend, pki, version=version), server_context(backend, pki)
    (client if side == "client" else server).keylog_filename = str(path)
    BIOPair(client, server).connect().exchange()
    lines = [line for line in path.read_text("ascii").splitlines() if line and not line.startswith("#")]
    assert lines, "nothing was logged"
    randoms = set()
    labels = set()
    for line in lines:
        match = re.fullmatch(rf"([A-Z_0-9]+) ({_HEX64}) ([0-9a-f]+)", line)
        assert match, f"not an NSS key log line: {line!r}"
        labels.add(match[1])
        randoms.add(match[2])
        if match[1] == "CLIENT_RANDOM":
            assert len(match[3]) == 96, "the TLS 1.2 master secret is 48 bytes"
        else:
            assert len(match[3]) in (64, 96), "TLS 1.3 secrets are the hash length"
    assert len(randoms) == 1, "one connection, one client random"
    if version == ssl.TLSVersion.TLSv1_3:
        assert labels >= _LABELS_13, labels
    else:
        assert labels == {"CLIENT_RANDOM"}, labels


# -- post-handshake authentication ------------------------------------------------------------------------

_PHA_PREREQUISITES = (Capability.TLSv1_3, Capability.CLIENT_AUTH, Capability.CLIENT_CERT)


@pytest.mark.capability(Capability.POST_HANDSHAKE_AUTH, requires=_PHA_PREREQUISITES)
def test_post_handshake_auth(backend: tlsapi.Backend, pki: PKI) -> None:
    server = server_context(backend, pki, verify_mode=ssl.CERT_REQUIRED)
    server.post_handshake_auth = True
    client = client_context(backend, pki, cert="client")
    client.post_handshake_auth = True
    pair = BIOPair(client, server).connect()
    assert pair.server.getpeercert() is None, "no certificate before the post-handshake request"
    pair.server.verify_client_post_handshake()
    assert pair.send(b"request", from_client=False) == b"request"  # carries the CertificateRequest
    assert pair.send(b"answer", from_client=True) == b"answer"  # carries the Certificate
    assert pair.server.getpeercert(binary_form=True) == pki.client.der


@pytest.mark.capability(Capability.POST_HANDSHAKE_AUTH, requires=_PHA_PREREQUISITES)
def test_post_handshake_auth_not_enabled_by_client(backend: tlsapi.Backend, pki: PKI) -> None:
    server = server_context(backend, pki, verify_mode=ssl.CERT_OPTIONAL)
    server.post_handshake_auth = True
    pair = BIOPair(client_context(backend, pki, cert="client"), server).connect()
    with pytest.raises(ssl.SSLError) as info:
        pair.server.verify_client_post_handshake()
    check_error(info.value, "SSLError")


# -- channel binding, cipher selection, exporter -------------------------------------------------------


@pytest.mark.capability(Capability.CHANNEL_BINDING, requires=(Capability.TLSv1_2,))
def test_channel_binding_tls_unique(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki, version=ssl.TLSVersion.TLSv1_2), server_context(backend, pki))
    assert pair.client.get_channel_binding("tls-unique") is None
    pair.connect()
    client_cb = pair.client.get_channel_binding("tls-unique")
    assert isinstance(client_cb, bytes) and len(client_cb) == 12
    assert client_cb == pair.server.get_channel_binding("tls-unique")
    with pytest.raises(ValueError):
        pair.client.get_channel_binding("no-such-binding")


@pytest.mark.capability(Capability.SET_CIPHERS, requires=(Capability.TLSv1_2,))
@pytest.mark.parametrize("suite", ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_set_ciphers_tls12(backend: tlsapi.Backend, pki: PKI, suite: str) -> None:
    client = client_context(backend, pki, version=ssl.TLSVersion.TLSv1_2)
    client.set_ciphers(suite)
    pair = BIOPair(client, server_context(backend, pki)).connect()
    assert pair.client.cipher()[0] == pair.server.cipher()[0] == suite
    assert any(c["name"] == suite for c in client.get_ciphers())


@pytest.mark.capability(Capability.KEY_UPDATE, requires=(Capability.TLSv1_3,))
@pytest.mark.parametrize("request_peer", [True, False], ids=["update-requested", "update-not-requested"])
def test_key_update(backend: tlsapi.Backend, pki: PKI, request_peer: bool) -> None:
    """Either side may update its keys at any time; data keeps flowing both ways, many times over."""
    pair = BIOPair(client_context(backend, pki, version=ssl.TLSVersion.TLSv1_3), server_context(backend, pki))
    pair.connect().exchange()
    for round_ in range(3):
        for sender in (pair.client, pair.server):
            sender.key_update(request_peer)
            message = f"after update {round_}".encode()
            assert pair.send(message, from_client=True) == message
            assert pair.send(message, from_client=False) == message
    unestablished = BIOPair(client_context(backend, pki), server_context(backend, pki))
    with pytest.raises(ValueError):
        unestablished.client.key_update()


@pytest.mark.capability(Capability.EXPORTER)
@pytest.mark.parametrize("version", VERSIONS)
def test_exporter(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    pair = BIOPair(client_context(backend, pki, version=version), server_context(backend, pki)).connect()
    for context in (None, b"ctx"):
        secret = pair.client.export_keying_material(b"EXPORTER-tlsapi", context, 32)
        assert len(secret) == 32
        assert secret == pair.server.export_keying_material(b"EXPORTER-tlsapi", context, 32)
    assert pair.client.export_keying_material(b"EXPORTER-other", None, 32) != secret


# -- groups ----------------------------------------------------------------------------------------------


def _group_params() -> list[Any]:
    """(group, version) for every group and the versions it exists in, tagged with both capabilities."""
    return [
        pytest.param(name, version.values[0], marks=[pytest.mark.capability(cap), *version.marks],
                     id=f"{name}-{version.id}")
        for cap, name in GROUP_CAPABILITIES.items()
        for version in VERSIONS
        if name not in TLS13_ONLY_GROUPS or version.values[0] == ssl.TLSVersion.TLSv1_3
    ]


@pytest.mark.parametrize(("group", "version"), _group_params())
def test_group(backend: tlsapi.Backend, pki: PKI, group: str, version: ssl.TLSVersion) -> None:
    client = client_context(backend, pki, version=version)
    server = server_context(backend, pki, leaf=group_test_leaf(backend))
    if not (set_groups(client, [group]) and set_groups(server, [group])):
        not_declared("the backend has no set_groups() to force a group")
    pair = BIOPair(client, server).connect()
    for conn in (pair.client, pair.server):
        reported = negotiated_group(conn)
        assert reported in (None, group), f"negotiated {reported!r}, restricted to {group!r}"


#: The ServerHello.random of a HelloRetryRequest (RFC 8446, 4.1.3): how the case sees one on the wire.
_HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
#: The reference server restricted to one group, in the ``set_ecdh_curve`` spelling.
_REFERENCE_CURVES = {"secp256r1": "prime256v1", "x25519": "X25519", "secp384r1": "secp384r1"}


@pytest.mark.capability(Capability.HELLO_RETRY_REQUEST, requires=(Capability.TLSv1_3,))
def test_hello_retry_request_client(backend: tlsapi.Backend, pki: PKI) -> None:
    """The backend's client, with its default groups, against the reference server accepting one group
    only: when its first key share is refused it answers the HelloRetryRequest (tried per group until the
    server sends one)."""
    declared = backend.capabilities()
    for group, curve in _REFERENCE_CURVES.items():
        if GROUP_CAPABILITY[group] not in declared:
            continue
        server = reference_server_context(pki)
        server.set_ecdh_curve(curve)
        pair = BIOPair(client_context(backend, pki, version=ssl.TLSVersion.TLSv1_3), server).connect()
        if _HRR_RANDOM in pair.server_sent:
            pair.exchange()
            assert negotiated_group(pair.client) in (None, group)
            return
    not_declared("the client's first key share is in every group the reference server could be limited to")


@pytest.mark.capability(Capability.HELLO_RETRY_REQUEST, requires=(Capability.TLSv1_3, Capability.GROUP_SECP256R1))
def test_hello_retry_request_server(backend: tlsapi.Backend, pki: PKI, request: pytest.FixtureRequest) -> None:
    """A client offering x25519 then secp256r1 (one key share, x25519) to the backend's server restricted to
    secp256r1: the server sends a HelloRetryRequest. The client is any installed backend (this one
    included) whose ``set_groups`` takes both."""
    server = server_context(backend, pki)
    if not set_groups(server, ["secp256r1"]):
        not_declared("the server cannot be restricted to secp256r1 (set_groups)")
    for peer in get_run(request.config).peers():
        client = client_context(peer, pki, version=ssl.TLSVersion.TLSv1_3)
        if Capability.GROUP_X25519 in peer.capabilities() and set_groups(client, ["x25519", "secp256r1"]):
            break
    else:
        not_declared("no installed backend can offer x25519 then secp256r1 as a client")
    pair = BIOPair(client, server).connect()
    assert _HRR_RANDOM in pair.server_sent, "the server accepted a key share in a group it was not limited to"
    pair.exchange()
    assert negotiated_group(pair.server) in (None, "secp256r1")
