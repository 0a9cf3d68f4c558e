"""Peek at a ClientHello before the engine sees it: SNI, ALPN offer, versions, suites and groups.

An engine without a servername hook, or whose ALPN rule differs from the stdlib's, can read the client's
first flight from the incoming BIO without consuming it, run tlsapi's SNI callback and ALPN choice, and only
then configure itself. Only the fields those decisions need are decoded; everything else is left to the engine,
which also rejects a malformed hello with its own alert.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["GROUP_NAMES", "ClientHelloInfo", "peek_client_hello"]

_HANDSHAKE_RECORD = 22
_CLIENT_HELLO = 1
_SERVER_NAME = 0
_SUPPORTED_GROUPS = 10
_ALPN = 16
_SUPPORTED_VERSIONS = 43
_KEY_SHARE = 51
#: The largest ClientHello peeked (post-quantum key shares make hellos of a few kilobytes).
MAX_CLIENT_HELLO = 1 << 16

#: IANA names of the named groups tlsapi speaks of, by code point.
GROUP_NAMES: dict[int, str] = {
    0x0017: "secp256r1",
    0x0018: "secp384r1",
    0x0019: "secp521r1",
    0x001D: "x25519",
    0x001E: "x448",
    0x11EC: "X25519MLKEM768",
}


@dataclass(frozen=True)
class ClientHelloInfo:
    """What a ClientHello offers, in the client's order.

    ``versions`` holds the ``supported_versions`` extension (``0x0304`` is TLS 1.3), or the legacy version
    alone when the extension is absent. ``cipher_suites``, ``groups`` (``supported_groups``) and
    ``key_share_groups`` are IANA code points, and ``extensions`` the extension types in order; GREASE values
    are kept, as the client sent them.
    """

    server_name: str | None
    alpn_protocols: tuple[bytes, ...]
    versions: tuple[int, ...]
    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    key_share_groups: tuple[int, ...]
    extensions: tuple[int, ...]


class _Reader:
    """Bounds-checked big-endian reads; a short or overlong field raises ``ValueError``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise ValueError("truncated ClientHello field")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> _Reader:
        return _Reader(self.take(self.number(length_size)))

    def u16_list(self, length_size: int) -> tuple[int, ...]:
        body = self.take(self.number(length_size))
        if len(body) % 2:
            raise ValueError("odd-length list of 16-bit values")
        return struct.unpack(f">{len(body) // 2}H", body)

    def done(self) -> bool:
        return self.pos == len(self.data)


def _handshake_bytes(records: bytes) -> bytes | None:
    """The concatenated handshake-record payloads at the start of ``records`` up to the first ClientHello's
    end, or ``None`` while it is incomplete."""
    payload = b""
    pos = 0
    while pos + 5 <= len(records):
        content_type, _version, length = struct.unpack_from(">BHH", records, pos)
        if content_type != _HANDSHAKE_RECORD or length == 0:
            raise ValueError("the first flight is not a handshake record")
        if pos + 5 + length > len(records):
            return None
        payload += records[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if len(payload) >= 4:
            needed = 4 + int.from_bytes(payload[1:4], "big")
            if needed > MAX_CLIENT_HELLO:
                raise ValueError("ClientHello too long")
            if len(payload) >= needed:
                return payload[:needed]
    return None


def peek_client_hello(records: bytes) -> ClientHelloInfo | None:
    """Decode the ClientHello at the start of ``records`` (the raw bytes received, record headers included).

    Returns ``None`` while more bytes are needed, raises ``ValueError`` when the bytes are not a well-formed
    ClientHello (the engine, fed the same bytes, then rejects them with the right alert).
    """
    handshake = _handshake_bytes(records)
    if handshake is None:
        return None
    message = _Reader(handshake)
    if message.number(1) != _CLIENT_HELLO:
        raise ValueError("the first handshake message is not a ClientHello")
    hello = message.vector(3)
    legacy_version = hello.number(2)
    hello.take(32)  # random
    hello.vector(1)  # legacy_session_id
    cipher_suites = hello.u16_list(2)
    hello.vector(1)  # legacy_compression_methods
    server_name: str | None = None
    alpn: tuple[bytes, ...] = ()
    versions: tuple[int, ...] = (legacy_version,)
    groups: tuple[int, ...] = ()
    key_share_groups: tuple[int, ...] = ()
    kinds: list[int] = []
    extensions = hello.vector(2) if not hello.done() else _Reader(b"")
    if not hello.done():
        raise ValueError("trailing bytes after the ClientHello extensions")
    while not extensions.done():
        kind = extensions.number(2)
        kinds.append(kind)
        body = extensions.vector(2)
        if kind == _SERVER_NAME:
            server_name = _server_name(body)
        elif kind == _ALPN:
            alpn = _alpn(body)
        elif kind == _SUPPORTED_VERSIONS:
            versions = body.u16_list(1)
        elif kind == _SUPPORTED_GROUPS:
            groups = body.u16_list(2)
        elif kind == _KEY_SHARE:
            key_share_groups = _key_share_groups(body)
    return ClientHelloInfo(server_name, alpn, versions, cipher_suites, groups, key_share_groups, tuple(kinds))


def _server_name(body: _Reader) -> str | None:
    names = body.vector(2)
    while not names.done():
        name_type = names.number(1)
        name = names.vector(2).data
        if name_type == 0:
            return name.decode("ascii")  # UnicodeDecodeError is a ValueError: not a host name
    return None


def _alpn(body: _Reader) -> tuple[bytes, ...]:
    protocols = body.vector(2)
    offered = []
    while not protocols.done():
        protocol = protocols.vector(1).data
        if not protocol:
            raise ValueError("empty ALPN protocol name")
        offered.append(protocol)
    return tuple(offered)


def _key_share_groups(body: _Reader) -> tuple[int, ...]:
    shares = body.vector(2)
    found = []
    while not shares.done():
        found.append(shares.number(2))
        shares.vector(2)
    return tuple(found)
