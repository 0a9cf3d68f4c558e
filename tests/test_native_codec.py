"""The native codec and message layer: bounds of the reader, and each message and extension built and parsed
back, with truncated or trailing bytes refused with decode_error."""

from __future__ import annotations

import pytest

from tlsapi_native import _messages as m
from tlsapi_native import _messages12 as m12
from tlsapi_native._alerts import TLSAlert
from tlsapi_native._codec import Reader

DECODE_ERROR = 50


def _body(raw: bytes) -> bytes:
    """A handshake message's body (after its 4-byte header), checking the header's length."""
    assert int.from_bytes(raw[1:4], "big") == len(raw) - 4
    return raw[4:]


def test_client_hello_round_trip() -> None:
    hello = m.ClientHello(bytes(range(32)), b"\x07" * 32, [0x1301, 0x1302, 0xC02B], [
        (m.SERVER_NAME, m.build_server_name("example.com")),
        (m.SUPPORTED_VERSIONS, m.build_supported_versions_client([m.TLS13, m.TLS12])),
        (m.ALPN, m.build_alpn([b"h2", b"http/1.1"])),
    ])
    raw = hello.build()
    assert raw[0] == m.CLIENT_HELLO
    parsed = m.ClientHello.parse(_body(raw))
    assert (parsed.random, parsed.session_id, parsed.cipher_suites) == (hello.random, hello.session_id,
                                                                        hello.cipher_suites)
    extensions = dict(parsed.extensions)
    assert m.parse_server_name(extensions[m.SERVER_NAME]) == "example.com"
    assert m.parse_supported_versions_client(extensions[m.SUPPORTED_VERSIONS]) == [m.TLS13, m.TLS12]
    assert m.parse_alpn(extensions[m.ALPN]) == [b"h2", b"http/1.1"]
    assert parsed.build() == raw


def test_server_hello_round_trip_and_hello_retry_request() -> None:
    hello = m.ServerHello(bytes(32), b"", 0x1301, [(m.SUPPORTED_VERSIONS, m.TLS13.to_bytes(2, "big")),
                                                   (m.KEY_SHARE, m.build_key_share_server(29, b"k" * 32))])
    parsed = m.ServerHello.parse(_body(hello.build()))
    assert m.parse_key_share_server(dict(parsed.extensions)[m.KEY_SHARE]) == (29, b"k" * 32)
    assert not parsed.is_hello_retry_request
    retry = m.ServerHello.parse(_body(m.ServerHello(m.HRR_RANDOM, b"", 0x1301, []).build()))
    assert retry.is_hello_retry_request


@pytest.mark.parametrize("message", [
    m.Finished(b"f" * 32), m.KeyUpdate(True), m.CertificateVerify(0x0804, b"s" * 64),
    m.EncryptedExtensions([(m.ALPN, m.build_alpn([b"h2"]))]), m.NewSessionTicket(7200, 1, b"n", b"ticket"),
], ids=lambda message: type(message).__name__)
def test_truncated_or_trailing_bytes_are_decode_errors(message: object) -> None:
    body = _body(message.build())  # type: ignore[attr-defined]
    parse = type(message).parse  # type: ignore[attr-defined]

    def parsed(data: bytes) -> object:
        return parse(data, 32) if type(message) is m.Finished else parse(data)

    assert parsed(body) == message
    for broken in (body[:-1], body + b"\x00"):
        with pytest.raises(TLSAlert) as info:
            parsed(broken)
        assert info.value.description == DECODE_ERROR


def test_tls12_messages_round_trip() -> None:
    ticket = m12.NewSessionTicket12(300, b"opaque")
    assert m12.NewSessionTicket12.parse(_body(ticket.build())) == ticket
    certificate = m12.Certificate12([b"leaf", b"ca"])
    assert m12.Certificate12.parse(_body(certificate.build())).chain == [b"leaf", b"ca"]


def test_reader_bounds() -> None:
    reader = Reader(b"\x00\x03ab")
    with pytest.raises(TLSAlert) as info:
        reader.vec16()
    assert info.value.description == 50
    reader = Reader(b"\x01\x02\x03")
    assert reader.u16() == 0x0102
    with pytest.raises(TLSAlert):
        reader.expect_end()
    with pytest.raises(TLSAlert):
        reader.u24()
