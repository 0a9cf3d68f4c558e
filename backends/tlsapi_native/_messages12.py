"""TLS 1.2 handshake messages and extensions (RFC 5246, RFC 8422, RFC 5077, RFC 7627, RFC 5746).

Same conventions as ``_messages``: ``parse(body)`` is total and raises ``TLSAlert``, ``build()`` returns the
whole message with its header. ClientHello, ServerHello, Finished and CertificateVerify (``scheme`` +
signature, as in RFC 5246 section 7.4.8 with TLS 1.2 signature_algorithms) are shared with TLS 1.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ._alerts import HANDSHAKE_FAILURE, ILLEGAL_PARAMETER, TLSAlert
from ._codec import Reader, u16, u16_vec, vec8, vec16, vec24
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
        reader = Reader(body)
        entries = reader.sub24()
        reader.expect_end()
        chain = []
        while entries.remaining:
            chain.append(entries.vec24(minimum=1))
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
        reader = Reader(body)
        types = reader.vec8(minimum=1)
        schemes = reader.u16_list(minimum=2)
        authorities = reader.vec16()
        reader.expect_end()
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
        reader = Reader(body)
        if reader.u8() != NAMED_CURVE:
            raise TLSAlert(HANDSHAKE_FAILURE, "only named curves are supported", "UNSUPPORTED_ELLIPTIC_CURVE")
        group = reader.u16()
        public = reader.vec8(minimum=1)
        scheme = reader.u16()
        signature = reader.vec16(minimum=1)
        reader.expect_end()
        return cls(group, public, scheme, signature)

    def build(self) -> bytes:
        return handshake_message(SERVER_KEY_EXCHANGE, self.params + u16(self.scheme) + vec16(self.signature))


@dataclass
class ClientKeyExchange:
    public: bytes

    @classmethod
    def parse(cls, body: bytes) -> ClientKeyExchange:
        reader = Reader(body)
        public = reader.vec8(minimum=1)
        reader.expect_end()
        return cls(public)

    def build(self) -> bytes:
        return handshake_message(CLIENT_KEY_EXCHANGE, vec8(self.public))


@dataclass
class NewSessionTicket12:
    lifetime_hint: int
    ticket: bytes

    @classmethod
    def parse(cls, body: bytes) -> NewSessionTicket12:
        reader = Reader(body)
        lifetime = reader.u32()
        ticket = reader.vec16()
        reader.expect_end()
        return cls(lifetime, ticket)

    def build(self) -> bytes:
        return handshake_message(NEW_SESSION_TICKET, self.lifetime_hint.to_bytes(4, "big") + vec16(self.ticket))


def expect_empty_body(body: bytes) -> None:
    """ServerHelloDone and HelloRequest carry nothing."""
    Reader(body).expect_end()


def parse_renegotiation_info(data: bytes) -> bytes:
    reader = Reader(data)
    value = reader.vec8()
    reader.expect_end()
    return value


def parse_ec_point_formats(data: bytes) -> None:
    """The peer's ec_point_formats must include uncompressed (RFC 8422 section 5.1.2)."""
    reader = Reader(data)
    formats = reader.vec8(minimum=1)
    reader.expect_end()
    if UNCOMPRESSED not in formats:
        raise TLSAlert(ILLEGAL_PARAMETER, "uncompressed points not supported", "UNSUPPORTED_ELLIPTIC_CURVE")


EC_POINT_FORMATS_DATA: Final = vec8(bytes((UNCOMPRESSED,)))
