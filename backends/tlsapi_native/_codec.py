"""Bounded TLS wire reading and writing: every parse error is a ``TLSAlert(DECODE_ERROR)``."""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable

from ._alerts import DECODE_ERROR, TLSAlert

__all__ = [
    "trailing", "truncated", "u8", "u16", "u16_list_at", "u24", "u32_at", "vec8", "vec8_at",
    "vec16", "vec16_at", "vec24", "vec24_at",
]


def truncated() -> TLSAlert:
    """The alert for input that ends before its lengths say it does."""
    return TLSAlert(DECODE_ERROR, "truncated message", "LENGTH_MISMATCH")


def trailing() -> TLSAlert:
    """The alert for bytes left over after everything a message or extension holds."""
    return TLSAlert(DECODE_ERROR, "trailing bytes", "LENGTH_MISMATCH")


def _too_short() -> TLSAlert:
    return TLSAlert(DECODE_ERROR, "vector too short", "LENGTH_MISMATCH")


# -- parsing at an offset: ``data`` is bytes, ``end`` the bound not to read past; each returns the value and
# the offset after it. A length prefix past ``end`` is ``truncated()``, a length below ``minimum`` is
# "vector too short"; both are decode_error.


_U32 = struct.Struct(">I")


def u32_at(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if end - pos < 4:
        raise truncated()
    return _U32.unpack_from(data, pos)[0], pos + 4


def vec8_at(data: bytes, pos: int, end: int, minimum: int = 0) -> tuple[bytes, int]:
    if pos >= end:
        raise truncated()
    length = data[pos]
    if length < minimum:
        raise _too_short()
    stop = pos + 1 + length
    if stop > end:
        raise truncated()
    return data[pos + 1 : stop], stop


def vec16_at(data: bytes, pos: int, end: int, minimum: int = 0) -> tuple[bytes, int]:
    if end - pos < 2:
        raise truncated()
    length = (data[pos] << 8) | data[pos + 1]
    if length < minimum:
        raise _too_short()
    stop = pos + 2 + length
    if stop > end:
        raise truncated()
    return data[pos + 2 : stop], stop


def vec24_at(data: bytes, pos: int, end: int, minimum: int = 0) -> tuple[bytes, int]:
    if end - pos < 3:
        raise truncated()
    length = (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]
    if length < minimum:
        raise _too_short()
    stop = pos + 3 + length
    if stop > end:
        raise truncated()
    return data[pos + 3 : stop], stop


@functools.lru_cache(maxsize=64)
def _u16s(count: int) -> struct.Struct:
    return struct.Struct(f">{count}H")


def u16_list_at(data: bytes, pos: int, end: int, length_bytes: int = 2, minimum: int = 0) -> tuple[list[int], int]:
    """A vector of u16 values with a ``length_bytes``-byte length prefix (even length required)."""
    if end - pos < length_bytes:
        raise truncated()
    length = data[pos] if length_bytes == 1 else (data[pos] << 8) | data[pos + 1]
    if length < minimum:
        raise _too_short()
    start = pos + length_bytes
    stop = start + length
    if stop > end:
        raise truncated()
    if length % 2:
        raise TLSAlert(DECODE_ERROR, "odd-length u16 vector", "LENGTH_MISMATCH")
    return list(_u16s(length >> 1).unpack_from(data, start)), stop


def u8(value: int) -> bytes:
    return value.to_bytes(1, "big")


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def u24(value: int) -> bytes:
    return value.to_bytes(3, "big")


def vec8(data: bytes) -> bytes:
    return b"".join((len(data).to_bytes(1, "big"), data))


def vec16(data: bytes) -> bytes:
    return b"".join((len(data).to_bytes(2, "big"), data))


def vec24(data: bytes) -> bytes:
    return b"".join((len(data).to_bytes(3, "big"), data))


def u16_vec(values: Iterable[int], length_bytes: int = 2) -> bytes:
    values = tuple(values)
    count = len(values)
    return (2 * count).to_bytes(length_bytes, "big") + _u16s(count).pack(*values)
