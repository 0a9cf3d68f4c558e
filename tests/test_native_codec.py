"""The native codec and message layer: bounds of the reader, and each message and extension built and parsed
back, with truncated or trailing bytes refused with decode_error."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tlsapi_native import _messages as m
from tlsapi_native import _messages12 as m12
from tlsapi_native._alerts import TLSAlert
from tlsapi_native._codec import u16_list_at, u32_at, vec8_at, vec16_at, vec24_at

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


def test_offset_parsers_stay_within_their_bound() -> None:
    """Each ``*_at`` reads no byte at or past ``end``: a length reaching past it is a decode_error."""
    data = b"\x00\x03abc"
    assert vec16_at(data, 0, 5) == (b"abc", 5)
    assert u32_at(b"\x01\x02\x03\x04", 0, 4) == (0x01020304, 4)
    assert u16_list_at(b"\x00\x04\x00\x01\x00\x02", 0, 6) == ([1, 2], 6)
    broken = [
        lambda: vec16_at(data, 0, 4), lambda: vec8_at(b"\x02a", 0, 2), lambda: vec24_at(b"\x00\x00", 0, 2),
        lambda: u32_at(b"\x01\x02\x03\x04", 1, 4), lambda: vec8_at(b"\x01a", 0, 2, minimum=2),
        lambda: u16_list_at(b"\x00\x03\x00\x01\x00", 0, 5),
    ]
    for parse in broken:
        with pytest.raises(TLSAlert) as info:
            parse()
        assert info.value.description == DECODE_ERROR


HANDSHAKE_FAILURE = 40
ILLEGAL_PARAMETER = 47

_ECH_OUTER = b"\x00\x00\x01\x00\x01\x07" + b"\x00\x01e" + b"\x00\x01p"  # kdf 1, aead 1, config 7, enc, payload
_INNER_HELLO = bytes(34) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + b"\x00\x00"
_SKE = bytes((3,)) + b"\x00\x1d" + b"\x01k" + b"\x08\x04" + b"\x00\x01s"


@pytest.mark.parametrize(("parse", "data", "description", "text"), [
    (m.KeyUpdate.parse, b"", DECODE_ERROR, "truncated message"),
    (m.KeyUpdate.parse, b"\x01\x00", DECODE_ERROR, "trailing bytes"),
    (m.KeyUpdate.parse, b"\x02", ILLEGAL_PARAMETER, "bad KeyUpdate request"),
    (m.parse_u32, b"\x00\x00\x01", DECODE_ERROR, "truncated message"),
    (m.parse_u32, b"\x00\x00\x00\x01\x00", DECODE_ERROR, "trailing bytes"),
    (m.parse_psk_key_exchange_modes, b"\x00", DECODE_ERROR, "vector too short"),
    (m.parse_psk_key_exchange_modes, b"\x02\x01", DECODE_ERROR, "truncated message"),
    (m.parse_psk_key_exchange_modes, b"\x01\x01\x00", DECODE_ERROR, "trailing bytes"),
    (m.parse_cookie, b"\x00\x00", DECODE_ERROR, "vector too short"),
    (m.parse_cookie, b"\x00", DECODE_ERROR, "truncated message"),
    (m.parse_cookie, b"\x00\x01cc", DECODE_ERROR, "trailing bytes"),
    (m12.Certificate12.parse, b"\x00\x00", DECODE_ERROR, "truncated message"),
    (m12.Certificate12.parse, b"\x00\x00\x00\x00", DECODE_ERROR, "trailing bytes"),
    (m12.Certificate12.parse, b"\x00\x00\x03\x00\x00\x00", DECODE_ERROR, "vector too short"),
    (m12.Certificate12.parse, b"\x00\x00\x04\x00\x00\x02x", DECODE_ERROR, "truncated message"),
    (m12.CertificateRequest12.parse, b"\x00\x00\x02\x08\x04\x00\x00", DECODE_ERROR, "vector too short"),
    (m12.CertificateRequest12.parse, b"\x01\x01\x00\x00\x00\x00", DECODE_ERROR, "vector too short"),
    (m12.CertificateRequest12.parse, b"\x01\x01\x00\x03\x08\x04\x00\x00\x00", DECODE_ERROR,
     "odd-length u16 vector"),
    (m12.CertificateRequest12.parse, b"\x01\x01\x00\x02\x08\x04\x00", DECODE_ERROR, "truncated message"),
    (m12.CertificateRequest12.parse, b"\x01\x01\x00\x02\x08\x04\x00\x00\x00", DECODE_ERROR,
     "trailing bytes"),
    (m12.ServerKeyExchange.parse, b"", DECODE_ERROR, "truncated message"),
    (m12.ServerKeyExchange.parse, b"\x01", HANDSHAKE_FAILURE, "only named curves are supported"),
    (m12.ServerKeyExchange.parse, b"\x03\x00", DECODE_ERROR, "truncated message"),
    (m12.ServerKeyExchange.parse, b"\x03\x00\x1d\x00", DECODE_ERROR, "vector too short"),
    (m12.ServerKeyExchange.parse, _SKE[:7], DECODE_ERROR, "truncated message"),
    (m12.ServerKeyExchange.parse, _SKE[:-3] + b"\x00\x00", DECODE_ERROR, "vector too short"),
    (m12.ServerKeyExchange.parse, _SKE[:-1], DECODE_ERROR, "truncated message"),
    (m12.ServerKeyExchange.parse, _SKE + b"\x00", DECODE_ERROR, "trailing bytes"),
    (m12.ClientKeyExchange.parse, b"\x00", DECODE_ERROR, "vector too short"),
    (m12.ClientKeyExchange.parse, b"\x02k", DECODE_ERROR, "truncated message"),
    (m12.ClientKeyExchange.parse, b"\x01kk", DECODE_ERROR, "trailing bytes"),
    (m12.NewSessionTicket12.parse, b"\x00\x00\x01", DECODE_ERROR, "truncated message"),
    (m12.NewSessionTicket12.parse, b"\x00\x00\x01\x00\x00", DECODE_ERROR, "truncated message"),
    (m12.NewSessionTicket12.parse, b"\x00\x00\x01\x00\x00\x00\x00", DECODE_ERROR, "trailing bytes"),
    (m12.expect_empty_body, b"\x00", DECODE_ERROR, "trailing bytes"),
    (m12.parse_renegotiation_info, b"", DECODE_ERROR, "truncated message"),
    (m12.parse_renegotiation_info, b"\x02\x00", DECODE_ERROR, "truncated message"),
    (m12.parse_renegotiation_info, b"\x00\x00", DECODE_ERROR, "trailing bytes"),
    (m12.parse_ec_point_formats, b"\x00", DECODE_ERROR, "vector too short"),
    (m12.parse_ec_point_formats, b"\x01\x00\x00", DECODE_ERROR, "trailing bytes"),
    (m12.parse_ec_point_formats, b"\x01\x01", ILLEGAL_PARAMETER, "uncompressed points not supported"),
    (m.parse_alert, b"\x02", DECODE_ERROR, "bad alert"),
    (m.parse_alert, b"\x02\x28\x00", DECODE_ERROR, "bad alert"),
    (m.parse_ech_outer_extension, b"", DECODE_ERROR, "empty encrypted_client_hello"),
    (m.parse_ech_outer_extension, b"\x01", ILLEGAL_PARAMETER, "inner encrypted_client_hello in an outer ClientHello"),
    (m.parse_ech_outer_extension, _ECH_OUTER[:9], DECODE_ERROR, "truncated encrypted_client_hello"),
    (m.parse_ech_outer_extension, _ECH_OUTER[:6] + b"\x00\x09" + _ECH_OUTER[8:], DECODE_ERROR,
     "truncated encrypted_client_hello"),
    (m.parse_ech_outer_extension, _ECH_OUTER[:9] + b"\x00\x00", DECODE_ERROR,
     "malformed encrypted_client_hello payload"),
    (m.parse_ech_outer_extension, _ECH_OUTER + b"\x00", DECODE_ERROR, "malformed encrypted_client_hello payload"),
    (m.encoded_client_hello_inner_length, _INNER_HELLO[:36], DECODE_ERROR, "truncated EncodedClientHelloInner"),
    (m.encoded_client_hello_inner_length, _INNER_HELLO[:-1], DECODE_ERROR, "truncated EncodedClientHelloInner"),
    (m.encoded_client_hello_inner_length, _INNER_HELLO + b"\x00\x01", ILLEGAL_PARAMETER,
     "malformed EncodedClientHelloInner"),
    (m.parse_ech_outer_extensions, b"", DECODE_ERROR, "malformed ech_outer_extensions"),
    (m.parse_ech_outer_extensions, b"\x00", DECODE_ERROR, "malformed ech_outer_extensions"),
    (m.parse_ech_outer_extensions, b"\x03\x00\x0a\x00", DECODE_ERROR, "malformed ech_outer_extensions"),
    (m.parse_ech_outer_extensions, b"\x02\x00\x0a\x00", DECODE_ERROR, "malformed ech_outer_extensions"),
])
def test_malformed_input_gets_its_alert(parse: Callable[[bytes], object], data: bytes, description: int,
                                       text: str) -> None:
    """Each parser refuses a malformed body with the alert (decode_error unless the bytes are well-formed
    but the value is refused), in the order its fields are read: truncation, too short, trailing bytes. The
    encrypted_client_hello bodies are those of draft-ietf-tls-esni sections 5 and 7.1."""
    with pytest.raises(TLSAlert) as info:
        parse(data)
    assert (info.value.description, info.value.message) == (description, text)


def test_converted_parsers_accept_what_they_build() -> None:
    assert m.parse_u32(b"\x00\x00\x40\x00") == 0x4000
    assert m.parse_psk_key_exchange_modes(b"\x01\x01") == b"\x01"
    assert m.parse_cookie(m.build_cookie(b"c")) == b"c"
    request = m12.CertificateRequest12(m12.CERTIFICATE_TYPES, [0x0804, 0x0403], b"")
    assert m12.CertificateRequest12.parse(_body(request.build())) == request
    exchange = m12.ServerKeyExchange(29, b"k", 0x0804, b"s")
    assert m12.ServerKeyExchange.parse(_body(exchange.build())) == exchange
    assert _body(exchange.build()) == _SKE
    assert m12.ClientKeyExchange.parse(_body(m12.ClientKeyExchange(b"k").build())) == m12.ClientKeyExchange(b"k")
    assert m12.parse_renegotiation_info(b"\x00") == b""
    m12.parse_ec_point_formats(m12.EC_POINT_FORMATS_DATA)
    m12.expect_empty_body(b"")
    assert m.parse_alert(memoryview(b"\x02\x28")) == (2, 40)


def test_ech_extension_bodies_parse() -> None:
    assert m.parse_ech_outer_extension(_ECH_OUTER) == m.ECHOuterExtension(1, 1, 7, b"e", b"p", 11)
    assert m.encoded_client_hello_inner_length(_INNER_HELLO + bytes(5)) == len(_INNER_HELLO)
    assert m.parse_ech_outer_extensions(b"\x04\x00\x0a\x00\x0d") == [m.SUPPORTED_GROUPS, m.SIGNATURE_ALGORITHMS]
