"""The memory-BIO protocol.

``tlsapi.MemoryBIO`` is the stdlib's :class:`ssl.MemoryBIO` (a fast C buffer), so the BIOs that asyncio,
trio, anyio, urllib3 and httpcore create themselves are the same type as ours. A backend must accept any
object with this protocol.
"""

from __future__ import annotations

import ssl
from typing import Protocol

MemoryBIO = ssl.MemoryBIO


class BIO(Protocol):
    """What a backend may call on the BIOs passed to ``wrap_bio``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def write(self, data: bytes, /) -> int: ...

    def write_eof(self) -> None: ...

    @property
    def pending(self) -> int: ...

    @property
    def eof(self) -> bool: ...
