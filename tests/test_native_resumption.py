"""TLS 1.3 session tickets and PSK resumption (psk_dhe_ke) of the native engine, with itself, the stdlib
(OpenSSL 3.0, over memory BIOs) and the ``openssl`` binary."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import native_pki as pki
import pytest
from test_native_engine import CA, OPENSSL, Pair, _drive_socket, _free_port, client_context, server_context

from tlsapi_native import _messages as m
from tlsapi_native._record import HandshakeBuffer
from tlsapi_native._session import NativeSession
from tlsapi_native._tickets import TicketKeys, TicketState

KINDS = [("native", "native"), ("native", "stdlib"), ("stdlib", "native")]


def connect(client: Any, server: Any, session: Any = None, hostname: str = "localhost") -> Pair:
    pair = Pair.__new__(Pair)
    pair.c_in, pair.c_out, pair.s_in, pair.s_out = (ssl.MemoryBIO() for _ in range(4))
    pair.client = client.wrap_bio(pair.c_in, pair.c_out, server_hostname=hostname, session=session)
    pair.server = server.wrap_bio(pair.s_in, pair.s_out, server_side=True)
    assert pair.handshake() == {}
    pair.roundtrip()  # TLS 1.3: the tickets arrive with the server's first write
    return pair


@pytest.mark.parametrize("client_kind,server_kind", KINDS)
def test_resumption(client_kind: str, server_kind: str) -> None:
    client, server = client_context(client_kind), server_context(server_kind)
    first = connect(client, server)
    assert not first.client.session_reused and not first.server.session_reused
    session = first.client.session
    assert session is not None and session.has_ticket
    second = connect(client, server, session)
    assert second.client.session_reused and second.server.session_reused
    # a resumed connection still reports the original peer, as OpenSSL does
    assert second.client.getpeercert() == first.client.getpeercert()
    assert second.client.getpeercert(True) == first.client.getpeercert(True)
    assert not connect(client, server).client.session_reused
    # the tickets issued on a resumed connection resume again
    assert connect(client, server, second.client.session).server.session_reused


def test_resumed_handshake_skips_certificates() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    pair = Pair.__new__(Pair)
    pair.c_in, pair.c_out, pair.s_in, pair.s_out = (ssl.MemoryBIO() for _ in range(4))
    pair.client = client.wrap_bio(pair.c_in, pair.c_out, server_hostname="localhost", session=session)
    pair.server = server.wrap_bio(pair.s_in, pair.s_out, server_side=True)
    seen: list[int] = []

    class Recording(HandshakeBuffer):  # every handshake message either side takes from its records
        def pop(self) -> tuple[int, bytes] | None:
            message = super().pop()
            if message is not None:
                seen.append(message[0])
            return message

    pair.client._hs_buffer = Recording()
    pair.server._hs_buffer = Recording()
    assert pair.handshake() == {}
    assert m.CERTIFICATE not in seen and m.CERTIFICATE_VERIFY not in seen
    assert seen == [m.CLIENT_HELLO, m.SERVER_HELLO, m.ENCRYPTED_EXTENSIONS, m.FINISHED, m.FINISHED]


def test_session_attributes_and_stats() -> None:
    client, server = client_context(), server_context()
    first = connect(client, server)
    session = first.client.session
    assert isinstance(session, NativeSession)
    assert session.ticket_lifetime_hint == session.timeout == 7200
    assert abs(session.time - time.time()) < 5
    assert len(session.id) == 32 and session.protocol == m.TLS13
    connect(client, server, session)
    assert client.session_stats()["hits"] == 1
    assert server.session_stats()["hits"] == 1
    assert client.session_stats()["connect"] == client.session_stats()["connect_good"] == 2
    assert server.session_stats()["accept"] == server.session_stats()["accept_good"] == 2


def test_num_tickets_and_no_ticket_option() -> None:
    client, server = client_context(), server_context()
    server.num_tickets = 0
    assert connect(client, server).client.session is None
    server.num_tickets = 3
    pair = connect(client, server)
    assert pair.client.session is not None
    assert pair.c_in.pending == 0
    server.options |= ssl.OP_NO_TICKET
    assert connect(client, server).client.session is None


def test_session_setter_rules() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    other = client_context()
    with pytest.raises(ValueError, match="different SSLContext"):
        other.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost", session=session)
    conn = client.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost")
    with pytest.raises(TypeError):
        conn.session = "not a session"
    started = Pair(client, server)
    started.handshake()
    with pytest.raises(ValueError, match="after handshake"):
        started.client.session = session


def test_session_assigned_before_handshake_and_other_hostname() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    pair = Pair(client, server)
    pair.client.session = session
    assert pair.handshake() == {} and pair.client.session_reused
    # a session is only offered to the server name it came from
    assert not connect(client, server, session, hostname="127.0.0.1").client.session_reused


def test_unknown_ticket_is_a_full_handshake() -> None:
    client = client_context()
    session = connect(client, server_context()).client.session
    other_server = server_context()
    pair = connect(client, other_server, session)
    assert not pair.client.session_reused and not pair.server.session_reused
    assert other_server.session_stats()["misses"] == 1


def _tamper_binder(pair: Pair) -> None:
    data = bytearray(pair.c_out.read())
    data[-1] ^= 1  # the last byte of the ClientHello is the last byte of the binder
    pair.s_in.write(bytes(data))


def test_bad_binder_is_decrypt_error() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    pair = Pair(client, server)
    pair.client.session = session
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    _tamper_binder(pair)
    with pytest.raises(ssl.SSLError) as info:
        pair.server.do_handshake()
    assert info.value.reason == "BINDER_DOES_NOT_VERIFY"
    assert pair.s_out.read()[-2:] == bytes((2, 51))  # fatal decrypt_error


def test_pre_shared_key_must_be_last() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    conn = client.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="localhost",
                           session=session)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    raw = outgoing.read()[5:]
    hello = m.ClientHello.parse(raw[4:])
    assert hello.extensions[-1][0] == m.PRE_SHARED_KEY
    hello.extensions.insert(0, hello.extensions.pop())
    data = hello.build()
    s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    s_in.write(bytes((22, 3, 1)) + len(data).to_bytes(2, "big") + data)
    with pytest.raises(ssl.SSLError) as info:
        server.wrap_bio(s_in, s_out, server_side=True).do_handshake()
    assert s_out.read()[-2:] == bytes((2, 47))  # illegal_parameter
    assert info.value.reason == "BAD_EXTENSION"


def test_resumption_after_hello_retry_request() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    server.set_groups(["secp384r1"])  # no key share for it: HelloRetryRequest, then a re-bound PSK
    pair = connect(client, server, session)
    assert pair.client.session_reused and pair.server.session_reused
    assert pair.client._handshake.retried


def test_suite_with_another_hash_is_a_full_handshake() -> None:
    client, server = client_context(), server_context()
    session = connect(client, server).client.session
    assert session.cipher_suite == 0x1302  # TLS_AES_256_GCM_SHA384 by default
    server.set_ciphers("TLS_AES_128_GCM_SHA256")
    pair = connect(client, server, session)
    assert not pair.server.session_reused


def test_mutual_tls_resumption_keeps_the_client_certificate() -> None:
    identity = pki.leaf("ecdsa-p256", "client.example", client=True)
    client = client_context()
    client.load_cert_chain(identity.cert_path, identity.key_path)
    server = server_context()
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(CA.cert_path)
    first = connect(client, server)
    second = connect(client, server, first.client.session)
    assert second.server.session_reused
    assert second.server.getpeercert() == first.server.getpeercert()
    assert second.server.getpeercert(True) == identity.der


def test_ticket_keys_rotate_and_keep_the_previous_key() -> None:
    now = [0.0]
    keys = TicketKeys(rotation=100, clock=lambda: now[0])
    state = TicketState(m.TLS13, 0x1301, b"k" * 32, 1, 7200, 5, "localhost", b"h2", (b"a",), ())
    old = keys.seal(state.encode())
    assert TicketState.decode(keys.open(old) or b"") == state
    now[0] = 150.0  # rotated once: the previous key still opens old tickets
    new = keys.seal(b"x")
    assert new[:4] != old[:4]
    assert keys.open(old) is not None and keys.open(new) == b"x"
    now[0] = 250.0  # rotated twice: the oldest key is gone
    assert keys.open(old) is None and keys.open(new) == b"x"
    assert keys.open(new[:-1] + bytes([new[-1] ^ 1])) is None
    assert keys.open(b"short") is None


@pytest.mark.skipif(not os.path.exists(OPENSSL), reason="no openssl binary")
def test_openssl_s_client_resumes_with_native_server(tmp_path: Path) -> None:
    """``openssl s_client -sess_out`` then ``-sess_in`` (the system's OpenSSL 3.0) against the native server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    port = listener.getsockname()[1]
    ctx = server_context()
    sess = tmp_path / "sess.pem"
    reused = []
    try:
        for flag in ("-sess_out", "-sess_in"):
            proc = subprocess.Popen(
                [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-CAfile", CA.cert_path,
                 "-servername", "localhost", flag, str(sess)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            listener.settimeout(10)
            sock, _ = listener.accept()
            with sock:
                sock.settimeout(10)
                incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
                conn = ctx.wrap_bio(incoming, outgoing, server_side=True)
                _drive_socket(sock, conn, incoming, outgoing, conn.do_handshake)
                reused.append(conn.session_reused)
                conn.write(b"bye\n")
                sock.sendall(outgoing.read())
                out, _ = proc.communicate(b"", timeout=10)
            if flag == "-sess_out":
                assert sess.exists()
            else:
                assert b"Reused, TLSv1.3" in out
    finally:
        listener.close()
    assert reused == [False, True]


@pytest.mark.skipif(not os.path.exists(OPENSSL), reason="no openssl binary")
def test_native_client_resumes_with_openssl_s_server() -> None:
    """The native client resumes against ``openssl s_server`` (the system's OpenSSL 3.0)."""
    port = _free_port()
    identity = pki.leaf("ecdsa-p256")
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", str(port), "-cert", identity.cert_path, "-key", identity.key_path,
         "-tls1_3", "-rev", "-quiet", "-naccept", "2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ctx = client_context()
    session = None
    reused = []
    try:
        for _ in range(2):
            sock = None
            for _ in range(100):
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                    break
                except OSError:
                    time.sleep(0.05)
            assert sock is not None
            with sock:
                incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
                conn = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost", session=session)
                _drive_socket(sock, conn, incoming, outgoing, conn.do_handshake)
                conn.write(b"hello\n")
                sock.sendall(outgoing.read())
                reply = _drive_socket(sock, conn, incoming, outgoing, lambda c=conn: c.read(1024))
                assert reply.strip() == b"olleh"
                reused.append(conn.session_reused)
                session = conn.session
                assert session is not None
    finally:
        proc.kill()
        proc.wait()
    assert reused == [False, True]


def test_ticket_state_round_trips_and_refuses_malformed_encodings() -> None:
    state = TicketState(m.TLS13, 0x1302, b"s" * 48, 2**40, 7200, 2**32 - 1, "example.org", b"h2",
                        (b"leaf", b"ca"), (b"leaf",))
    encoded = state.encode()
    assert TicketState.decode(encoded) == state
    assert TicketState.decode(TicketState(m.TLS12, 0xC02B, b"m" * 48, 1, 7200, 0).encode()) == (
        TicketState(m.TLS12, 0xC02B, b"m" * 48, 1, 7200, 0))
    for cut in range(len(encoded)):  # every truncation, and trailing bytes
        assert TicketState.decode(encoded[:cut]) is None
    assert TicketState.decode(encoded + b"\x00") is None
    assert TicketState.decode(b"\x01" + encoded[1:]) is None  # another format version
