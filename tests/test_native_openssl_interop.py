"""The native engine against pyOpenSSL's OpenSSL: X25519MLKEM768 both ways, exporters, both key shares in one
ClientHello, and channel bindings (against native and stdlib peers)."""

from __future__ import annotations

import contextlib
import ssl

import native_pki as pki
import pytest
from test_native_engine import CA, Pair, client_context, server_context
from test_native_hello_retry import _started_client

from tlsapi_native import _messages as m
from tlsapi_native._groups import X25519, X25519MLKEM768

SSL = pytest.importorskip("OpenSSL.SSL")


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
