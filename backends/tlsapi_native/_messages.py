"""TLS 1.3 handshake messages and extensions, parsed and built symmetrically.

Each message class has ``parse(body)`` (the bytes after the 4-byte handshake header; total, raising
``TLSAlert`` on malformed input) and ``build()`` (the full message with its header), so tests can build
malformed messages by editing fields. Extensions stay raw ``(type, data)`` pairs on the messages; the
``parse_*``/``build_*`` helpers below decode and encode the ones the engine understands.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from ._alerts import DECODE_ERROR, ILLEGAL_PARAMETER, TLSAlert
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

# Handshake message types.
CLIENT_HELLO: Final = 1
SERVER_HELLO: Final = 2
NEW_SESSION_TICKET: Final = 4
END_OF_EARLY_DATA: Final = 5
ENCRYPTED_EXTENSIONS: Final = 8
CERTIFICATE: Final = 11
CERTIFICATE_REQUEST: Final = 13
CERTIFICATE_VERIFY: Final = 15
FINISHED: Final = 20
KEY_UPDATE: Final = 24
MESSAGE_HASH: Final = 254

# Extension types.
SERVER_NAME: Final = 0
SUPPORTED_GROUPS: Final = 10
SIGNATURE_ALGORITHMS: Final = 13
ALPN: Final = 16
PRE_SHARED_KEY: Final = 41
EARLY_DATA: Final = 42
SUPPORTED_VERSIONS: Final = 43
COOKIE: Final = 44
PSK_KEY_EXCHANGE_MODES: Final = 45
POST_HANDSHAKE_AUTH: Final = 49
SIGNATURE_ALGORITHMS_CERT: Final = 50
KEY_SHARE: Final = 51

TLS13: Final = 0x0304
TLS12: Final = 0x0303
HRR_RANDOM: Final = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
DOWNGRADE_TLS12: Final = b"DOWNGRD\x01"
DOWNGRADE_TLS11: Final = b"DOWNGRD\x00"

Extensions = list[tuple[int, bytes]]

_pack_u16: Final = struct.Struct(">H").pack
_pack_u16_u16: Final = struct.Struct(">HH").pack
_U32_PAIR: Final = struct.Struct(">II")
_pack_u32: Final = struct.Struct(">I").pack
_pack_u32_u32_u8: Final = struct.Struct(">IIB").pack


def _bytes(body: bytes | bytearray | memoryview) -> bytes:
    return body if type(body) is bytes else bytes(body)


def handshake_message(msg_type: int, body: bytes) -> bytes:
    """``body`` framed as a handshake message: type, 24-bit length, body."""
    return b"".join((bytes((msg_type,)), len(body).to_bytes(3, "big"), body))


def extensions_at(data: bytes, pos: int, end: int) -> tuple[Extensions, int]:
    """An extensions block (u16 length) at ``pos``, and the offset after it; duplicate types are an
    illegal_parameter."""
    if end - pos < 2:
        raise truncated()
    stop = pos + 2 + ((data[pos] << 8) | data[pos + 1])
    if stop > end:
        raise truncated()
    pos += 2
    extensions: Extensions = []
    seen: set[int] = set()
    while pos < stop:
        if stop - pos < 4:
            raise truncated()
        ext_type = (data[pos] << 8) | data[pos + 1]
        next_pos = pos + 4 + ((data[pos + 2] << 8) | data[pos + 3])
        if next_pos > stop:
            raise truncated()
        if ext_type in seen:
            raise TLSAlert(ILLEGAL_PARAMETER, f"duplicate extension {ext_type}", "BAD_EXTENSION")
        seen.add(ext_type)
        extensions.append((ext_type, data[pos + 4 : next_pos]))
        pos = next_pos
    return extensions, stop


def build_extensions(extensions: Sequence[tuple[int, bytes]]) -> bytes:
    parts: list[bytes] = []
    for ext_type, data in extensions:
        parts += (_pack_u16_u16(ext_type, len(data)), data)
    body = b"".join(parts)
    return _pack_u16(len(body)) + body


# -- messages ---------------------------------------------------------------------------------------------


def _hello_start(data: bytes, end: int, too_long: int) -> tuple[bytes, int]:
    """The start both hellos share: legacy version, random, and a session id of at most 32 bytes (a longer
    one is alert ``too_long``: decode_error in a ClientHello, illegal_parameter in a ServerHello, as OpenSSL)."""
    if end < 34:
        raise truncated()
    session_id, pos = vec8_at(data, 34, end)
    if len(session_id) > 32:
        raise TLSAlert(too_long, "session id too long", "BAD_LENGTH")
    return session_id, pos


def _extensions_tail(data: bytes, pos: int, end: int) -> Extensions:
    """The optional extensions block that must end a hello (anything after it is a decode error)."""
    if pos == end:
        return []
    extensions, pos = extensions_at(data, pos, end)
    if pos != end:
        raise trailing()
    return extensions


@dataclass(slots=True)
class ClientHello:
    random: bytes
    session_id: bytes
    cipher_suites: list[int]
    extensions: Extensions
    legacy_version: int = TLS12
    compression_methods: bytes = b"\x00"

    @classmethod
    def parse(cls, body: bytes) -> ClientHello:
        data = _bytes(body)
        end = len(data)
        session_id, pos = _hello_start(data, end, DECODE_ERROR)  # RFC 8446 6.2: a field out of its range
        suites, pos = u16_list_at(data, pos, end, minimum=2)
        compression, pos = vec8_at(data, pos, end, minimum=1)
        extensions = _extensions_tail(data, pos, end)
        return cls(data[2:34], session_id, suites, extensions, (data[0] << 8) | data[1], compression)

    def build(self) -> bytes:
        body = b"".join((
            _pack_u16(self.legacy_version), self.random, vec8(self.session_id), u16_vec(self.cipher_suites),
            vec8(self.compression_methods), build_extensions(self.extensions),
        ))
        return handshake_message(CLIENT_HELLO, body)


@dataclass(slots=True)
class ServerHello:
    random: bytes
    session_id: bytes
    cipher_suite: int
    extensions: Extensions
    legacy_version: int = TLS12
    compression_method: int = 0

    @property
    def is_hello_retry_request(self) -> bool:
        return self.random == HRR_RANDOM

    @classmethod
    def parse(cls, body: bytes) -> ServerHello:
        data = _bytes(body)
        end = len(data)
        session_id, pos = _hello_start(data, end, ILLEGAL_PARAMETER)
        if end - pos < 3:
            raise truncated()
        suite = (data[pos] << 8) | data[pos + 1]
        compression = data[pos + 2]
        extensions = _extensions_tail(data, pos + 3, end)
        return cls(data[2:34], session_id, suite, extensions, (data[0] << 8) | data[1], compression)

    def build(self) -> bytes:
        body = b"".join((
            _pack_u16(self.legacy_version), self.random, vec8(self.session_id), _pack_u16(self.cipher_suite),
            bytes((self.compression_method,)), build_extensions(self.extensions),
        ))
        return handshake_message(SERVER_HELLO, body)


@dataclass(slots=True)
class EncryptedExtensions:
    extensions: Extensions

    @classmethod
    def parse(cls, body: bytes) -> EncryptedExtensions:
        data = _bytes(body)
        extensions, pos = extensions_at(data, 0, len(data))
        if pos != len(data):
            raise trailing()
        return cls(extensions)

    def build(self) -> bytes:
        return handshake_message(ENCRYPTED_EXTENSIONS, build_extensions(self.extensions))


@dataclass(slots=True)
class CertificateRequest:
    context: bytes
    extensions: Extensions

    @classmethod
    def parse(cls, body: bytes) -> CertificateRequest:
        data = _bytes(body)
        end = len(data)
        context, pos = vec8_at(data, 0, end)
        extensions, pos = extensions_at(data, pos, end)
        if pos != end:
            raise trailing()
        return cls(context, extensions)

    def build(self) -> bytes:
        return handshake_message(CERTIFICATE_REQUEST, vec8(self.context) + build_extensions(self.extensions))


@dataclass(slots=True)
class Certificate:
    context: bytes
    entries: list[tuple[bytes, Extensions]]  # (DER certificate, per-entry extensions)

    @classmethod
    def parse(cls, body: bytes) -> Certificate:
        data = _bytes(body)
        end = len(data)
        context, pos = vec8_at(data, 0, end)
        if end - pos < 3:
            raise truncated()
        stop = pos + 3 + ((data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2])
        if stop > end:
            raise truncated()
        if stop != end:
            raise trailing()
        pos += 3
        entries = []
        while pos < stop:
            der, pos = vec24_at(data, pos, stop, minimum=1)
            extensions, pos = extensions_at(data, pos, stop)
            entries.append((der, extensions))
        return cls(context, entries)

    def build(self) -> bytes:
        entries = b"".join(vec24(der) + build_extensions(exts) for der, exts in self.entries)
        return handshake_message(CERTIFICATE, vec8(self.context) + vec24(entries))


@dataclass(slots=True)
class CertificateVerify:
    scheme: int
    signature: bytes

    @classmethod
    def parse(cls, body: bytes) -> CertificateVerify:
        data = _bytes(body)
        end = len(data)
        if end < 2:
            raise truncated()
        # RFC 8446 4.4.3 / RFC 5246 4.7: ``signature<0..2^16-1>``; an empty one decodes and fails to verify
        # (decrypt_error, as OpenSSL).
        signature, pos = vec16_at(data, 2, end)
        if pos != end:
            raise trailing()
        return cls((data[0] << 8) | data[1], signature)

    def build(self) -> bytes:
        return handshake_message(CERTIFICATE_VERIFY, _pack_u16(self.scheme) + vec16(self.signature))


@dataclass(slots=True)
class Finished:
    verify_data: bytes

    @classmethod
    def parse(cls, body: bytes, hash_len: int) -> Finished:
        if len(body) != hash_len:
            raise TLSAlert(DECODE_ERROR, "bad Finished length", "BAD_LENGTH")
        return cls(bytes(body))

    def build(self) -> bytes:
        return handshake_message(FINISHED, self.verify_data)


@dataclass(slots=True)
class NewSessionTicket:
    lifetime: int
    age_add: int
    nonce: bytes
    ticket: bytes
    extensions: Extensions = field(default_factory=list)

    @classmethod
    def parse(cls, body: bytes) -> NewSessionTicket:
        body = _bytes(body)
        end = len(body)
        if end < 8:
            raise truncated()
        lifetime, age_add = _U32_PAIR.unpack_from(body)
        nonce, pos = vec8_at(body, 8, end)
        ticket, pos = vec16_at(body, pos, end, 1)
        extensions, pos = extensions_at(body, pos, end)
        if pos != end:
            raise trailing()
        return cls(lifetime, age_add, nonce, ticket, extensions)

    def build(self) -> bytes:
        nonce, ticket = self.nonce, self.ticket
        extensions = build_extensions(self.extensions) if self.extensions else b"\x00\x00"
        length = 11 + len(nonce) + len(ticket) + len(extensions)  # u32 u32 vec8 vec16 ..., then the header
        return b"".join((_pack_u32(NEW_SESSION_TICKET << 24 | length), _pack_u32_u32_u8(self.lifetime, self.age_add,
                         len(nonce)), nonce, _pack_u16(len(ticket)), ticket, extensions))


@dataclass(slots=True)
class KeyUpdate:
    update_requested: bool

    @classmethod
    def parse(cls, body: bytes) -> KeyUpdate:
        if len(body) != 1:
            raise truncated() if not body else trailing()
        value = body[0]
        if value > 1:
            raise TLSAlert(ILLEGAL_PARAMETER, "bad KeyUpdate request", "BAD_KEY_UPDATE")
        return cls(bool(value))

    def build(self) -> bytes:
        return handshake_message(KEY_UPDATE, bytes((int(self.update_requested),)))


def parse_alert(payload: bytes | bytearray | memoryview) -> tuple[int, int]:
    """An alert record's ``(level, description)``; any length but 2 is a decode_error."""
    if len(payload) != 2:
        raise TLSAlert(DECODE_ERROR, "bad alert", "BAD_LENGTH")
    return payload[0], payload[1]


def message_hash(hash_of_client_hello: bytes) -> bytes:
    """The synthetic ``message_hash`` message replacing ClientHello1 in the transcript after an HRR."""
    return handshake_message(MESSAGE_HASH, hash_of_client_hello)


# -- extension bodies ---------------------------------------------------------------------------------------


def parse_supported_versions_client(data: bytes) -> list[int]:
    data = _bytes(data)
    versions, pos = u16_list_at(data, 0, len(data), length_bytes=1, minimum=2)
    if pos != len(data):
        raise trailing()
    return versions


def build_supported_versions_client(versions: Sequence[int]) -> bytes:
    return u16_vec(versions, length_bytes=1)


def parse_u16(data: bytes) -> int:
    """A single u16 (ServerHello supported_versions, HelloRetryRequest key_share)."""
    if len(data) != 2:
        raise truncated() if len(data) < 2 else trailing()
    return (data[0] << 8) | data[1]


def parse_u32(data: bytes) -> int:
    """A single u32 (NewSessionTicket early_data max_early_data_size)."""
    data = _bytes(data)
    value, pos = u32_at(data, 0, len(data))
    if pos != len(data):
        raise trailing()
    return value


def parse_u16_list(data: bytes) -> list[int]:
    """supported_groups, signature_algorithms(_cert)."""
    data = _bytes(data)
    values, pos = u16_list_at(data, 0, len(data), minimum=2)
    if pos != len(data):
        raise trailing()
    return values


def build_u16_list(values: Sequence[int]) -> bytes:
    return u16_vec(values)


def parse_key_share_client(data: bytes) -> list[tuple[int, bytes]]:
    data = _bytes(data)
    end = len(data)
    if end < 2:
        raise truncated()
    stop = 2 + ((data[0] << 8) | data[1])
    if stop > end:
        raise truncated()
    if stop != end:
        raise trailing()
    shares: list[tuple[int, bytes]] = []
    groups: set[int] = set()
    pos = 2
    while pos < end:
        if end - pos < 2:
            raise truncated()
        group = (data[pos] << 8) | data[pos + 1]
        key, pos = vec16_at(data, pos + 2, end, minimum=1)
        if group in groups:
            raise TLSAlert(ILLEGAL_PARAMETER, "duplicate key share", "BAD_KEY_SHARE")
        groups.add(group)
        shares.append((group, key))
    return shares


def build_key_share_client(shares: Sequence[tuple[int, bytes]]) -> bytes:
    return vec16(b"".join(u16(group) + vec16(key) for group, key in shares))


def parse_key_share_server(data: bytes) -> tuple[int, bytes]:
    data = _bytes(data)
    end = len(data)
    if end < 2:
        raise truncated()
    key, pos = vec16_at(data, 2, end, minimum=1)
    if pos != end:
        raise trailing()
    return (data[0] << 8) | data[1], key


def build_key_share_server(group: int, key: bytes) -> bytes:
    return _pack_u16_u16(group, len(key)) + key


def parse_server_name(data: bytes) -> str | None:
    """The host_name of a ClientHello server_name extension (``None`` if it names none)."""
    data = _bytes(data)
    _, end = vec16_at(data, 0, len(data), minimum=1)
    if end != len(data):
        raise trailing()
    host: str | None = None
    pos = 2
    while pos < end:
        name_type = data[pos]
        name, pos = vec16_at(data, pos + 1, end, minimum=1)
        if name_type == 0:
            if host is not None:
                raise TLSAlert(ILLEGAL_PARAMETER, "two host names", "BAD_EXTENSION")
            try:
                host = name.decode("ascii")
            except UnicodeDecodeError:
                raise TLSAlert(DECODE_ERROR, "non-ASCII host name", "BAD_EXTENSION") from None
            if "\x00" in host:
                raise TLSAlert(ILLEGAL_PARAMETER, "NUL in host name", "BAD_EXTENSION")
    return host


def build_server_name(host: str) -> bytes:
    return vec16(b"\x00" + vec16(host.encode("ascii")))


def parse_alpn(data: bytes) -> list[bytes]:
    data = _bytes(data)
    _, end = vec16_at(data, 0, len(data), minimum=2)
    if end != len(data):
        raise trailing()
    names = []
    pos = 2
    while pos < end:
        name, pos = vec8_at(data, pos, end, minimum=1)
        names.append(name)
    return names


def build_alpn(protocols: Sequence[bytes]) -> bytes:
    return vec16(b"".join(vec8(protocol) for protocol in protocols))


def parse_psk_key_exchange_modes(data: bytes) -> bytes:
    data = _bytes(data)
    modes, pos = vec8_at(data, 0, len(data), minimum=1)
    if pos != len(data):
        raise trailing()
    return modes


def parse_cookie(data: bytes) -> bytes:
    data = _bytes(data)
    cookie, pos = vec16_at(data, 0, len(data), minimum=1)
    if pos != len(data):
        raise trailing()
    return cookie


def build_cookie(cookie: bytes) -> bytes:
    return vec16(cookie)


def parse_pre_shared_key_client(data: bytes) -> tuple[list[tuple[bytes, int]], list[bytes]]:
    """``(identities as (identity, obfuscated_ticket_age), binders)``."""
    data = _bytes(data)
    identities_data, pos = vec16_at(data, 0, len(data), 7)
    binders_data, pos = vec16_at(data, pos, len(data), 33)
    if pos != len(data):
        raise trailing()
    identities = []
    pos, end = 0, len(identities_data)
    while pos < end:
        identity, pos = vec16_at(identities_data, pos, end, 1)
        if end - pos < 4:
            raise truncated()
        identities.append((identity, int.from_bytes(identities_data[pos : pos + 4], "big")))
        pos += 4
    binders = []
    pos, end = 0, len(binders_data)
    while pos < end:
        binder, pos = vec8_at(binders_data, pos, end, 32)
        binders.append(binder)
    if len(binders) != len(identities):
        raise TLSAlert(ILLEGAL_PARAMETER, "binder count mismatch", "BAD_EXTENSION")
    return identities, binders


def expect_empty(data: bytes) -> None:
    if data:
        raise TLSAlert(DECODE_ERROR, "extension should be empty", "BAD_EXTENSION")


PSK_DHE_KE: Final = 1


def build_psk_key_exchange_modes(modes: bytes) -> bytes:
    return vec8(modes)


def build_pre_shared_key_client(identities: Sequence[tuple[bytes, int]], binders: Sequence[bytes]) -> bytes:
    """The ClientHello pre_shared_key body; its last ``binders_length(binders)`` bytes are the binders."""
    ids = b"".join([b"".join((_pack_u16(len(identity)), identity, _pack_u32(age))) for identity, age in identities])
    binder_list = b"".join([b"".join((bytes((len(binder),)), binder)) for binder in binders])
    return b"".join((_pack_u16(len(ids)), ids, _pack_u16(len(binder_list)), binder_list))


def binders_length(binders: Sequence[bytes]) -> int:
    """Bytes at the end of a ClientHello taken by the binders list (what the binder hash leaves out)."""
    return 2 + sum(1 + len(binder) for binder in binders)


# -- encrypted_client_hello bodies (draft-ietf-tls-esni) ------------------------------------------------------

ECH_OUTER: Final = 0  # ECHClientHello.type of an outer hello's extension


class ECHOuterExtension(NamedTuple):
    """An outer ``encrypted_client_hello`` extension (ECHClientHello of type outer, section 5)."""

    kdf_id: int
    aead_id: int
    config_id: int
    enc: bytes
    payload: bytes
    payload_offset: int  # where the payload starts inside the extension data


def parse_ech_outer_extension(data: bytes) -> ECHOuterExtension:
    """An outer hello's ``encrypted_client_hello``: empty, truncated or with a payload that is empty or does not
    end the extension is a decode_error; the inner type in an outer hello an illegal_parameter."""
    if not data:
        raise TLSAlert(DECODE_ERROR, "empty encrypted_client_hello", "BAD_EXTENSION")
    if data[0] != ECH_OUTER:
        raise TLSAlert(ILLEGAL_PARAMETER, "inner encrypted_client_hello in an outer ClientHello", "BAD_EXTENSION")
    if len(data) < 10:
        raise TLSAlert(DECODE_ERROR, "truncated encrypted_client_hello", "BAD_EXTENSION")
    enc_length = (data[6] << 8) | data[7]
    payload_offset = 8 + enc_length + 2
    if len(data) < payload_offset:
        raise TLSAlert(DECODE_ERROR, "truncated encrypted_client_hello", "BAD_EXTENSION")
    payload_length = (data[payload_offset - 2] << 8) | data[payload_offset - 1]
    if payload_length == 0 or len(data) != payload_offset + payload_length:
        raise TLSAlert(DECODE_ERROR, "malformed encrypted_client_hello payload", "BAD_EXTENSION")
    return ECHOuterExtension((data[1] << 8) | data[2], (data[3] << 8) | data[4], data[5], data[8:8 + enc_length],
                             data[payload_offset:], payload_offset)


def encoded_client_hello_inner_length(encoded: bytes) -> int:
    """The length of the ClientHello body at the start of an EncodedClientHelloInner (zero padding follows
    it): truncated is a decode_error, non-zero padding an illegal_parameter."""
    try:
        pos = 34
        pos += 1 + encoded[pos]  # legacy_session_id
        pos += 2 + int.from_bytes(encoded[pos:pos + 2], "big")  # cipher_suites
        pos += 1 + encoded[pos]  # legacy_compression_methods
        pos += 2 + int.from_bytes(encoded[pos:pos + 2], "big")  # extensions
    except IndexError:
        raise TLSAlert(DECODE_ERROR, "truncated EncodedClientHelloInner", "BAD_EXTENSION") from None
    if pos > len(encoded):
        raise TLSAlert(DECODE_ERROR, "truncated EncodedClientHelloInner", "BAD_EXTENSION")
    if any(encoded[pos:]):
        raise TLSAlert(ILLEGAL_PARAMETER, "malformed EncodedClientHelloInner", "BAD_EXTENSION")
    return pos


def parse_ech_outer_extensions(data: bytes) -> list[int]:
    """The extension types an inner hello's ``ech_outer_extensions`` names (a u8-length list of at least one
    u16; anything else is a decode_error)."""
    if not data or data[0] != len(data) - 1 or data[0] < 2 or data[0] % 2:
        raise TLSAlert(DECODE_ERROR, "malformed ech_outer_extensions", "BAD_EXTENSION")
    return [(data[offset] << 8) | data[offset + 1] for offset in range(1, len(data), 2)]
