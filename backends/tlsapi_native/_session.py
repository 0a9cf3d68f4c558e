"""``NativeSession``: a resumable session held by the client, shaped like ``ssl.SSLSession``.

One class serves every protocol version; ``protocol`` says which (``0x0304`` TLS 1.3, ``0x0303`` TLS 1.2)
and how ``secret`` is used:

- TLS 1.3: one ``NewSessionTicket`` makes one session. ``secret`` is the PSK derived from the resumption
  master secret and the ticket nonce (RFC 8446 4.6.1); ``ticket_age_add`` obfuscates the ticket age.
- TLS 1.2: ``secret`` is the master secret, ``ticket`` the RFC 5077 ticket (empty for a session-id-only
  session, where ``id`` is the server's session id), ``ticket_age_add`` is 0.

A session can only be resumed by connections of the context that made it (as in the stdlib:
``ValueError("Session refers to a different SSLContext.")``) and to the same server name.
The public attributes match ``ssl.SSLSession``: ``id``, ``time``, ``timeout``, ``ticket_lifetime_hint``,
``has_ticket``; sessions compare equal by ``id``.
"""

from __future__ import annotations

import hashlib
import time as _time
import weakref
from typing import Any

__all__ = ["NativeSession"]


class NativeSession:
    """What a client needs to resume: the protocol, suite, secret, ticket and the original peer."""

    def __init__(
        self,
        context: Any,
        *,
        protocol: int,
        cipher_suite: int,
        secret: bytes,
        ticket: bytes = b"",
        ticket_lifetime_hint: int = 0,
        ticket_age_add: int = 0,
        session_id: bytes = b"",
        server_hostname: str | None = None,
        alpn: bytes | None = None,
        peer_chain: tuple[bytes, ...] = (),
        verified_chain: tuple[bytes, ...] = (),
        max_early_data: int = 0,
        timeout: int | None = None,
    ) -> None:
        self._context = weakref.ref(context)
        self.protocol = protocol
        self.cipher_suite = cipher_suite
        self.secret = secret
        self.ticket = ticket
        self.ticket_lifetime_hint = ticket_lifetime_hint
        self.ticket_age_add = ticket_age_add
        self._id = session_id if session_id or not ticket else None  # None: computed when first asked for
        self.server_hostname = server_hostname
        self.alpn = alpn
        self.peer_chain = peer_chain
        self.verified_chain = verified_chain  # DER, leaf first; empty when the peer was not verified
        self.max_early_data = max_early_data
        self.time = int(_time.time())
        self.received = _time.monotonic()  # for the TLS 1.3 obfuscated ticket age
        self.timeout = ticket_lifetime_hint if timeout is None else timeout

    @property
    def id(self) -> bytes:
        """The session id; OpenSSL names a TLS 1.3 ticket's session by the SHA-256 of the ticket."""
        if self._id is None:
            self._id = hashlib.sha256(self.ticket).digest()
        return self._id

    @property
    def has_ticket(self) -> bool:
        return bool(self.ticket)

    def belongs_to(self, context: Any) -> bool:
        """Whether ``context`` made this session (only its connections may resume it)."""
        return self._context() is context

    def age_ms(self) -> int:
        """Milliseconds since the ticket arrived."""
        return int((_time.monotonic() - self.received) * 1000)

    def is_valid(self) -> bool:
        """Not expired (``timeout`` seconds after ``time``)."""
        return _time.monotonic() - self.received < self.timeout

    def obfuscated_ticket_age(self) -> int:
        """RFC 8446 4.2.11: the ticket age in milliseconds plus ``ticket_age_add``, modulo 2^32."""
        return (self.age_ms() + self.ticket_age_add) & 0xFFFFFFFF

    def __copy__(self) -> NativeSession:
        """Another object with the same attributes (``SSLObject.session`` hands out a new one on each read;
        ``copy.copy``'s generic path costs a tenth of a resumed handshake's budget)."""
        clone = NativeSession.__new__(NativeSession)
        clone.__dict__.update(self.__dict__)
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NativeSession):
            return NotImplemented
        return self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        version = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2"}.get(self.protocol, hex(self.protocol))
        return f"<tlsapi_native.NativeSession {version} id={self.id[:8].hex()} ticket={self.has_ticket}>"
