"""What the TLS 1.2 client and server handshakes share: the message log, the PRF secrets, ChangeCipherSpec,
Finished, the exporter, and the refusal of renegotiation.

The log keeps the exact handshake bytes sent and received: the EMS session hash, Finished and a client's
CertificateVerify (which signs the messages themselves, with the scheme's hash) are computed from it.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from . import _messages as m
from . import _messages12 as m12
from ._alerts import DECRYPT_ERROR, INTERNAL_ERROR, UNEXPECTED_MESSAGE, TLSAlert
from ._handshake import Handshake, State, unexpected
from ._keyschedule import Transcript
from ._prf import Prf, extended_master_secret, legacy_master_secret
from ._record import ALERT, HANDSHAKE, Protection12
from ._suites import CipherSuite
from ._traffic import Traffic12

if TYPE_CHECKING:
    from ._context import NativeContext, NativeSettings
    from ._effects import Effect, Effects

NO_RENEGOTIATION = 100
_WARNING = 1


class Handshake12(Handshake):
    """State shared by both TLS 1.2 roles; subclasses implement ``handle(msg_type, raw)``."""

    version = m.TLS12
    version_name = "TLSv1.2"

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects) -> None:
        super().__init__(connection, context, settings, effects)
        self.log = bytearray()
        self._flight: list[bytes] = []  # messages sent (and logged) that the next ``flush`` writes
        self._log_digest: Transcript | None = None  # the suite's running hash of ``log[:_hashed]``
        self._hashed = 0
        self.server_random = b""
        self.master_secret = b""
        self._master_prf: Prf | None = None  # the PRF keyed with the master secret
        self._keys: tuple[tuple[bytes, bytes], tuple[bytes, bytes]] | None = None  # (key, iv): ours, the peer's

    def release(self) -> None:
        super().release()
        self.log = bytearray()
        self._log_digest = None

    def traffic(self, server_side: bool) -> Traffic12:
        return Traffic12(self)

    # -- the log and the secrets --------------------------------------------------------------------------

    @property
    def cipher_suite(self) -> CipherSuite:
        if self.suite is None:
            raise TLSAlert(INTERNAL_ERROR, "no cipher suite yet")
        return self.suite

    def received(self, raw: bytes) -> None:
        self.log += raw

    def send(self, raw: bytes) -> None:
        """Add handshake message ``raw`` to the log and to the flight that the next ``flush`` writes."""
        self.log += raw
        self._flight.append(raw)

    def flush(self) -> None:
        """Write the flight sent since the last flush in one go: one record while it fits (RFC 5246 6.2.1 lets
        handshake messages share a record), as a server's ServerHello to ServerHelloDone."""
        flight = self._flight
        if flight:
            self.effects.send(HANDSHAKE, flight[0] if len(flight) == 1 else b"".join(flight))
            self._flight = []

    def log_hash(self) -> bytes:
        """The suite's hash of the log so far (the hash runs on: each call adds only what was logged since)."""
        digest = self._log_digest
        if digest is None:
            digest = self._log_digest = Transcript(self.cipher_suite.hash)
        log = self.log
        if len(log) > self._hashed:
            digest.update(log[self._hashed :])
            self._hashed = len(log)
        return digest.digest()

    def set_master_secret(self, master: bytes) -> None:
        """Install the master secret and derive the key block (called once per handshake)."""
        suite = self.cipher_suite
        self.master_secret = master
        master_prf = self._master_prf = Prf(suite.hash, master)
        block = master_prf.key_block(self.client_random, self.server_random, 2 * (suite.key_len + suite.iv_len))
        k, i = suite.key_len, suite.iv_len
        client = (block[:k], block[2 * k : 2 * k + i])
        server = (block[k : 2 * k], block[2 * k + i : 2 * (k + i)])
        self._keys = (server, client) if self.is_server else (client, server)
        self.keylog("CLIENT_RANDOM", master)

    def derive_master_secret(self, premaster: bytes) -> None:
        """The extended master secret over the log so far (which ends with ClientKeyExchange), or without
        the extension the legacy one over the randoms."""
        suite_hash = self.cipher_suite.hash
        self.set_master_secret(extended_master_secret(suite_hash, premaster, self.log_hash()) if self.uses_ems
                               else legacy_master_secret(suite_hash, premaster, self.client_random,
                                                         self.server_random))

    def _install(self, read: bool) -> None:
        """Install the peer's keys for reading (``read``) or ours for writing."""
        keys = self._keys
        if keys is None:
            raise TLSAlert(INTERNAL_ERROR, "no keys yet")
        key, iv = keys[read]
        protection = Protection12(self.cipher_suite.aead, key, iv)
        if read:
            self.effects.install_read(protection)
        else:
            self.effects.install_write(protection)

    # -- ChangeCipherSpec and Finished ---------------------------------------------------------------------

    def expects_change_cipher_spec(self) -> bool:
        return self.state is State.WAIT_CHANGE_CIPHER_SPEC

    def change_cipher_spec(self, payload: bytes | memoryview) -> list[Effect]:
        """The peer's ChangeCipherSpec (only where the state machine expects it): the effect that switches
        to its keys."""
        if not self.expects_change_cipher_spec() or bytes(payload) != b"\x01":
            raise TLSAlert(UNEXPECTED_MESSAGE, "unexpected change_cipher_spec", "UNEXPECTED_CCS_MESSAGE")
        self._install(read=True)
        self.state = State.WAIT_CLIENT_FINISHED if self.is_server else State.WAIT_FINISHED
        return self.effects.take()

    @property
    def master_prf(self) -> Prf:
        """The PRF keyed with the master secret (only once there is one)."""
        if self._master_prf is None:
            raise TLSAlert(INTERNAL_ERROR, "no master secret yet")
        return self._master_prf

    def finished(self, server: bool) -> bytes:
        """The Finished verify_data ``server`` would send now."""
        return self.master_prf.verify_data(server, self.log_hash())

    def send_finished(self) -> None:
        """The flight so far, ChangeCipherSpec, our keys, then our Finished."""
        self.flush()
        self.effects.send_change_cipher_spec()
        self._install(read=False)
        data = self.finished(self.is_server)
        self._record_finished(data, self.is_server)
        self.send(m.Finished(data).build())
        self.flush()

    def check_finished(self, message: m.Finished, raw: bytes) -> None:
        """Check the peer's Finished and add it to the log."""
        if not hmac.compare_digest(self.finished(not self.is_server), message.verify_data):
            raise TLSAlert(DECRYPT_ERROR, "bad Finished", "DIGEST_CHECK_FAILED")
        self._record_finished(message.verify_data, not self.is_server)
        self.received(raw)

    def _record_finished(self, data: bytes, server: bool) -> None:
        """Keep each side's verify_data (``tls-unique`` is the first one: the server's when resuming)."""
        if server:
            self.server_finished = data
        else:
            self.client_finished = data

    # -- after the handshake -------------------------------------------------------------------------------

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 keying material; refused (``ValueError``) without the extended master secret, whose
        absence lets an attacker in the middle share the master secret (RFC 7627, as Go refuses it)."""
        if not self.uses_ems:
            raise ValueError("keying material exporters need the extended master secret (RFC 7627)")
        return self.master_prf.exporter(self.client_random, self.server_random, label, context, length)

    def refuse_renegotiation(self, msg_type: int, raw: bytes) -> None:
        """Renegotiation is refused with a warning (RFC 5746); any other message is unexpected."""
        renegotiation = m12.HELLO_REQUEST if not self.is_server else m.CLIENT_HELLO
        if msg_type != renegotiation:
            raise unexpected(msg_type, self.state)
        if msg_type == m12.HELLO_REQUEST:
            m12.expect_empty_body(raw[4:])
        self.effects.send(ALERT, bytes((_WARNING, NO_RENEGOTIATION)))
