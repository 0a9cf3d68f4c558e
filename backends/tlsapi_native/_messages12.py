"""TLS 1.2 handshake messages and extensions (RFC 5246, RFC 8422, RFC 5077, RFC 7627, RFC 5746).

Same conventions as ``_messages``: ``parse(body)`` is total and raises ``TLSAlert``, ``build()`` returns the
whole message with its header. ClientHello, ServerHello, Finished and CertificateVerify (``scheme`` +
signature, as in RFC 5246 section 7.4.8 with TLS 1.2 signature_algorithms) are shared with TLS 1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._alerts import HANDSHAKE_FAILURE, ILLEGAL_PARAMETER, TLSAlert
from ._codec import (
    trailing,
    truncated,
    u16,
    u16_list_at,
    u16_vec,
    u32_at,
    vec8,
    vec8_at,
    vec16,
    vec16_at,
    vec24,
    vec24_at,
)
from ._messages import CERTIFICATE, CERTIFICATE_REQUEST, NEW_SESSION_TICKET, handshake_message

HELLO_REQUEST: Final = 0
SERVER_KEY_EXCHANGE: Final = 12
SERVER_HELLO_DONE: Final = 14
CLIENT_KEY_EXCHANGE: Final = 16

EC_POINT_FORMATS: Final = 11
EXTENDED_MASTER_SECRET: Final = 23
SESSION_TICKET: Final = 35
RENEGOTIATION_INFO: Final = 0xFF01

EMPTY_RENEGOTIATION_INFO_SCSV: Final = 0x00FF
FALLBACK_SCSV: Final = 0x5600

NAMED_CURVE: Final = 3
UNCOMPRESSED: Final = 0
# CertificateRequest.certificate_types: rsa_sign, ecdsa_sign.
CERTIFICATE_TYPES: Final = b"\x01\x40"

EMPTY_RENEGOTIATION_INFO: Final = b"\x00"  # renegotiated_connection of length 0


@dataclass
class Certificate12:
    chain: list[bytes]  # DER, leaf first

    @classmethod
    def parse(cls, body: bytes) -> Certificate12:
        body = bytes(body)
        end = len(body)
        _, stop = vec24_at(body, 0, end)
        if stop != end:
            raise trailing()
        chain = []
        pos = 3
        while pos < end:
            der, pos = vec24_at(body, pos, end, minimum=1)
            chain.append(der)
        return cls(chain)

    def build(self) -> bytes:
        return handshake_message(CERTIFICATE, vec24(b"".join(vec24(der) for der in self.chain)))


@dataclass
class CertificateRequest12:
    certificate_types: bytes
    schemes: list[int]
    authorities: bytes = b""  # the raw DistinguishedName list (we send none and ignore the peer's)

    @classmethod
    def parse(cls, body: bytes) -> CertificateRequest12:
        body = bytes(body)
        end = len(body)
        types, pos = vec8_at(body, 0, end, minimum=1)
        schemes, pos = u16_list_at(body, pos, end, minimum=2)
        authorities, pos = vec16_at(body, pos, end)
        if pos != end:
            raise trailing()
        return cls(types, schemes, authorities)

    def build(self) -> bytes:
        body = vec8(self.certificate_types) + u16_vec(self.schemes) + vec16(self.authorities)
        return handshake_message(CERTIFICATE_REQUEST, body)


@dataclass
class ServerKeyExchange:
    group: int
    public: bytes
    scheme: int
    signature: bytes

    @property
    def params(self) -> bytes:
        """The ServerECDHParams, as signed."""
        return bytes((NAMED_CURVE,)) + u16(self.group) + vec8(self.public)

    @classmethod
    def parse(cls, body: bytes) -> ServerKeyExchange:
        body = bytes(body)
        end = len(body)
        if not body:
            raise truncated()
        if body[0] != NAMED_CURVE:
            raise TLSAlert(HANDSHAKE_FAILURE, "only named curves are supported", "UNSUPPORTED_ELLIPTIC_CURVE")
        if end < 3:
            raise truncated()
        group = (body[1] << 8) | body[2]
        public, pos = vec8_at(body, 3, end, minimum=1)
        if end - pos < 2:
            raise truncated()
        scheme = (body[pos] << 8) | body[pos + 1]
        signature, pos = vec16_at(body, pos + 2, end, minimum=1)
        if pos != end:
            raise trailing()
        return cls(group, public, scheme, signature)

    def build(self) -> bytes:
        return handshake_message(SERVER_KEY_EXCHANGE, self.params + u16(self.scheme) + vec16(self.signature))


@dataclass
class ClientKeyExchange:
    public: bytes

    @classmethod
    def parse(cls, body: bytes) -> ClientKeyExchange:
        body = bytes(body)
        public, pos = vec8_at(body, 0, len(body), minimum=1)
        if pos != len(body):
            raise trailing()
        return cls(public)

    def build(self) -> bytes:
        return handshake_message(CLIENT_KEY_EXCHANGE, vec8(self.public))


@dataclass
class NewSessionTicket12:
    lifetime_hint: int
    ticket: bytes

    @classmethod
    def parse(cls, body: bytes) -> NewSessionTicket12:
        body = bytes(body)
        lifetime, pos = u32_at(body, 0, len(body))
        ticket, pos = vec16_at(body, pos, len(body))
        if pos != len(body):
            raise trailing()
        return cls(lifetime, ticket)

    def build(self) -> bytes:
        return handshake_message(NEW_SESSION_TICKET, self.lifetime_hint.to_bytes(4, "big") + vec16(self.ticket))


def expect_empty_body(body: bytes) -> None:
    """ServerHelloDone and HelloRequest carry nothing."""
    if body:
        raise trailing()


def parse_renegotiation_info(data: bytes) -> bytes:
    data = bytes(data)
    value, pos = vec8_at(data, 0, len(data))
    if pos != len(data):
        raise trailing()
    return value


def parse_ec_point_formats(data: bytes) -> None:
    """The peer's ec_point_formats must include uncompressed (RFC 8422 section 5.1.2)."""
    data = bytes(data)
    formats, pos = vec8_at(data, 0, len(data), minimum=1)
    if pos != len(data):
        raise trailing()
    if UNCOMPRESSED not in formats:
        raise TLSAlert(ILLEGAL_PARAMETER, "uncompressed points not supported", "UNSUPPORTED_ELLIPTIC_CURVE")


EC_POINT_FORMATS_DATA: Final = vec8(bytes((UNCOMPRESSED,)))
