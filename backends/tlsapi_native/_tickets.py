"""Stateless session tickets for the server: the resumption state, AEAD-sealed under a rotating key.

A ticket is ``key_id (4) || nonce (12) || AES-256-GCM(state, aad=key_id)``. ``TicketKeys`` makes a new key
every ``TICKET_KEY_ROTATION`` seconds and keeps the previous one for decryption, so a ticket stays
readable for at least one rotation period (longer than ``TICKET_LIFETIME``). A ticket that does not open
(unknown or retired key, tampering, another server) is simply not resumed.

``TicketState`` is what a server needs to resume: the protocol and suite, the secret (TLS 1.3: the PSK;
TLS 1.2: the master secret), when and for how long it was issued, the age obfuscator, and the original
handshake's server name, ALPN protocol and client certificate chain.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._alerts import TLSAlert
from ._codec import Reader, u8, u16, vec8, vec16, vec24

__all__ = ["TICKET_KEY_ROTATION", "TICKET_LIFETIME", "TicketKeys", "TicketState"]

TICKET_LIFETIME = 7200  # seconds, as OpenSSL's default session timeout
TICKET_KEY_ROTATION = 12 * 3600  # seconds between ticket keys
_KEY_ID_LEN = 4
_NONCE_LEN = 12
_FORMAT = 1


@dataclass(frozen=True)
class TicketState:
    """The server's resumption state carried inside a ticket."""

    protocol: int
    cipher_suite: int
    secret: bytes
    issued_ms: int  # wall clock, milliseconds since the epoch
    lifetime: int  # seconds
    age_add: int
    server_name: str | None = None
    alpn: bytes | None = None
    peer_chain: tuple[bytes, ...] = ()
    verified_chain: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return b"".join((
            u8(_FORMAT), u16(self.protocol), u16(self.cipher_suite), vec8(self.secret),
            self.issued_ms.to_bytes(8, "big"), self.lifetime.to_bytes(4, "big"), self.age_add.to_bytes(4, "big"),
            vec16((self.server_name or "").encode("ascii")), vec8(self.alpn or b""),
            vec24(b"".join(vec24(der) for der in self.peer_chain)),
            vec24(b"".join(vec24(der) for der in self.verified_chain)),
        ))

    @classmethod
    def decode(cls, data: bytes) -> TicketState | None:
        """The state, or ``None`` for a format this version does not read."""
        try:
            reader = Reader(data)
            if reader.u8() != _FORMAT:
                return None
            protocol, suite, secret = reader.u16(), reader.u16(), reader.vec8()
            issued_ms = int.from_bytes(reader.raw(8), "big")
            lifetime, age_add = reader.u32(), reader.u32()
            server_name, alpn = reader.vec16().decode("ascii"), reader.vec8()
            chains = []
            for _ in range(2):
                chain_reader = reader.sub24()
                chain = []
                while chain_reader.remaining:
                    chain.append(chain_reader.vec24())
                chains.append(tuple(chain))
            reader.expect_end()
        except (TLSAlert, UnicodeDecodeError):
            return None
        return cls(protocol, suite, secret, issued_ms, lifetime, age_add, server_name or None, alpn or None,
                   chains[0], chains[1])


class TicketKeys:
    """The ticket-sealing keys of one server context: the current key and the previous one."""

    def __init__(self, rotation: float = TICKET_KEY_ROTATION, clock: Callable[[], float] = time.monotonic) -> None:
        self._rotation = rotation
        self._clock = clock
        self._keys: dict[bytes, AESGCM] = {}
        self._current = b""
        self._previous = b""
        self._created = 0.0
        self._rotate()

    def _rotate(self) -> None:
        key_id = os.urandom(_KEY_ID_LEN)
        self._keys.pop(self._previous, None)
        self._previous = self._current
        self._current = key_id
        self._keys[key_id] = AESGCM(AESGCM.generate_key(256))
        self._created = self._clock()

    def seal(self, plaintext: bytes) -> bytes:
        """A ticket for ``plaintext`` under the current key (rotating it first if it is due)."""
        if self._clock() - self._created >= self._rotation:
            self._rotate()
        nonce = os.urandom(_NONCE_LEN)
        key_id = self._current
        return b"".join((key_id, nonce, self._keys[key_id].encrypt(nonce, plaintext, key_id)))

    def open(self, ticket: bytes) -> bytes | None:
        """The sealed plaintext, or ``None`` if the ticket is not one of ours (or its key is retired)."""
        if self._clock() - self._created >= self._rotation:
            self._rotate()
        key_id = ticket[:_KEY_ID_LEN]
        key = self._keys.get(key_id)
        if key is None or len(ticket) < _KEY_ID_LEN + _NONCE_LEN + 16:
            return None
        try:
            return key.decrypt(ticket[_KEY_ID_LEN : _KEY_ID_LEN + _NONCE_LEN], ticket[_KEY_ID_LEN + _NONCE_LEN :],
                               key_id)
        except InvalidTag:
            return None
