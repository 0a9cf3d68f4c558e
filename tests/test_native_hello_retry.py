"""The native client against a misbehaving HelloRetryRequest: bad groups, a second retry, cookies, and a
ServerHello that does not match the retry."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from test_native_engine import client_context

from tlsapi_native import _messages as m
from tlsapi_native._groups import SECP256R1, X25519

ILLEGAL, UNEXPECTED = 47, 10


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
