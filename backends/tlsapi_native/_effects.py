"""What a handshake asks its connection to do: the handshake decides, the connection applies.

The effects are plain slotted records (built several times per handshake, so not frozen); the result of a
completed handshake, ``Negotiated``, is frozen.

A handshake never holds the record layer. Each step (``Handshake.handle``, the client's ``start``, a TLS 1.2
ChangeCipherSpec, a post-handshake message) records its effects, in order, in the handshake's ``Effects``;
the connection takes them and applies them to its record layer: send these bytes, install this read or write
protection, skip rejected 0-RTT data, the handshake is complete with this ``Negotiated`` result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography import x509

    from ._record import Protection
    from ._session import NativeSession
    from ._suites import CipherSuite


@dataclass(slots=True)
class Send:
    """Send ``data`` as records of ``content_type`` under the current write protection."""

    content_type: int
    data: bytes


@dataclass(slots=True)
class SendChangeCipherSpec:
    """Send a ChangeCipherSpec record (always unprotected)."""


@dataclass(slots=True)
class InstallRead:
    """Read the peer's next records with ``protection`` (no handshake data may be buffered across it)."""

    protection: Protection


@dataclass(slots=True)
class InstallWrite:
    """Write our next records with ``protection``."""

    protection: Protection


@dataclass(slots=True)
class SkipEarlyData:
    """Server: skip up to ``budget`` bytes of rejected 0-RTT records (RFC 8446 4.2.10); 0 stops skipping."""

    budget: int


@dataclass(frozen=True, slots=True)
class Negotiated:
    """What a completed handshake established (the peer's certificates may change later only through a
    post-handshake authentication, which yields a new ``Negotiated``)."""

    version: int  # the wire code: 0x0304 or 0x0303
    version_name: str
    suite: CipherSuite
    group: int | None
    alpn: bytes | None
    resumed: bool
    uses_ems: bool  # TLS 1.3, or TLS 1.2 with RFC 7627's extended master secret
    shared_suites: tuple[int, ...] | None
    client_finished: bytes
    server_finished: bytes
    peer_chain: tuple[bytes, ...]
    peer_certificate: x509.Certificate | None
    verified_chain: tuple[x509.Certificate, ...] | None
    verified_der: tuple[bytes, ...]  # ``verified_chain`` as DER, for the sessions of later tickets
    server_name: str | None  # the SNI a server received
    session: NativeSession | None  # a TLS 1.2 client's new session (from its ticket)


@dataclass(slots=True)
class Complete:
    """The handshake is complete: the connection keeps ``negotiated`` and starts its traffic phase."""

    negotiated: Negotiated


Effect = Send | SendChangeCipherSpec | InstallRead | InstallWrite | SkipEarlyData | Complete
SEND_CHANGE_CIPHER_SPEC: Final = SendChangeCipherSpec()


class Effects:
    """The effects recorded since the connection last took them, in order."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: list[Effect] = []

    def send(self, content_type: int, data: bytes) -> None:
        self._pending.append(Send(content_type, data))

    def send_change_cipher_spec(self) -> None:
        self._pending.append(SEND_CHANGE_CIPHER_SPEC)

    def install_read(self, protection: Protection) -> None:
        self._pending.append(InstallRead(protection))

    def install_write(self, protection: Protection) -> None:
        self._pending.append(InstallWrite(protection))

    def skip_early_data(self, budget: int) -> None:
        self._pending.append(SkipEarlyData(budget))

    def complete(self, negotiated: Negotiated) -> None:
        self._pending.append(Complete(negotiated))

    def take(self) -> list[Effect]:
        """The recorded effects, which are forgotten here."""
        pending = self._pending
        self._pending = []
        return pending
