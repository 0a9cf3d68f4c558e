"""End-to-end tests of the native TLS 1.3 engine against the stdlib ``ssl`` module over memory BIOs."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
from typing import Any

import native_pki as pki
import pytest

import tlsapi._errors as errors
from tlsapi_native import _messages as m
from tlsapi_native._context import NativeContext

CA = pki.ca()


def client_context(kind: str = "native") -> Any:
    ctx = NativeContext(ssl.PROTOCOL_TLS_CLIENT) if kind == "native" else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CA.cert_path)
    return ctx


def server_context(kind: str = "native", key: str = "ecdsa-p256") -> Any:
    ctx = NativeContext(ssl.PROTOCOL_TLS_SERVER) if kind == "native" else ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    identity = pki.leaf(key)
    ctx.load_cert_chain(identity.cert_path, identity.key_path)
    return ctx


class Pair:
    def __init__(self, client_ctx: Any, server_ctx: Any, hostname: str | None = "localhost") -> None:
        self.c_in, self.c_out, self.s_in, self.s_out = (ssl.MemoryBIO() for _ in range(4))
        self.client = client_ctx.wrap_bio(self.c_in, self.c_out, server_hostname=hostname)
        self.server = server_ctx.wrap_bio(self.s_in, self.s_out, server_side=True)

    def flush(self) -> None:
        if self.c_out.pending:
            self.s_in.write(self.c_out.read())
        if self.s_out.pending:
            self.c_in.write(self.s_out.read())

    def handshake(self) -> dict[str, Any]:
        errs: dict[str, Any] = {}
        done = {"client": False, "server": False}
        for _ in range(20):
            for name, obj in (("client", self.client), ("server", self.server)):
                if name in errs or done[name]:
                    continue
                try:
                    obj.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as exc:
                    errs[name] = exc
            self.flush()
            if all(done.values()) or len(errs) == 2 or (errs and not self.c_out.pending and not self.s_out.pending
                                                          and len(errs) + sum(done.values()) == 2):
                break
        return errs

    def roundtrip(self, data: bytes = b"ping") -> None:
        self.client.write(data)
        self.flush()
        assert read_all(self.server, len(data)) == data
        self.server.write(data[::-1])
        self.flush()
        assert read_all(self.client, len(data)) == data[::-1]


def read_all(obj: Any, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = obj.read(size)
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("peer", ["stdlib", "native"])
@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"])
def test_suites_native_client(peer: str, suite: str) -> None:
    client = client_context()
    client.set_ciphers(suite)
    pair = Pair(client, server_context(peer))
    assert pair.handshake() == {}
    assert pair.client.cipher()[0] == suite
    assert pair.server.cipher()[0] == suite
    pair.roundtrip()


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"])
def test_suites_native_server(suite: str) -> None:
    server = server_context()
    server.set_ciphers(suite)
    pair = Pair(client_context("stdlib"), server)
    assert pair.handshake() == {}
    assert pair.client.cipher() == (suite, "TLSv1.3", 128 if "128" in suite else 256)
    pair.roundtrip(b"x" * 40000)


@pytest.mark.parametrize("group", ["x25519", "secp256r1", "secp384r1", "X25519MLKEM768"])
def test_groups(group: str) -> None:
    client = client_context()
    client.set_groups([group])
    pair = Pair(client, server_context())
    assert pair.handshake() == {}
    assert pair.client.group() == group == pair.server.group()
    if group != "X25519MLKEM768":  # the stdlib's OpenSSL 3.0 has no ML-KEM
        pair = Pair(client, server_context("stdlib"))
        assert pair.handshake() == {}
        assert pair.client.group() == group


@pytest.mark.parametrize("native_side", ["client", "server"])
def test_groups_and_suites_are_taken_at_wrap(native_side: str) -> None:
    """The native engine's own settings (``set_groups``, TLS 1.3 suites) changed after ``wrap_bio`` do not
    reach that connection, against a stdlib peer: it still negotiates x25519 and TLS_AES_256_GCM_SHA384."""
    native = client_context() if native_side == "client" else server_context()
    pair = (Pair(native, server_context("stdlib")) if native_side == "client"
            else Pair(client_context("stdlib"), native))
    native.set_groups(["secp384r1"])
    native.set_ciphers("TLS_CHACHA20_POLY1305_SHA256")
    assert pair.handshake() == {}
    tested = pair.client if native_side == "client" else pair.server
    assert tested.group() == "x25519"
    assert pair.client.cipher()[0] == pair.server.cipher()[0] == "TLS_AES_256_GCM_SHA384"
    pair.roundtrip()


def test_hello_retry_request_both_ways() -> None:
    client = client_context()
    client.set_groups(["x25519", "secp384r1"])
    server = server_context()
    server.set_groups(["secp384r1"])
    pair = Pair(client, server)
    assert pair.handshake() == {}
    assert pair.client.group() == "secp384r1"
    pair.roundtrip()
    # stdlib server restricted to P-384: the native client must follow its HelloRetryRequest
    stdlib_server = server_context("stdlib")
    stdlib_server.set_ecdh_curve("secp384r1")
    pair = Pair(client, stdlib_server)
    assert pair.handshake() == {}
    pair.roundtrip()
    # stdlib client (x25519 share first) against a native server that only takes P-256
    server.set_ecdh_curve("prime256v1")
    pair = Pair(client_context("stdlib"), server)
    assert pair.handshake() == {}
    assert pair.server.group() == "secp256r1"
    pair.roundtrip()


@pytest.mark.parametrize("key", pki.KEY_TYPES)
@pytest.mark.parametrize("direction", ["native-client", "native-server"])
def test_key_types(key: str, direction: str) -> None:
    if direction == "native-client":
        pair = Pair(client_context(), server_context("stdlib", key))
    else:
        pair = Pair(client_context("stdlib"), server_context("native", key))
    assert pair.handshake() == {}
    cert = pair.client.getpeercert()
    assert cert["subjectAltName"][0] == ("DNS", "localhost")
    pair.roundtrip()


@pytest.mark.parametrize("client_kind,server_kind", [("native", "stdlib"), ("stdlib", "native"),
                                                      ("native", "native")])
@pytest.mark.parametrize("key", ["ecdsa-p384", "rsa-2048", "ed25519"])
def test_mutual_tls(client_kind: str, server_kind: str, key: str) -> None:
    identity = pki.leaf(key, "client.example", client=True)
    client = client_context(client_kind)
    client.load_cert_chain(identity.cert_path, identity.key_path)
    server = server_context(server_kind)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(CA.cert_path)
    pair = Pair(client, server)
    assert pair.handshake() == {}
    pair.roundtrip()
    assert pair.server.getpeercert()["subject"] == ((("commonName", "client.example"),),)
    assert pair.server.getpeercert(True) == identity.der


@pytest.mark.parametrize("client_kind,server_kind", [("native", "stdlib"), ("stdlib", "native")])
def test_client_certificate_required_but_missing(client_kind: str, server_kind: str) -> None:
    server = server_context(server_kind)
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(CA.cert_path)
    pair = Pair(client_context(client_kind), server)
    errs = pair.handshake()
    # the client considers its handshake done after Finished; its first read sees the alert
    assert errs["server"].reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    with pytest.raises(ssl.SSLError) as info:
        pair.client.read()
    assert info.value.reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED"


def test_cert_optional_without_client_cert() -> None:
    server = server_context()
    server.verify_mode = ssl.CERT_OPTIONAL
    server.load_verify_locations(CA.cert_path)
    pair = Pair(client_context("stdlib"), server)
    assert pair.handshake() == {}
    assert pair.server.getpeercert() is None
    pair.roundtrip()


@pytest.mark.parametrize("client_kind,server_kind", [("native", "stdlib"), ("stdlib", "native"),
                                                      ("native", "native")])
def test_alpn(client_kind: str, server_kind: str) -> None:
    client = client_context(client_kind)
    client.set_alpn_protocols(["h2", "http/1.1"])
    server = server_context(server_kind)
    server.set_alpn_protocols(["http/1.1", "h2"])
    pair = Pair(client, server)
    assert pair.handshake() == {}
    assert pair.client.selected_alpn_protocol() == "http/1.1" == pair.server.selected_alpn_protocol()
    server.set_alpn_protocols(["spdy/3"])
    pair = Pair(client, server)
    assert pair.handshake() == {}
    assert pair.client.selected_alpn_protocol() is None


def test_sni_callback_switches_context() -> None:
    other = NativeContext(ssl.PROTOCOL_TLS_SERVER)
    other_identity = pki.leaf("ed25519", "other.example")
    other.load_cert_chain(other_identity.cert_path, other_identity.key_path)
    seen: list[Any] = []

    def callback(connection: Any, name: str | None, context: Any) -> None:
        seen.append(name)
        if name == "other.example":
            connection.context = other

    server = server_context()
    server.sni_callback = callback
    pair = Pair(client_context("stdlib"), server, "other.example")
    assert pair.handshake() == {}
    assert pair.client.getpeercert()["subject"] == ((("commonName", "other.example"),),)
    assert pair.server.context is other
    assert seen == ["other.example"]


def test_sni_callback_alert_and_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    server = server_context()
    server.sni_callback = lambda conn, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    errs = Pair(client_context("stdlib"), server).handshake()
    assert errs["server"].reason == "CALLBACK_FAILED"
    assert errs["client"].reason == "TLSV1_UNRECOGNIZED_NAME"

    def boom(conn: Any, name: str | None, ctx: Any) -> None:
        raise ZeroDivisionError

    server.sni_callback = boom
    reported: list[Any] = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    errs = Pair(client_context("stdlib"), server).handshake()
    assert reported[0].exc_type is ZeroDivisionError
    assert errs["server"].reason == "CALLBACK_FAILED"
    assert errs["client"].reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"


def test_verification_failures() -> None:
    # unknown CA: the native client sends unknown_ca
    client = NativeContext(ssl.PROTOCOL_TLS_CLIENT)
    errs = Pair(client, server_context("stdlib")).handshake()
    assert isinstance(errs["client"], ssl.SSLCertVerificationError)
    assert errs["client"].verify_code == 20
    assert errs["server"].reason == "TLSV1_ALERT_UNKNOWN_CA"
    # hostname mismatch
    errs = Pair(client_context(), server_context("stdlib"), "wrong.example").handshake()
    assert errs["client"].verify_code == 62
    assert errs["server"].reason == "SSLV3_ALERT_BAD_CERTIFICATE"
    # CERT_NONE: handshake passes, getpeercert() is empty but the DER is there
    client = NativeContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    pair = Pair(client, server_context("stdlib"))
    assert pair.handshake() == {}
    assert pair.client.getpeercert() == {}
    assert pair.client.getpeercert(True) == pki.leaf().der
    assert pair.client.get_verified_chain() == []
    assert pair.client.get_unverified_chain() == [pki.leaf().der]


def test_close_notify_and_eof() -> None:
    pair = Pair(client_context(), server_context())
    assert pair.handshake() == {}
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.unwrap()
    pair.flush()
    assert pair.server.read() == b""  # the stdlib's SSLObject returns b"" for a close_notify
    pair.server.unwrap()
    pair.flush()
    pair.client.unwrap()
    with pytest.raises(ssl.SSLZeroReturnError):
        pair.client.read()
    with pytest.raises(ssl.SSLError) as info:
        pair.client.write(b"x")
    assert info.value.reason == "PROTOCOL_IS_SHUTDOWN"
    # ragged EOF
    pair = Pair(client_context(), server_context())
    assert pair.handshake() == {}
    pair.c_in.write_eof()
    with pytest.raises(ssl.SSLEOFError) as eof:
        pair.client.read()
    assert eof.value.reason == "UNEXPECTED_EOF_WHILE_READING"
    assert isinstance(eof.value, errors.SSLEOFError)


def test_read_semantics() -> None:
    pair = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError) as info:
        pair.server.read()
    assert info.value.errno == ssl.SSL_ERROR_WANT_READ
    assert pair.client.cipher() is None and pair.client.version() is None
    with pytest.raises(ValueError, match="handshake not done"):
        pair.client.getpeercert()
    assert pair.handshake() == {}
    pair.client.write(b"a" * 100)
    pair.client.write(b"b" * 100)
    pair.flush()
    assert pair.server.read(1000) == b"a" * 100  # one record per read
    assert pair.server.read(50) == b"b" * 50
    assert pair.server.pending() == 50
    buffer = bytearray(80)
    assert pair.server.read(80, buffer) == 50
    assert bytes(buffer[:50]) == b"b" * 50
    pair.client.write(b"z" * 70000)
    pair.flush()
    got = b""
    while len(got) < 70000:
        got += pair.server.read(100000)
    assert got == b"z" * 70000
    assert pair.server.version() == "TLSv1.3"
    assert pair.server.shared_ciphers()[0][1] == "TLSv1.3"
    assert pair.client.shared_ciphers() is None
    assert pair.client.get_channel_binding() == pair.server.get_channel_binding()
    assert pair.client.export_keying_material(b"EXPORTER-test", b"ctx", 32) == \
        pair.server.export_keying_material(b"EXPORTER-test", b"ctx", 32)


def test_key_update() -> None:
    pair = Pair(client_context(), server_context())
    assert pair.handshake() == {}
    for _ in range(3):
        pair.client.key_update(request_peer=True)
        pair.roundtrip(b"after update")
    pair.server.key_update(request_peer=False)
    pair.roundtrip()


def test_keylog(tmp_path: Any) -> None:
    path = tmp_path / "keys.log"
    client = client_context()
    client.keylog_filename = str(path)
    pair = Pair(client, server_context("stdlib"))
    assert pair.handshake() == {}
    labels = [line.split()[0] for line in path.read_text().splitlines()]
    assert labels == ["#", "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                      "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET"]


def test_get_ciphers_and_set_ciphers() -> None:
    ctx = NativeContext(ssl.PROTOCOL_TLS_CLIENT)
    names = [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"]
    assert names == ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
    ctx.set_ciphers("TLS_CHACHA20_POLY1305_SHA256")
    assert [c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.3"] == ["TLS_CHACHA20_POLY1305_SHA256"]
    with pytest.raises(ssl.SSLError):
        ctx.set_ciphers("NOTHING")
    with pytest.raises(ValueError):
        ctx.set_ecdh_curve("brainpool")


# -- malformed input -----------------------------------------------------------------------------------------


def server_after(data: bytes) -> tuple[ssl.SSLError, bytes]:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context().wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(data)
    with pytest.raises(ssl.SSLError) as info:
        server.do_handshake()
    assert not isinstance(info.value, ssl.SSLWantReadError)
    assert isinstance(info.value, errors.SSLError)
    return info.value, outgoing.read()


def real_client_hello() -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def test_malformed_records() -> None:
    error, alert = server_after(b"GET / HTTP/1.1\r\n\r\n")
    assert error.reason == "WRONG_VERSION_NUMBER"
    error, alert = server_after(b"\x16\x03\x01\x48\x05" + bytes(100))
    assert error.reason == "PACKET_LENGTH_TOO_LONG"
    assert alert == b"\x15\x03\x03\x00\x02\x02\x16"
    error, alert = server_after(b"\x17\x03\x03\x00\x05hello")
    assert error.reason == "UNEXPECTED_MESSAGE" or alert.endswith(b"\x0a")
    error, alert = server_after(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")
    assert alert.endswith(b"\x02\x32")  # decode_error


def test_malformed_client_hellos() -> None:
    record = real_client_hello()
    hello = m.ClientHello.parse(record[9:])

    def send(h: m.ClientHello) -> tuple[ssl.SSLError, bytes]:
        raw = h.build()
        return server_after(bytes((22, 3, 1)) + len(raw).to_bytes(2, "big") + raw)

    duplicate = m.ClientHello(hello.random, hello.session_id, hello.cipher_suites,
                              [*hello.extensions, hello.extensions[-1]])
    error, alert = send(duplicate)
    assert alert.endswith(b"\x02\x2f")  # illegal_parameter
    no_tls13 = m.ClientHello(hello.random, hello.session_id, hello.cipher_suites,
                             [e for e in hello.extensions if e[0] != m.SUPPORTED_VERSIONS], legacy_version=0x0302)
    error, alert = send(no_tls13)
    assert error.reason == "UNSUPPORTED_PROTOCOL" and alert.endswith(b"\x02\x46")
    no_suite = m.ClientHello(hello.random, hello.session_id, [0x00FF], hello.extensions)
    error, alert = send(no_suite)
    assert error.reason == "NO_SHARED_CIPHER" and alert.endswith(b"\x02\x28")
    bad_share = m.ClientHello(hello.random, hello.session_id, hello.cipher_suites, [
        (t, m.build_key_share_client([(0x001D, bytes(32))]) if t == m.KEY_SHARE else d)
        for t, d in hello.extensions])
    error, alert = send(bad_share)
    assert alert.endswith(b"\x02\x2f")
    raw = hello.build() + b"\x00"
    error, alert = server_after(bytes((22, 3, 1)) + len(raw).to_bytes(2, "big") + raw[:3] +
                                bytes([raw[3] + 1]) + raw[4:])
    assert alert.endswith(b"\x02\x32")


def test_tampered_record_is_bad_record_mac() -> None:
    pair = Pair(client_context(), server_context("stdlib"))
    assert pair.handshake() == {}
    pair.server.write(b"secret")
    wire = bytearray(pair.s_out.read())
    wire[-1] ^= 1
    pair.c_in.write(bytes(wire))
    with pytest.raises(ssl.SSLError) as info:
        pair.client.read()
    assert info.value.reason == "DECRYPTION_FAILED_OR_BAD_RECORD_MAC"
    pair.flush()
    with pytest.raises(ssl.SSLError) as peer:
        pair.server.read()
    assert peer.value.reason == "SSLV3_ALERT_BAD_RECORD_MAC"


def test_fuzzed_server_flight_never_leaks_other_exceptions() -> None:
    import random

    rng = random.Random(1234)
    base = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError):
        base.client.do_handshake()
    base.flush()
    with pytest.raises(ssl.SSLWantReadError):
        base.server.do_handshake()
    flight = base.s_out.read()
    for _ in range(150):
        mutated = bytearray(flight)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        client = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            client.do_handshake()
        incoming.write(bytes(mutated))
        with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLError):
            client.do_handshake()


# -- codec and record layer units -------------------------------------------------------------------------------


# -- interop with the openssl binary ------------------------------------------------------------------------------

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drive_socket(sock: socket.socket, obj: Any, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                  action: Any) -> Any:
    while True:
        try:
            result = action()
        except ssl.SSLWantReadError:
            if outgoing.pending:
                sock.sendall(outgoing.read())
            data = sock.recv(65536)
            if not data:
                incoming.write_eof()
            else:
                incoming.write(data)
            continue
        if outgoing.pending:
            sock.sendall(outgoing.read())
        return result


@pytest.mark.skipif(not os.path.exists(OPENSSL), reason="no openssl binary")
def test_openssl_s_server_interop() -> None:
    port = _free_port()
    identity = pki.leaf("rsa-2048")
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", str(port), "-cert", identity.cert_path, "-key", identity.key_path,
         "-tls1_3", "-rev", "-quiet", "-naccept", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        sock = None
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                threading.Event().wait(0.05)
        assert sock is not None
        with sock:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            conn = client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
            _drive_socket(sock, conn, incoming, outgoing, conn.do_handshake)
            assert conn.version() == "TLSv1.3"
            conn.write(b"hello openssl\n")
            sock.sendall(outgoing.read())
            data = _drive_socket(sock, conn, incoming, outgoing, lambda: conn.read(1024))
            assert data.strip() == b"lssnepo olleh"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not os.path.exists(OPENSSL), reason="no openssl binary")
def test_openssl_s_client_interop() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    proc = subprocess.Popen(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-CAfile", CA.cert_path,
         "-verify_return_error", "-servername", "localhost", "-quiet", "-alpn", "h2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        listener.settimeout(10)
        sock, _ = listener.accept()
        with sock:
            sock.settimeout(10)
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            ctx = server_context()
            ctx.set_alpn_protocols(["h2"])
            conn = ctx.wrap_bio(incoming, outgoing, server_side=True)
            _drive_socket(sock, conn, incoming, outgoing, conn.do_handshake)
            assert conn.selected_alpn_protocol() == "h2"
            assert proc.stdin is not None
            proc.stdin.write(b"from s_client\n")
            proc.stdin.flush()
            data = _drive_socket(sock, conn, incoming, outgoing, lambda: conn.read(1024))
            assert data == b"from s_client\n"
            conn.write(b"from native\n")
            sock.sendall(outgoing.read())
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"from native\n"
    finally:
        proc.kill()
        proc.wait()
        listener.close()
