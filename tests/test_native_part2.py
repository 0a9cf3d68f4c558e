"""The native engine, part 2: HelloRetryRequest misuse, post-handshake auth, X25519MLKEM768 interop with
pyOpenSSL's OpenSSL 4.0, exporters and channel bindings, KeyUpdate at the AEAD limit, record padding and
rejected 0-RTT."""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

import native_pki as pki
import pytest
from test_native_engine import CA, Pair, client_context, read_all, server_context

from tlsapi_native import _connection
from tlsapi_native import _messages as m
from tlsapi_native._groups import SECP256R1, X25519, X25519MLKEM768

SSL = pytest.importorskip("OpenSSL.SSL")

# -- HelloRetryRequest misuse (client side) -----------------------------------------------------------------


def _record(msg: bytes) -> bytes:
    return bytes((22, 3, 3)) + len(msg).to_bytes(2, "big") + msg


def _client_hello(out: ssl.MemoryBIO) -> m.ClientHello:
    data = out.read()
    if data[0] == 20:  # the middlebox-compatibility change_cipher_spec before a second ClientHello
        data = data[6:]
    return m.ClientHello.parse(data[9 : 5 + int.from_bytes(data[3:5], "big")])


def _hrr(hello: m.ClientHello, suite: int = 0x1302, extensions: m.Extensions | None = None) -> bytes:
    if extensions is None:
        extensions = [(m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")), (m.KEY_SHARE, SECP256R1.to_bytes(2, "big"))]
    return m.ServerHello(m.HRR_RANDOM, hello.session_id, suite, extensions).build()


def _started_client() -> tuple[Any, ssl.MemoryBIO, ssl.MemoryBIO, m.ClientHello]:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return conn, incoming, outgoing, _client_hello(outgoing)


def _fails_with(conn: Any, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, data: bytes, alert: int) -> None:
    incoming.write(data)
    with pytest.raises(ssl.SSLError):
        conn.do_handshake()
    assert outgoing.read()[-2:] == bytes((2, alert))


ILLEGAL, UNEXPECTED = 47, 10


@pytest.mark.parametrize("case", ["already offered", "unsupported", "no change"])
def test_hrr_with_a_bad_group_or_no_change(case: str) -> None:
    conn, incoming, outgoing, hello = _started_client()
    versions = (m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big"))
    extensions = {
        "already offered": [versions, (m.KEY_SHARE, X25519.to_bytes(2, "big"))],
        "unsupported": [versions, (m.KEY_SHARE, (0x0019).to_bytes(2, "big"))],  # secp521r1
        "no change": [versions],
    }[case]
    _fails_with(conn, incoming, outgoing, _record(_hrr(hello, extensions=extensions)), ILLEGAL)


def test_second_hrr_is_unexpected() -> None:
    conn, incoming, outgoing, hello = _started_client()
    incoming.write(_record(_hrr(hello)))
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    second = _client_hello(outgoing)
    assert [g for g, _ in m.parse_key_share_client(dict(second.extensions)[m.KEY_SHARE])] == [SECP256R1]
    _fails_with(conn, incoming, outgoing, _record(_hrr(hello)), UNEXPECTED)


def test_hrr_cookie_is_echoed() -> None:
    conn, incoming, outgoing, hello = _started_client()
    cookie = b"opaque-cookie-value"
    extensions = [(m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")), (m.COOKIE, m.build_cookie(cookie))]
    incoming.write(_record(_hrr(hello, extensions=extensions)))
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    second = dict(_client_hello(outgoing).extensions)
    assert m.parse_cookie(second[m.COOKIE]) == cookie
    assert second[m.KEY_SHARE] == dict(hello.extensions)[m.KEY_SHARE]  # only the cookie changed


@pytest.mark.parametrize("change", ["suite", "group"])
def test_server_hello_after_hrr_must_match_it(change: str) -> None:
    conn, incoming, outgoing, hello = _started_client()
    incoming.write(_record(_hrr(hello)))
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    outgoing.read()
    suite, group, share = 0x1302, SECP256R1, b"\x04" + bytes(64)
    if change == "suite":
        suite = 0x1301
    else:
        group, share = X25519, bytes(range(32))
    server_hello = m.ServerHello(bytes(32), hello.session_id, suite, [
        (m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")), (m.KEY_SHARE, m.build_key_share_server(group, share)),
    ]).build()
    _fails_with(conn, incoming, outgoing, _record(server_hello), ILLEGAL)


# -- post-handshake client authentication ---------------------------------------------------------------------


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


# -- X25519MLKEM768 and exporters with pyOpenSSL (OpenSSL 4.0) ------------------------------------------------


class PyOpenSSLPeer:
    """A pyOpenSSL connection over memory BIOs (``SSL.Connection(ctx, None)``)."""

    def __init__(self, server: bool) -> None:
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
        if server:
            identity = pki.leaf("ecdsa-p256")
            ctx.use_certificate_chain_file(identity.cert_path)
            ctx.use_privatekey_file(identity.key_path)
        else:
            ctx.load_verify_locations(CA.cert_path)
            ctx.set_verify(SSL.VERIFY_PEER)
        self.conn = SSL.Connection(ctx, None)
        if server:
            self.conn.set_accept_state()
        else:
            self.conn.set_tlsext_host_name(b"localhost")
            self.conn.set_connect_state()

    def do_handshake(self) -> None:
        try:
            self.conn.do_handshake()
        except SSL.WantReadError:
            raise ssl.SSLWantReadError() from None


class PyOpenSSLPair:
    def __init__(self, native_side: str) -> None:
        self.native_in, self.native_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        if native_side == "client":
            self.native = client_context().wrap_bio(self.native_in, self.native_out, server_hostname="localhost")
            self.peer = PyOpenSSLPeer(server=True)
        else:
            self.native = server_context().wrap_bio(self.native_in, self.native_out, server_side=True)
            self.peer = PyOpenSSLPeer(server=False)

    def handshake(self) -> None:
        done = [False, False]
        for _ in range(20):
            for index, side in enumerate((self.native, self.peer)):
                if not done[index]:
                    try:
                        side.do_handshake()
                        done[index] = True
                    except ssl.SSLWantReadError:
                        pass
            if self.native_out.pending:
                self.peer.conn.bio_write(self.native_out.read())
            with contextlib.suppress(SSL.WantReadError):
                self.native_in.write(self.peer.conn.bio_read(1 << 20))
            if all(done):
                return
        raise AssertionError(f"handshake did not finish: {done}")


@pytest.mark.parametrize("native_side", ["client", "server"])
def test_x25519mlkem768_with_pyopenssl(native_side: str) -> None:
    """pyOpenSSL bundles OpenSSL 4.0, which offers and prefers X25519MLKEM768 by default."""
    pair = PyOpenSSLPair(native_side)
    pair.handshake()
    assert pair.native.group() == "X25519MLKEM768"
    assert pair.peer.conn.get_group_name() == "X25519MLKEM768"
    assert pair.peer.conn.get_protocol_version_name() == "TLSv1.3"


@pytest.mark.parametrize("native_side", ["client", "server"])
def test_exporters_match_openssl(native_side: str) -> None:
    """RFC 8446 7.5 exporter and RFC 9266 tls-exporter, checked against pyOpenSSL's OpenSSL 4.0."""
    pair = PyOpenSSLPair(native_side)
    pair.handshake()
    for label, context, length in ((b"EXPERIMENTAL-test", b"ctx", 42), (b"EXPERIMENTAL-empty", b"", 16)):
        assert (pair.native.export_keying_material(label, context, length)
                == pair.peer.conn.export_keying_material(label, length, context))
    binding = pair.native.get_channel_binding("tls-exporter")
    assert binding == pair.peer.conn.export_keying_material(b"EXPORTER-Channel-Binding", 32, b"")
    assert len(binding) == 32


def test_client_sends_both_shares_and_stdlib_picks_x25519() -> None:
    _, _, _, hello = _started_client()
    shares = m.parse_key_share_client(dict(hello.extensions)[m.KEY_SHARE])
    assert [g for g, _ in shares] == [X25519MLKEM768, X25519]
    assert shares[0][1][-32:] == shares[1][1]  # one X25519 key for both
    pair = Pair(client_context(), server_context("stdlib"))  # OpenSSL 3.0 does not know X25519MLKEM768
    assert pair.handshake() == {}
    assert pair.client.group() == "x25519"
    native = Pair(client_context(), server_context())
    assert native.handshake() == {}
    assert native.client.group() == native.server.group() == "X25519MLKEM768"


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_channel_bindings(peer: str) -> None:
    pair = Pair(client_context(), server_context(peer))
    assert pair.client.get_channel_binding("tls-exporter") is None
    assert pair.client.get_channel_binding("tls-unique") is None
    assert pair.handshake() == {}
    assert pair.client.get_channel_binding("tls-unique") == pair.server.get_channel_binding("tls-unique")
    assert len(pair.client.get_channel_binding("tls-unique")) == 48  # TLS_AES_256_GCM_SHA384
    if peer == "native":
        assert pair.client.get_channel_binding("tls-exporter") == pair.server.get_channel_binding("tls-exporter")
    with pytest.raises(ValueError):
        pair.client.get_channel_binding("tls-server-end-point")


# -- KeyUpdate before the AEAD limit ----------------------------------------------------------------------------


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_key_update_at_record_limit(monkeypatch: pytest.MonkeyPatch, peer: str) -> None:
    monkeypatch.setattr(_connection, "KEY_UPDATE_AFTER_RECORDS", 3)
    pair = Pair(client_context(), server_context(peer))
    assert pair.handshake() == {}
    first_secret = pair.client._write_secret
    for index in range(10):
        pair.roundtrip(b"message %d" % index)
    assert pair.client._write_secret != first_secret
    assert pair.client._records.write_sequence <= 3


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_tls12_never_sends_key_update(monkeypatch: pytest.MonkeyPatch, peer: str) -> None:
    """TLS 1.2 has no KeyUpdate: past the TLS 1.3 limit the records simply go on."""
    monkeypatch.setattr(_connection, "KEY_UPDATE_AFTER_RECORDS", 3)
    client = client_context()
    client.maximum_version = ssl.TLSVersion.TLSv1_2
    pair = Pair(client, server_context(peer))
    assert pair.handshake() == {}
    assert pair.client.version() == "TLSv1.2"
    for index in range(10):
        pair.roundtrip(b"message %d" % index)
    assert pair.client._records.write_sequence > 10


# -- record padding and rejected 0-RTT --------------------------------------------------------------------------


@pytest.mark.parametrize("peer", ["native", "stdlib"])
def test_record_padding(peer: str) -> None:
    client = client_context()
    client.record_padding = 256
    pair = Pair(client, server_context(peer))
    assert pair.handshake() == {}
    pair.client.write(b"x")
    record = pair.c_out.read()
    assert len(record) == 5 + 256 + 16
    pair.s_in.write(record)
    assert read_all(pair.server, 1) == b"x"
    pair.client.write(b"y" * 16384)  # a full record is never padded past the limit
    pair.flush()
    assert read_all(pair.server, 16384) == b"y" * 16384
    with pytest.raises(ValueError):
        client.record_padding = 0
    assert client.max_early_data == 0


def test_server_skips_rejected_early_data() -> None:
    """A ClientHello with early_data followed by 0-RTT records: the server skips them (RFC 8446 4.2.10)."""
    pair = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    offer = pair.client._handshake.offer  # what the client's hello module sent
    hello = _client_hello(pair.c_out)
    hello.extensions.insert(0, (m.EARLY_DATA, b""))
    offer.client_hello_raw = hello.build()  # the client's transcript holds what the server sees
    early = b"".join(bytes((23, 3, 3, 0, 40)) + bytes(40) for _ in range(3))
    pair.s_in.write(_record(offer.client_hello_raw) + early)
    assert pair.handshake() == {}
    pair.roundtrip()
    assert pair.server._records.early_data_budget == 0


def test_early_data_beyond_the_skip_limit_fails() -> None:
    pair = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    hello = _client_hello(pair.c_out)
    hello.extensions.insert(0, (m.EARLY_DATA, b""))
    early = b"".join(bytes((23, 3, 3, 0x40, 0x11)) + bytes(0x4011) for _ in range(3))
    pair.s_in.write(_record(hello.build()) + early)
    with pytest.raises(ssl.SSLError) as info:
        pair.server.do_handshake()
    assert info.value.reason == "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
