"""What a connection keeps after its handshake: one traffic object per version.

The connection asks it for the version's rules after the handshake (when to send a KeyUpdate, whether
application data may interleave a pending handshake message), for new protections (TLS 1.3 KeyUpdate), for
keying material (exporters) and for what post-handshake messages need, instead of branching on the class of
its handshake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._record import Protection13

if TYPE_CHECKING:
    from ._effects import Effect
    from ._handshake import Handshake13
    from ._handshake12 import Handshake12
    from ._keyschedule import KeySchedule

#: RFC 8446 5.5: AES-GCM keys are safe for 2^24.5 full records; update our write key well before that.
KEY_UPDATE_AFTER_RECORDS: Final = 1 << 24
NEVER_REKEY: Final = 1 << 64  # beyond any sequence number the record layer allows


class Traffic13:
    """TLS 1.3 after the handshake: the traffic secrets and their updates (KeyUpdate), the resumption secret
    for tickets, the exporter, and the handshake for post-handshake authentication (its transcript)."""

    version: Final = 0x0304
    #: RFC 8446 5.1: handshake messages MUST NOT be interleaved with other record types.
    interleaving_allowed: Final = False

    def __init__(self, handshake: Handshake13, server_side: bool) -> None:
        self.handshake = handshake
        self.rekey_after = KEY_UPDATE_AFTER_RECORDS  # our records under one key before our own KeyUpdate
        self.schedule: KeySchedule = handshake.ks
        client, server = handshake.client_application_secret, handshake.server_application_secret
        self.read_secret, self.write_secret = (client, server) if server_side else (server, client)
        self.resumption_master_secret = handshake.resumption_master_secret
        self.peer_offered_pha = handshake.peer_offered_pha

    def next_read_protection(self) -> Protection13:
        """The peer's next traffic key (after its KeyUpdate)."""
        self.read_secret = self.schedule.next_traffic_secret(self.read_secret)
        return self._protection(self.read_secret)

    def next_write_protection(self) -> Protection13:
        """Our next traffic key (after our KeyUpdate)."""
        self.write_secret = self.schedule.next_traffic_secret(self.write_secret)
        return self._protection(self.write_secret)

    def _protection(self, secret: bytes) -> Protection13:
        key, iv = self.schedule.traffic_keys(secret)
        return Protection13(self.schedule.suite.aead, key, iv)

    def ticket_secret(self, nonce: bytes) -> bytes:
        """The PSK of a NewSessionTicket with ``nonce`` (RFC 8446 4.6.1)."""
        return self.schedule.resumption_psk(self.resumption_master_secret, nonce)

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        return self.handshake.export(label, context, length)


class Traffic12:
    """TLS 1.2 after the handshake: no KeyUpdate (the record layer bounds the sequence numbers), renegotiation
    refused with a warning, RFC 5705 exporters (only with the extended master secret)."""

    version: Final = 0x0303
    rekey_after: Final = NEVER_REKEY
    interleaving_allowed: Final = True  # only refused renegotiation messages can be pending

    def __init__(self, handshake: Handshake12) -> None:
        self.handshake = handshake

    def refuse_renegotiation(self, msg_type: int, raw: bytes) -> list[Effect]:
        """The ``no_renegotiation`` warning answering a HelloRequest or a ClientHello (RFC 5746); any other
        message is unexpected."""
        self.handshake.refuse_renegotiation(msg_type, raw)
        return self.handshake.effects.take()

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        return self.handshake.export(label, context, length)


Traffic = Traffic13 | Traffic12
