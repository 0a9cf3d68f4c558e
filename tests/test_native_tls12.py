"""TLS 1.2 in the native engine: PRF known answers, interop with the stdlib (OpenSSL 3.0 over memory BIOs),
pyOpenSSL (memory BIOs) and the ``openssl`` binary for every suite and key type (full and resumed
handshakes), and the security rules: EMS required, renegotiation refused, TLS_FALLBACK_SCSV, the downgrade
sentinel, version negotiation."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

import tlsapi
from tlsapi_conformance.harness import BIOPair, ThreadedServer, recv_exactly
from tlsapi_conformance.interop import openssl_server
from tlsapi_conformance.pki import PKI
from tlsapi_native import _groups, _server12
from tlsapi_native import _messages as m
from tlsapi_native import _messages12 as m12
from tlsapi_native._certificates import der_chain, parse_certificate
from tlsapi_native._codec import vec16_at
from tlsapi_native._prf import prf
from tlsapi_native._record import HANDSHAKE
from tlsapi_native._suites import TLS12_SUITES

V12 = ssl.TLSVersion.TLSv1_2
OPENSSL = shutil.which("openssl")
NATIVE = tlsapi.get_backend("native")
PYOPENSSL = tlsapi.get_backend("pyopenssl")

# (suite, key type) for every suite and the key types its authentication takes.
COMBOS = [(s.name, key) for s in TLS12_SUITES.values()
          for key in (("ecdsa-p256", "ecdsa-p384") if s.auth == "ECDSA" else ("rsa-2048",))]
COMBO_IDS = [f"{suite}-{key}" for suite, key in COMBOS]


def context(kind: str, pki: PKI, server: bool, *, leaf: str = "ecdsa-p256", max12: bool = True) -> Any:
    """A client or server context of ``kind`` (native, stdlib = ``ssl`` itself, pyopenssl)."""
    protocol = ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT
    if kind == "stdlib":
        ctx: Any = ssl.SSLContext(protocol)
    else:
        ctx = tlsapi.Context(protocol, backend=NATIVE if kind == "native" else PYOPENSSL)
    if server:
        ctx.load_cert_chain(pki[leaf].certfile)
    else:
        ctx.load_verify_locations(cafile=pki.ca_file)
    if max12:
        ctx.maximum_version = V12
    return ctx


def connect(client: Any, server: Any, session: Any = None) -> BIOPair:
    pair = BIOPair(client, server, session=session).connect()
    pair.exchange()
    return pair


# -- the PRF ---------------------------------------------------------------------------------------------


def test_prf_known_answers() -> None:
    """The IETF TLS WG vectors for P_SHA256 / P_SHA384 (checked against ``openssl kdf TLS1-PRF``)."""
    from cryptography.hazmat.primitives import hashes

    out = prf(hashes.SHA256, bytes.fromhex("9bbe436ba940f017b17652849a71db35"), b"test label",
              bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out.hex() == (
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa0"
        "22f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66")
    out = prf(hashes.SHA384, bytes.fromhex("b80b733d6ceefcdc71566ea48e5567df"), b"test label",
              bytes.fromhex("cd665cf6a8447dd6ff8b27555edb7465"), 148)
    assert out.hex() == (
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534"
        "cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd"
        "4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f")


# -- interop over memory BIOs ----------------------------------------------------------------------------


# native against itself once; against each OpenSSL-based peer from both sides
PEER_SIDES = [("native", "client"), ("stdlib", "client"), ("stdlib", "server"),
              ("pyopenssl", "client"), ("pyopenssl", "server")]


@pytest.mark.parametrize(("peer", "native_side"), PEER_SIDES, ids=[f"{p}-native-{s}" for p, s in PEER_SIDES])
@pytest.mark.parametrize(("suite", "key"), COMBOS, ids=COMBO_IDS)
def test_interop(pki: PKI, peer: str, native_side: str, suite: str, key: str) -> None:
    client_kind, server_kind = ("native", peer) if native_side == "client" else (peer, "native")
    client, server = context(client_kind, pki, False), context(server_kind, pki, True, leaf=key)
    client.set_ciphers(suite)
    first = connect(client, server)
    bits = TLS12_SUITES[next(c for c, s in TLS12_SUITES.items() if s.name == suite)].secret_bits
    for conn in (first.client, first.server):
        assert conn.version() == "TLSv1.2"
        assert conn.cipher() == (suite, "TLSv1.2", bits)
        assert not conn.session_reused
    assert first.client.getpeercert(binary_form=True) == pki[key].der
    assert first.client.get_channel_binding("tls-unique") == first.server.get_channel_binding("tls-unique")
    second = connect(client, server, session=first.client.session)
    assert second.client.session_reused and second.server.session_reused
    assert second.client.cipher() == second.server.cipher() == (suite, "TLSv1.2", bits)
    assert second.client.getpeercert(binary_form=True) == pki[key].der
    assert second.client.get_channel_binding("tls-unique") == second.server.get_channel_binding("tls-unique")


@pytest.mark.parametrize("peer", ["stdlib", "pyopenssl"])
@pytest.mark.parametrize("native_side", ["client", "server"])
def test_default_contexts_negotiate_by_maximum_version(pki: PKI, peer: str, native_side: str) -> None:
    """Only one side capped at TLS 1.2: 1.2 is negotiated; neither capped: 1.3."""
    for capped in ("client", "server", None):
        kinds = {"client": "native", "server": peer} if native_side == "client" else {"client": peer,
                                                                                      "server": "native"}
        client = context(kinds["client"], pki, False, max12=capped == "client")
        server = context(kinds["server"], pki, True, max12=capped == "server")
        pair = connect(client, server)
        assert pair.client.version() == pair.server.version() == ("TLSv1.3" if capped is None else "TLSv1.2")


def test_exporter_matches_pyopenssl(pki: PKI) -> None:
    pair = connect(context("pyopenssl", pki, False), context("native", pki, True))
    for label_context in (None, b"", b"ctx"):
        assert (pair.client.export_keying_material(b"EXPORTER-test", label_context, 42)
                == pair.server.export_keying_material(b"EXPORTER-test", label_context, 42))
    assert (pair.server.export_keying_material(b"EXPORTER-test", None, 32)
            != pair.server.export_keying_material(b"EXPORTER-test", b"", 32))


@pytest.mark.parametrize("peer", ["stdlib", "native"])
@pytest.mark.parametrize("key", ["ecdsa-p256", "rsa-2048", "ed25519"])
def test_client_certificates(pki: PKI, peer: str, key: str) -> None:
    server = context("native", pki, True)
    server.load_verify_locations(cafile=pki.ca_file)
    server.verify_mode = ssl.CERT_REQUIRED
    client = context(peer, pki, False)
    # The conformance PKI's good leaves carry serverAuth and clientAuth: each key type is a client certificate.
    client.load_cert_chain(pki.client.certfile if key == "ecdsa-p256" else pki[key].certfile)
    pair = BIOPair(client, server)
    pair.handshake().check()
    assert pair.server.getpeercert(binary_form=True) == (pki.client if key == "ecdsa-p256" else pki[key]).der
    # CERT_REQUIRED without a certificate: handshake_failure (TLS 1.2 has no certificate_required)
    server.verify_mode = ssl.CERT_REQUIRED
    result = BIOPair(context(peer, pki, False), server).handshake()
    assert isinstance(result.server_error, ssl.SSLError)
    assert result.server_error.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert isinstance(result.client_error, ssl.SSLError)
    assert result.client_error.reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_native_client_certificate_to_stdlib(pki: PKI) -> None:
    server = context("stdlib", pki, True)
    server.load_verify_locations(cafile=pki.ca_file)
    server.verify_mode = ssl.CERT_REQUIRED
    client = context("native", pki, False)
    client.load_cert_chain(pki.client.certfile)
    pair = connect(client, server)
    assert pair.server.getpeercert(binary_form=True) == pki.client.der


def test_alpn_sni_keylog(pki: PKI, tmp_path: Path) -> None:
    client, server = context("stdlib", pki, False), context("native", pki, True)
    client.set_alpn_protocols(["h2", "http/1.1"])
    server.set_alpn_protocols(["http/1.1"])
    seen: list[str | None] = []
    server.sni_callback = lambda conn, name, ctx: seen.append(name)
    server.keylog_filename = str(tmp_path / "keys")
    pair = connect(client, server)
    assert pair.client.selected_alpn_protocol() == pair.server.selected_alpn_protocol() == "http/1.1"
    assert seen == ["localhost"]
    (header, line) = (tmp_path / "keys").read_text().splitlines()
    label, client_random, master = line.split()
    assert label == "CLIENT_RANDOM" and len(client_random) == 64 and len(master) == 96
    assert header == "# TLS secrets log file, generated by OpenSSL / Python"


# -- the openssl binary, one process per suite and key ----------------------------------------------------

needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl binary")


@needs_openssl
@pytest.mark.parametrize(("suite", "key"), COMBOS, ids=COMBO_IDS)
def test_native_client_to_openssl_server(pki: PKI, suite: str, key: str) -> None:
    client = context("native", pki, False, max12=False)
    client.set_ciphers(suite)
    session = None
    with openssl_server(pki, key, version=V12, extra=["-cipher", suite, "-naccept", "2"]) as port:
        for attempt in range(2):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            with client.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                assert tls.version() == "TLSv1.2" and tls.cipher()[0] == suite
                assert tls.session_reused == (attempt == 1)
                tls.sendall(b"hello openssl\n")
                assert recv_exactly(tls, 14) == b"lssnepo olleh\n"
                session = tls.session


@needs_openssl
@pytest.mark.parametrize(("suite", "key"), COMBOS, ids=COMBO_IDS)
def test_openssl_client_to_native_server(pki: PKI, suite: str, key: str, tmp_path: Path) -> None:
    server_ctx = context("native", pki, True, leaf=key, max12=False)
    session_file = tmp_path / "session.pem"

    def reverse_line(tls: Any) -> None:
        line = b""
        while not line.endswith(b"\n"):
            line += tls.recv(100)
        tls.sendall(line[:-1][::-1] + b"\n")

    for resume in (False, True):
        with ThreadedServer(reverse_line, server_ctx) as server:
            session_args = ["-sess_in", str(session_file)] if resume else ["-sess_out", str(session_file)]
            assert OPENSSL is not None
            result = subprocess.run(
                [OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
                 "-CAfile", str(pki.ca_file), "-verify_return_error", "-tls1_2", "-cipher", suite,
                 "-ign_eof", *session_args],
                input=b"hello native\n", capture_output=True, timeout=15, check=False)
            server.result()
        output = result.stdout.decode(errors="replace")
        assert "evitan olleh" in output, output + result.stderr.decode(errors="replace")
        assert ("Reused, TLSv1.2" if resume else "New, TLSv1.2") in output
        assert f"Cipher is {suite}" in output


# -- security rules ---------------------------------------------------------------------------------------


def records(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos = 0
    while pos < len(data):
        fragment, next_pos = vec16_at(data, pos + 3, len(data))
        yield data[pos], fragment
        pos = next_pos


def hello_12(pki: PKI) -> m.ClientHello:
    """The native TLS 1.2-only client's ClientHello."""
    out = ssl.MemoryBIO()
    conn = context("native", pki, False).wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    ((content_type, payload),) = records(out.read())
    assert content_type == HANDSHAKE
    return m.ClientHello.parse(payload[4:])


def serve(pki: PKI, hello: m.ClientHello, *, max12: bool = False) -> tuple[ssl.SSLError | None, bytes]:
    """Feed ``hello`` to a native server: ``(error or None, what it wrote)``."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = context("native", pki, True, max12=max12).wrap_bio(incoming, outgoing, server_side=True)
    raw = hello.build()
    incoming.write(bytes((HANDSHAKE, 3, 1)) + len(raw).to_bytes(2, "big") + raw)
    try:
        server.do_handshake()
    except ssl.SSLWantReadError:
        return None, outgoing.read()
    except ssl.SSLError as exc:
        return exc, outgoing.read()
    raise AssertionError("the handshake cannot complete on a ClientHello")


def first_message(payload: bytes) -> bytes:
    """The first handshake message in a record's ``payload`` (a server's flight shares one record), header
    included."""
    return payload[: 4 + int.from_bytes(payload[1:4], "big")]


def server_hello_of(written: bytes) -> m.ServerHello:
    content_type, payload = next(records(written))
    assert content_type == HANDSHAKE and payload[0] == m.SERVER_HELLO
    return m.ServerHello.parse(first_message(payload)[4:])


def message_types(payload: bytes) -> list[int]:
    """The types of the handshake messages a plaintext record carries, in order."""
    types, pos = [], 0
    while pos < len(payload):
        types.append(payload[pos])
        pos += 4 + int.from_bytes(payload[pos + 1 : pos + 4], "big")
    assert pos == len(payload)
    return types


@pytest.mark.parametrize("native_side", ["client", "server"])
def test_flights_share_a_record(pki: PKI, native_side: str) -> None:
    """The server's ServerHello to ServerHelloDone, and a client's Certificate, ClientKeyExchange and
    CertificateVerify, each go out in one record (RFC 5246 6.2.1), which OpenSSL takes."""
    server = context("native" if native_side == "server" else "stdlib", pki, True)
    server.load_verify_locations(cafile=pki.ca_file)
    server.verify_mode = ssl.CERT_REQUIRED
    client = context("native" if native_side == "client" else "stdlib", pki, False)
    client.load_cert_chain(pki.client.certfile)
    pair = BIOPair(client, server)
    flights = []  # ClientHello; the server's first flight; the client's flight
    for conn, outgoing, incoming in ((pair.client, pair.c_out, pair.s_in), (pair.server, pair.s_out, pair.c_in),
                                     (pair.client, pair.c_out, pair.s_in)):
        with pytest.raises(ssl.SSLWantReadError):
            conn.do_handshake()
        flights.append(outgoing.read())
        incoming.write(flights[-1])
    pair.handshake().check()
    assert pair.server.getpeercert(binary_form=True) == pki.client.der
    ours = list(records(flights[2 if native_side == "client" else 1]))
    if native_side == "server":  # ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone
        assert [(t, message_types(p)) for t, p in ours] == [(HANDSHAKE, [2, 11, 12, 13, 14])]
    else:  # Certificate, ClientKeyExchange, CertificateVerify; ChangeCipherSpec; Finished (encrypted)
        assert [t for t, _ in ours] == [HANDSHAKE, 20, HANDSHAKE]
        assert message_types(ours[0][1]) == [11, 16, 15]


def test_plain_tls12_client_hello(pki: PKI) -> None:
    hello = hello_12(pki)
    extensions = dict(hello.extensions)
    assert hello.legacy_version == m.TLS12
    assert m.SUPPORTED_VERSIONS not in extensions and m.KEY_SHARE not in extensions
    assert extensions[m12.EXTENDED_MASTER_SECRET] == b""
    assert extensions[m12.RENEGOTIATION_INFO] == b"\x00"
    assert set(hello.cipher_suites) == set(TLS12_SUITES)


def test_server_sets_downgrade_sentinel_only_when_it_speaks_tls13(pki: PKI) -> None:
    hello = hello_12(pki)
    error, written = serve(pki, hello)
    assert error is None
    server_hello = server_hello_of(written)
    assert server_hello.random[-8:] == m.DOWNGRADE_TLS12
    extensions = dict(server_hello.extensions)
    assert extensions[m12.RENEGOTIATION_INFO] == b"\x00" and extensions[m12.EXTENDED_MASTER_SECRET] == b""
    error, written = serve(pki, hello, max12=True)
    assert error is None and server_hello_of(written).random[-8:] != m.DOWNGRADE_TLS12


def test_client_detects_downgrade(pki: PKI) -> None:
    """A 1.3-capable client whose supported_versions was stripped on the way gets a sentinel: abort."""
    client = context("native", pki, False, max12=False)
    pair = BIOPair(client, context("native", pki, True, max12=False))
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    ((_, payload),) = records(pair.c_out.read())
    hello = m.ClientHello.parse(payload[4:])
    hello.extensions = [e for e in hello.extensions if e[0] not in (m.SUPPORTED_VERSIONS, m.KEY_SHARE)]
    raw = hello.build()
    pair.s_in.write(bytes((HANDSHAKE, 3, 1)) + len(raw).to_bytes(2, "big") + raw)
    result = pair.handshake()
    assert isinstance(result.client_error, ssl.SSLError)
    assert result.client_error.reason == "INAPPROPRIATE_FALLBACK"


def test_fallback_scsv(pki: PKI) -> None:
    hello = hello_12(pki)
    hello.cipher_suites.append(m12.FALLBACK_SCSV)
    error, written = serve(pki, hello)
    assert error is not None and error.reason == "INAPPROPRIATE_FALLBACK"
    assert written.endswith(b"\x15\x03\x03\x00\x02\x02\x56")
    assert serve(pki, hello, max12=True)[0] is None  # 1.2 is our maximum too: no fallback


def test_server_requires_signature_algorithms(pki: PKI) -> None:
    hello = hello_12(pki)
    hello.extensions = [e for e in hello.extensions if e[0] != m.SIGNATURE_ALGORITHMS]
    error, written = serve(pki, hello)
    assert error is not None and written.endswith(b"\x02\x28")  # handshake_failure


def test_server_serves_a_client_without_ems_without_echoing_it(pki: PKI) -> None:
    hello = hello_12(pki)
    hello.extensions = [e for e in hello.extensions if e[0] != m12.EXTENDED_MASTER_SECRET]
    error, written = serve(pki, hello)
    assert error is None and m12.EXTENDED_MASTER_SECRET not in dict(server_hello_of(written).extensions)


def test_server_rejects_non_empty_renegotiation_info(pki: PKI) -> None:
    hello = hello_12(pki)
    hello.extensions = [(t, b"\x01\x00" if t == m12.RENEGOTIATION_INFO else d) for t, d in hello.extensions]
    error, written = serve(pki, hello)
    assert error is not None and written.endswith(b"\x02\x28")


@pytest.mark.parametrize("drop", [m12.EXTENDED_MASTER_SECRET, m12.RENEGOTIATION_INFO])
def test_client_requires_ems_and_renegotiation_info(pki: PKI, drop: int) -> None:
    pair = BIOPair(context("native", pki, False), context("native", pki, True))
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    pair.pump()
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.do_handshake()
    flight = list(records(pair.s_out.read()))
    server_hello = m.ServerHello.parse(first_message(flight[0][1])[4:])
    server_hello.extensions = [e for e in server_hello.extensions if e[0] != drop]
    raw = server_hello.build()
    pair.c_in.write(bytes((HANDSHAKE, 3, 3)) + len(raw).to_bytes(2, "big") + raw)
    with pytest.raises(ssl.SSLError) as info:
        pair.client.do_handshake()
    assert pair.c_out.read().endswith(b"\x02\x28")
    assert info.value.reason in ("EXTENDED_MASTER_SECRET_REQUIRED", "UNSAFE_LEGACY_RENEGOTIATION_DISABLED")


def test_renegotiation_refused_with_warning(pki: PKI) -> None:
    pair = connect(context("native", pki, False), context("native", pki, True))
    pair.server._records.write(HANDSHAKE, b"\x00\x00\x00\x00")  # HelloRequest
    pair.pump()
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read()
    pair.client._records.write(HANDSHAKE, hello_12(pki).build())  # a renegotiating ClientHello
    pair.pump()
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.read()
    pair.exchange()  # both warnings were ignored, the connection lives on


def test_renegotiation_refused_for_openssl_peer(pki: PKI) -> None:
    """pyOpenSSL asks to renegotiate: the native server answers with the no_renegotiation warning, which
    OpenSSL (having asked) turns into a fatal error."""
    pair = connect(context("pyopenssl", pki, False), context("native", pki, True))
    assert pair.client._conn.renegotiate()  # the pyOpenSSL connection inside the pyopenssl backend
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read()  # sends the renegotiating ClientHello
    pair.pump()
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.read()
    pair.pump()
    with pytest.raises(ssl.SSLError) as info:
        pair.client.read()
    assert info.value.reason == "NO_RENEGOTIATION"


def test_unexpected_change_cipher_spec(pki: PKI) -> None:
    pair = BIOPair(context("native", pki, False), context("native", pki, True))
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    pair.pump()
    pair.s_in.write(b"\x14\x03\x03\x00\x01\x01")  # CCS before ClientKeyExchange
    with pytest.raises(ssl.SSLError) as info:
        pair.server.do_handshake()
    assert info.value.reason == "UNEXPECTED_CCS_MESSAGE"


def test_key_update_is_tls13_only(pki: PKI) -> None:
    pair = connect(context("native", pki, False), context("native", pki, True))
    with pytest.raises(ValueError):
        pair.client.key_update()


def test_tampered_record_is_bad_record_mac(pki: PKI) -> None:
    pair = connect(context("native", pki, False), context("stdlib", pki, True))
    pair.server.write(b"secret")
    data = bytearray(pair.s_out.read())
    data[-1] ^= 1
    pair.c_in.write(bytes(data))
    with pytest.raises(ssl.SSLError) as info:
        pair.client.read()
    assert info.value.reason == "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"


def test_large_writes_fragment(pki: PKI) -> None:
    pair = connect(context("native", pki, False), context("stdlib", pki, True))
    payload = os.urandom(100_000)
    assert pair.send(payload) == payload
    assert pair.send(payload, from_client=False) == payload


# -- work done once ----------------------------------------------------------------------------------------


def test_server_generates_one_key_share_per_full_handshake(pki: PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's ephemeral key is generated for the group it chooses, once, and not at all on resumption."""
    generated: list[int] = []
    real = _groups.generate_key_share

    def counting(group: int) -> Any:
        generated.append(group)
        return real(group)

    monkeypatch.setattr(_server12, "generate_key_share", counting)
    client, server = context("stdlib", pki, False), context("native", pki, True)
    client.set_ecdh_curve("prime256v1")
    first = connect(client, server)
    assert generated == [0x0017]  # secp256r1, the only group the client offers
    second = connect(client, server, session=first.client.session)
    assert second.client.session_reused and generated == [0x0017]


def test_der_chain_encodes_each_chain_once(pki: PKI) -> None:
    """``der_chain`` returns the certificates' DER, remembered for the same certificate objects (a server's chain,
    a remembered verified chain); other objects for the same certificates get the same DER."""
    certificates = [parse_certificate(pki.leaf("ecdsa-p256").der), parse_certificate(pki.intermediate.der)]
    first = der_chain(list(certificates))
    assert first == (pki.leaf("ecdsa-p256").der, pki.intermediate.der)
    assert der_chain(list(certificates)) is first
    assert der_chain([x509.load_der_x509_certificate(der) for der in first]) == first
    assert der_chain(certificates[:1]) == first[:1] and der_chain([]) == ()
