"""Wire-level helpers of the conformance suite: a hand-driven stdlib peer and a non-blocking exchange.

What a socket peer receives is the truth: these drive plain ``ssl`` (the reference) over real sockets with
exact control of which bytes leave in which ``send``, so a case can put two records, or a close_notify and
plaintext, into one segment.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
TIMEOUT = 20.0


class HandPump:
    """An ``SSLObject`` (the stdlib's, or a backend's Connection) over a plain socket, driven by hand: the
    test chooses what goes out in each ``send``."""

    def __init__(self, raw: socket.socket, context: Any, server_side: bool) -> None:
        self.raw = raw
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        hostname = None if server_side else "localhost"
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=server_side, server_hostname=hostname)

    def run(self, operation: Callable[[], T], *, send: bool = True) -> T:
        """Run ``operation``, receiving as it needs; its output is sent unless ``send`` is false.

        When the operation fails, what the object wrote (its fatal alert) is sent before the error is raised.
        """
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self.flush()
                data = self.raw.recv(65536)
                if not data:
                    self.incoming.write_eof()
                else:
                    self.incoming.write(data)
            except ssl.SSLError:
                self.flush()
                raise
            else:
                if send:
                    self.flush()
                return result

    def receive_close_notify(self) -> None:
        """Receive (sending nothing) until the peer's close_notify has been read."""
        while self.run(lambda: self.tls.read(1024), send=False):
            pass

    def flush(self, extra: bytes = b"") -> None:
        """Send what the SSLObject wrote, followed by ``extra``, in one ``sendall``."""
        data = self.outgoing.read() + extra
        if data:
            self.raw.sendall(data)


def exchange_non_blocking(tls: Any, payload: bytes) -> bytes:
    """Send ``payload`` and receive as many bytes over a non-blocking socket, reading only after a want-write.

    The retries follow the ``ssl`` docs: after ``SSLWantWriteError`` the same data is sent again. Reads happen
    while a write is pending, so a read must not fail with ``SSLWantWriteError``.
    """
    tls.setblocking(False)
    received = bytearray()
    sent = 0
    reading = False
    with memoryview(payload) as view:
        while sent < len(payload) or len(received) < len(payload):
            progress = False
            if sent < len(payload):
                try:
                    sent += tls.send(view[sent : sent + 1024 * 1024])
                    progress = True
                except ssl.SSLWantWriteError:
                    reading = True
            else:
                reading = True
            if reading and len(received) < len(payload):
                try:
                    while chunk := tls.recv(65536):
                        received += chunk
                        progress = True
                except ssl.SSLWantReadError:
                    pass
            if not progress:
                readers = [tls] if reading and len(received) < len(payload) else []
                writers = [tls] if sent < len(payload) else []
                select.select(readers, writers, [], TIMEOUT)
    return bytes(received)


def reset(raw: socket.socket) -> None:
    """Close ``raw`` with a TCP reset (SO_LINGER on, timeout 0)."""
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
