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

import functools
import os
import struct
import time
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._alerts import TLSAlert
from ._codec import vec8, vec8_at, vec16, vec16_at, vec24, vec24_at

__all__ = ["TICKET_KEY_ROTATION", "TICKET_LIFETIME", "TicketKeys", "TicketState"]

TICKET_LIFETIME = 7200  # seconds, as OpenSSL's default session timeout
TICKET_KEY_ROTATION = 12 * 3600  # seconds between ticket keys
_KEY_ID_LEN = 4
_NONCE_LEN = 12
_FORMAT = 2  # 2: fixed-size fields first, in one struct
_NO_CHAINS = bytes(6)  # two empty vec24 chains
_HEAD = struct.Struct(">BHHQIIB")  # format, protocol, suite, issued_ms, lifetime, age_add, len(secret)


@functools.lru_cache(maxsize=16)
def _chains(peer_chain: tuple[bytes, ...], verified_chain: tuple[bytes, ...]) -> bytes:
    """The two certificate chains as they end a ticket, encoded once for the tickets of one handshake (a
    server issues several with the same chains; the tuples of ``bytes`` hash by value)."""
    return b"".join(vec24(b"".join(vec24(der) for der in chain)) for chain in (peer_chain, verified_chain))


class TicketState(NamedTuple):
    """The server's resumption state carried inside a ticket (a named tuple: immutable and quick to make)."""

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
        secret = self.secret
        return b"".join((
            _HEAD.pack(_FORMAT, self.protocol, self.cipher_suite, self.issued_ms, self.lifetime, self.age_add,
                       len(secret)),
            secret, vec16((self.server_name or "").encode("ascii")), vec8(self.alpn or b""),
            _chains(self.peer_chain, self.verified_chain) if self.peer_chain or self.verified_chain else _NO_CHAINS,
        ))

    @classmethod
    def decode(cls, data: bytes) -> TicketState | None:
        """The state, or ``None`` for a format this version does not read (or a malformed one)."""
        try:
            version, protocol, suite, issued_ms, lifetime, age_add, length = _HEAD.unpack_from(data)
            if version != _FORMAT:
                return None
            end = len(data)
            pos = _HEAD.size
            secret, pos = data[pos : pos + length], pos + length
            name, pos = vec16_at(data, pos, end)
            alpn, pos = vec8_at(data, pos, end)
            chains = []
            for _ in range(2):
                chain_data, pos = vec24_at(data, pos, end)
                chain, at, stop = [], 0, len(chain_data)
                while at < stop:
                    der, at = vec24_at(chain_data, at, stop)
                    chain.append(der)
                chains.append(tuple(chain))
            if pos != end or len(secret) != length:
                return None
            server_name = name.decode("ascii")
        except (TLSAlert, UnicodeDecodeError, struct.error):
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
