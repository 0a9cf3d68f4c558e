"""Bounded TLS wire reading and writing: every parse error is a ``TLSAlert(DECODE_ERROR)``."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

from ._alerts import DECODE_ERROR, TLSAlert

__all__ = [
    "Reader", "truncated", "u8", "u16", "u16_list_at", "u24", "vec8", "vec8_at", "vec16", "vec16_at", "vec24",
    "vec24_at",
]


T = TypeVar("T")


def truncated() -> TLSAlert:
    """The alert for input that ends before its lengths say it does."""
    return TLSAlert(DECODE_ERROR, "truncated message", "LENGTH_MISMATCH")


def _too_short() -> TLSAlert:
    return TLSAlert(DECODE_ERROR, "vector too short", "LENGTH_MISMATCH")


# -- parsing at an offset: ``data`` is bytes, ``end`` the bound not to read past; each returns the value and
# the offset after it. The same checks and alerts as ``Reader``, without an object per vector.


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


class Reader:
    """A cursor over a bytes-like object that never reads past its end."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview, start: int = 0, end: int | None = None) -> None:
        self._data = data if isinstance(data, bytes) else bytes(data)
        self._pos = start
        self._end = len(self._data) if end is None else end

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def _take(self, count: int) -> int:
        pos = self._pos
        if count > self._end - pos:
            raise TLSAlert(DECODE_ERROR, "truncated message", "LENGTH_MISMATCH")
        self._pos = pos + count
        return pos

    def u8(self) -> int:
        return self._data[self._take(1)]

    def u16(self) -> int:
        pos = self._take(2)
        data = self._data
        return (data[pos] << 8) | data[pos + 1]

    def u24(self) -> int:
        pos = self._take(3)
        data = self._data
        return (data[pos] << 16) | (data[pos + 1] << 8) | data[pos + 2]

    def u32(self) -> int:
        pos = self._take(4)
        return int.from_bytes(self._data[pos : pos + 4], "big")

    def raw(self, count: int) -> bytes:
        pos = self._take(count)
        return self._data[pos : pos + count]

    def vec8(self, minimum: int = 0) -> bytes:
        return self._vec(self.u8(), minimum)

    def vec16(self, minimum: int = 0) -> bytes:
        return self._vec(self.u16(), minimum)

    def vec24(self, minimum: int = 0) -> bytes:
        return self._vec(self.u24(), minimum)

    def _vec(self, length: int, minimum: int) -> bytes:
        if length < minimum:
            raise TLSAlert(DECODE_ERROR, "vector too short", "LENGTH_MISMATCH")
        return self.raw(length)

    def sub8(self, minimum: int = 0) -> Reader:
        return self._sub(self.u8(), minimum)

    def sub16(self, minimum: int = 0) -> Reader:
        return self._sub(self.u16(), minimum)

    def sub24(self, minimum: int = 0) -> Reader:
        return self._sub(self.u24(), minimum)

    def _sub(self, length: int, minimum: int) -> Reader:
        if length < minimum:
            raise TLSAlert(DECODE_ERROR, "vector too short", "LENGTH_MISMATCH")
        start = self._take(length)
        return Reader(self._data, start, start + length)

    def parse_at(self, parser: Callable[[bytes, int, int], tuple[T, int]]) -> T:
        """``parser(data, pos, end)`` (an ``*_at`` function) at the cursor, which moves past what it read."""
        value, self._pos = parser(self._data, self._pos, self._end)
        return value

    def u16_list(self, length_bytes: int = 2, minimum: int = 0) -> list[int]:
        """A vector of u16 values with a ``length_bytes``-byte length prefix (even length required)."""
        sub = self.sub8(minimum) if length_bytes == 1 else self.sub16(minimum)
        if sub.remaining % 2:
            raise TLSAlert(DECODE_ERROR, "odd-length u16 vector", "LENGTH_MISMATCH")
        values = []
        while sub.remaining:
            values.append(sub.u16())
        return values

    def expect_end(self) -> None:
        if self._pos != self._end:
            raise TLSAlert(DECODE_ERROR, "trailing bytes", "LENGTH_MISMATCH")


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
