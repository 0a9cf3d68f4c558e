"""Peek at a ClientHello before the engine sees it: SNI, ALPN offer, versions, suites and groups.

An engine without a servername hook, or whose ALPN rule differs from the stdlib's, can read the client's
first flight from the incoming BIO without consuming it, run tlsapi's SNI callback and ALPN choice, and only
then configure itself. Only the fields those decisions need are decoded; everything else is left to the engine,
which also rejects a malformed hello with its own alert.
"""

from __future__ import annotations

import struct

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


class ClientHelloInfo:
    """What a ClientHello offers, in the client's order.

    The record and message framing and the extension list were checked by :func:`peek_client_hello`; each
    field below is decoded when read (engines read the few they need once), and raises ``ValueError`` then if
    its extension is malformed.
    ``versions`` holds the ``supported_versions`` extension (``0x0304`` is TLS 1.3), or the legacy version
    alone when the extension is absent. ``cipher_suites``, ``groups`` (``supported_groups``) and
    ``key_share_groups`` are IANA code points, and ``extensions`` the extension types in order; GREASE values
    are kept, as the client sent them.
    """

    def __init__(self, legacy_version: int, suites: bytes, extensions: dict[int, bytes]) -> None:
        self._legacy_version = legacy_version
        self._suites = suites
        self._extensions = extensions
        self.extensions: tuple[int, ...] = tuple(extensions)

    def __repr__(self) -> str:
        return (f"<ClientHelloInfo server_name={self.server_name!r} alpn={self.alpn_protocols!r} "
                f"versions={self.versions!r} extensions={self.extensions!r}>")

    def _body(self, kind: int) -> _Reader | None:
        data = self._extensions.get(kind)
        return None if data is None else _Reader(data)

    @property
    def server_name(self) -> str | None:
        """The ``host_name`` of the server_name extension (ASCII, an A-label), or ``None``."""
        body = self._body(_SERVER_NAME)
        return None if body is None else _server_name(body)

    @property
    def alpn_protocols(self) -> tuple[bytes, ...]:
        body = self._body(_ALPN)
        return () if body is None else _alpn(body)

    @property
    def versions(self) -> tuple[int, ...]:
        body = self._body(_SUPPORTED_VERSIONS)
        return (self._legacy_version,) if body is None else _whole(body, body.u16_list(1))

    @property
    def cipher_suites(self) -> tuple[int, ...]:
        return _Reader(self._suites).u16_list(0)

    @property
    def groups(self) -> tuple[int, ...]:
        body = self._body(_SUPPORTED_GROUPS)
        return () if body is None else _whole(body, body.u16_list(2))

    @property
    def key_share_groups(self) -> tuple[int, ...]:
        body = self._body(_KEY_SHARE)
        return () if body is None else _key_share_groups(body)


class _Reader:
    """Bounds-checked big-endian reads over ``data[pos:end]``; a short or overlong field raises ``ValueError``."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def skip(self, count: int) -> int:
        """Advance over ``count`` bytes; their start offset."""
        start = self.pos
        self.pos = start + count
        if self.pos > self.end:
            raise ValueError("truncated ClientHello field")
        return start

    def number(self, size: int) -> int:
        start = self.skip(size)
        return int.from_bytes(self.data[start : self.pos], "big")

    def vector(self, length_size: int) -> _Reader:
        length = self.number(length_size)
        start = self.skip(length)
        return _Reader(self.data, start, self.pos)

    def bytes(self) -> bytes:
        return self.data[self.pos : self.end]

    def u16_list(self, length_size: int) -> tuple[int, ...]:
        """A list of 16-bit values behind a ``length_size``-byte length (0: the rest of the data)."""
        body = self.vector(length_size).bytes() if length_size else self.bytes()
        if len(body) % 2:
            raise ValueError("odd-length list of 16-bit values")
        return struct.unpack(f">{len(body) // 2}H", body)

    def done(self) -> bool:
        return self.pos == self.end


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
    if handshake[0] != _CLIENT_HELLO:
        raise ValueError("the first handshake message is not a ClientHello")
    end = len(handshake)
    legacy_version = int.from_bytes(handshake[4:6], "big")
    pos = 4 + 2 + 32  # type and length, legacy_version, random
    pos = _skip_vector(handshake, pos, 1, end)  # legacy_session_id
    suites_start = pos + 2
    pos = _skip_vector(handshake, pos, 2, end)
    suites = handshake[suites_start:pos]
    if len(suites) % 2:
        raise ValueError("odd-length cipher suite list")
    pos = _skip_vector(handshake, pos, 1, end)  # legacy_compression_methods
    extensions: dict[int, bytes] = {}
    if pos < end:
        if _skip_vector(handshake, pos, 2, end) != end:
            raise ValueError("trailing bytes after the ClientHello extensions")
        pos += 2
        while pos < end:
            if pos + 4 > end:
                raise ValueError("truncated extension header")
            kind, length = struct.unpack_from(">HH", handshake, pos)
            start, pos = pos + 4, pos + 4 + length
            if pos > end:
                raise ValueError("truncated extension")
            if kind in extensions:
                raise ValueError(f"extension {kind} appears twice")
            extensions[kind] = handshake[start:pos]
    return ClientHelloInfo(legacy_version, suites, extensions)


def _skip_vector(data: bytes, pos: int, length_size: int, end: int) -> int:
    """The offset after the vector with a ``length_size``-byte length at ``pos``."""
    if pos + length_size > end:
        raise ValueError("truncated ClientHello field")
    after = pos + length_size + int.from_bytes(data[pos : pos + length_size], "big")
    if after > end:
        raise ValueError("truncated ClientHello field")
    return after


def _whole(body: _Reader, value: tuple[int, ...]) -> tuple[int, ...]:
    if not body.done():
        raise ValueError("trailing bytes in an extension")
    return value


def _server_name(body: _Reader) -> str | None:
    names = body.vector(2)
    while not names.done():
        name_type = names.number(1)
        name = names.vector(2).bytes()
        if name_type == 0:
            return name.decode("ascii")  # UnicodeDecodeError is a ValueError: not a host name
    return None


def _alpn(body: _Reader) -> tuple[bytes, ...]:
    protocols = body.vector(2)
    offered = []
    while not protocols.done():
        protocol = protocols.vector(1).bytes()
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
