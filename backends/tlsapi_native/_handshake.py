"""What the client and server handshakes share: transcript, key installation, key logging, results."""

from __future__ import annotations

import enum
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509

from tlsapi import ECHStatus

from . import _messages as m
from ._alerts import DECRYPT_ERROR, HANDSHAKE_FAILURE, INTERNAL_ERROR, UNEXPECTED_MESSAGE, TLSAlert
from ._certificates import der_chain, load_certificate
from ._effects import Effect, Effects, Negotiated
from ._keyschedule import KeySchedule, Transcript
from ._record import HANDSHAKE, Protection13
from ._signatures import DEFAULT_SIGNATURE_SCHEMES, tls13_certificate_verify_input, verify_offered
from ._suites import CipherSuite
from ._traffic import Traffic, Traffic13
from ._trust import verify_peer_chain

if TYPE_CHECKING:
    from ._context import NativeContext, NativeSettings
    from ._session import NativeSession


class State(enum.Enum):
    START = "start"
    # client
    WAIT_SERVER_HELLO = "wait ServerHello"
    WAIT_ENCRYPTED_EXTENSIONS = "wait EncryptedExtensions"
    WAIT_CERTIFICATE_OR_REQUEST = "wait Certificate or CertificateRequest"
    WAIT_CERTIFICATE = "wait Certificate"
    WAIT_CERTIFICATE_VERIFY = "wait CertificateVerify"
    WAIT_FINISHED = "wait Finished"
    # server
    WAIT_CLIENT_HELLO = "wait ClientHello"
    WAIT_SECOND_CLIENT_HELLO = "wait second ClientHello"
    WAIT_CLIENT_CERTIFICATE = "wait client Certificate"
    WAIT_CLIENT_CERTIFICATE_VERIFY = "wait client CertificateVerify"
    WAIT_CLIENT_FINISHED = "wait client Finished"
    # TLS 1.2 (with the states above that mean the same)
    WAIT_SERVER_KEY_EXCHANGE = "wait ServerKeyExchange"
    WAIT_SERVER_HELLO_DONE = "wait CertificateRequest or ServerHelloDone"
    WAIT_NEW_SESSION_TICKET = "wait NewSessionTicket"
    WAIT_CHANGE_CIPHER_SPEC = "wait ChangeCipherSpec"
    WAIT_CLIENT_KEY_EXCHANGE = "wait ClientKeyExchange"
    CONNECTED = "connected"


# The option bits the handshakes test, as plain ints: a bit test of an ``ssl.Options`` (an IntFlag) runs the enum
# machinery in Python, on every handshake.
NO_TICKET = int(ssl.OP_NO_TICKET)
MIDDLEBOX_COMPAT = int(ssl.OP_ENABLE_MIDDLEBOX_COMPAT)
SERVER_PREFERENCE = int(ssl.OP_CIPHER_SERVER_PREFERENCE)


def unexpected(msg_type: int, state: State) -> TLSAlert:
    return TLSAlert(UNEXPECTED_MESSAGE, f"handshake message {msg_type} in state {state.value}")


class Handshake:
    """State shared by both roles; subclasses implement ``handle(msg_type, raw)``, which returns the successor."""

    is_server: bool = False
    server_hostname: str | None = None  # the client's, for SNI and the hostname check
    server_name: str | None = None  # the server's: the SNI it received
    new_session: NativeSession | None = None  # a TLS 1.2 client's session from the server's ticket
    ech_status = ECHStatus.NOT_OFFERED  # Encrypted Client Hello (``_ech`` sets it)
    version = m.TLS13
    version_name = "TLSv1.3"
    # The session is bound to its handshake (TLS 1.3, or TLS 1.2 with RFC 7627's extended master secret).
    uses_ems = True

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects) -> None:
        self.connection = connection
        self.context = context  # state shared by its connections: statistics, ticket keys, sessions
        self.settings = settings  # the configuration: the connection's snapshot
        self.effects = effects  # what the connection is to apply, shared with the successor
        self.state = State.START
        self.suite: CipherSuite | None = None
        self.group: int | None = None
        self.alpn: bytes | None = None
        self.client_random = b""
        self.peer_chain: list[bytes] = []
        self.verified_chain: list[x509.Certificate] | None = None
        self._der_of: list[x509.Certificate] | None = None  # the verified_chain that _der encodes
        self._der: tuple[bytes, ...] = ()
        self.peer_certificate: x509.Certificate | None = None
        self.client_finished = b""
        self.server_finished = b""
        self.resumed = False  # a PSK (session ticket) was accepted
        self.shared_suites: list[int] | None = None

    @property
    def complete(self) -> bool:
        return self.state is State.CONNECTED

    def handle(self, msg_type: int, raw: bytes) -> tuple[Handshake, list[Effect]]:
        """Take one handshake message (``raw``, header included): the handshake that continues (this one,
        or the version's state machine the hello module hands over to) and the effects for the connection to
        apply, ending with ``Complete`` once the handshake is."""
        successor = self.receive(msg_type, raw)
        if successor.state is State.CONNECTED:
            successor.effects.complete(successor.negotiated())
        return successor, self.effects.take()

    def receive(self, msg_type: int, raw: bytes) -> Handshake:
        """The state machine: take one message, record its effects, return the handshake that continues."""
        raise NotImplementedError

    def negotiated(self) -> Negotiated:
        """The result of the completed handshake."""
        assert self.suite is not None
        verified = self.verified_chain
        return Negotiated(
            version=self.version, version_name=self.version_name, suite=self.suite, group=self.group,
            alpn=self.alpn, resumed=self.resumed, uses_ems=self.uses_ems,
            shared_suites=None if self.shared_suites is None else tuple(self.shared_suites),
            client_finished=self.client_finished, server_finished=self.server_finished,
            peer_chain=tuple(self.peer_chain), peer_certificate=self.peer_certificate,
            verified_chain=None if verified is None else tuple(verified), verified_der=self.verified_der(),
            server_name=self.server_name,
            session=self.new_session,
        )

    def release(self) -> None:
        """Drop what only the handshake needed, once it is complete (subclasses add their own state)."""

    def send(self, raw: bytes) -> None:
        """Send a handshake message (and add it to what the version hashes)."""
        raise NotImplementedError

    def traffic(self, server_side: bool) -> Traffic:
        """What the connection keeps for the traffic phase once this handshake is complete."""
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------------------

    def keylog(self, label: str, secret: bytes) -> None:
        path = self.settings.keylog_filename
        if path:
            with open(path, "a") as handle:
                handle.write(f"{label} {self.client_random.hex()} {secret.hex()}\n")

    # -- the peer's certificates and Finished --------------------------------------------------------------

    def restore_peer(self, peer_chain: Sequence[bytes], verified_chain: Sequence[bytes]) -> None:
        """The peer's certificates as a resumed session recorded them (DER, leaf first)."""
        self.peer_chain = list(peer_chain)
        if self.peer_chain:
            self.peer_certificate = load_certificate(self.peer_chain[0])
        if verified_chain:
            self.verified_chain = [load_certificate(der) for der in verified_chain]
            self._der_of, self._der = self.verified_chain, tuple(verified_chain)

    def verified_der(self) -> tuple[bytes, ...]:
        """``verified_chain`` as DER, leaf first (encoded once per chain: every ticket records it)."""
        chain = self.verified_chain
        if chain is not self._der_of:
            self._der_of, self._der = chain, der_chain(chain)
        return self._der

    def verify_chain(self, chain: list[bytes]) -> list[x509.Certificate]:
        """The peer's ``chain`` (DER, leaf first) verified against the trust anchors; a client also checks the
        server's name (``check_hostname``)."""
        settings = self.settings
        peer_is_server = not self.is_server
        return verify_peer_chain(
            chain, anchors=settings.trust_anchors, server_hostname=self.server_hostname,
            server_side_peer=peer_is_server, check_hostname=peer_is_server and settings.check_hostname,
            flags=settings.verify_flags, crls=settings.crls,
        )

    def choose_suite_code(self, ours: Sequence[int], offered: Sequence[int]) -> int:
        """Server: the suite to use, by our order with ``OP_CIPHER_SERVER_PREFERENCE``, else the client's."""
        if int(self.settings.options) & SERVER_PREFERENCE:
            code = next((c for c in ours if c in offered), None)
        else:
            code = next((c for c in offered if c in ours), None)
        if code is None:
            raise TLSAlert(HANDSHAKE_FAILURE, "no shared cipher suite", "NO_SHARED_CIPHER")
        return code


class Handshake13(Handshake):
    """What the TLS 1.3 client and server handshakes share: the key schedule and transcript, the traffic
    secrets, CertificateVerify and Finished checks, the exporter."""

    def __init__(self, connection: Any, context: NativeContext, settings: NativeSettings, effects: Effects) -> None:
        super().__init__(connection, context, settings, effects)
        self.schedule: KeySchedule | None = None
        self.transcript: Transcript | None = None
        self.client_application_secret = b""
        self.server_application_secret = b""
        self.exporter_secret = b""
        self.resumption_master_secret = b""
        self.peer_offered_pha = False  # the client sent post_handshake_auth (server side)

    def release(self) -> None:
        """Drop what only the handshake needed, once it is complete (subclasses add their own state); the
        transcript stays while post-handshake authentication may still use it."""
        if not (self.peer_offered_pha if self.is_server else self.settings.post_handshake_auth):
            self.transcript = None

    def export(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """Keying material (RFC 8446 section 7.5)."""
        return self.ks.exporter(self.exporter_secret, label, context or b"", length)

    def traffic(self, server_side: bool) -> Traffic13:
        return Traffic13(self, server_side)

    def send(self, raw: bytes) -> None:
        """Send a handshake message and add it to the transcript."""
        if self.transcript is not None:
            self.transcript.update(raw)
        self.effects.send(HANDSHAKE, raw)

    @property
    def ks(self) -> KeySchedule:
        """The key schedule (only once the suite is chosen)."""
        if self.schedule is None:
            raise TLSAlert(INTERNAL_ERROR, "no key schedule yet")
        return self.schedule

    @property
    def th(self) -> Transcript:
        """The transcript (only once the suite is chosen)."""
        if self.transcript is None:
            raise TLSAlert(INTERNAL_ERROR, "no transcript yet")
        return self.transcript

    def install_read_key(self, secret: bytes) -> None:
        schedule = self.ks
        key, iv = schedule.traffic_keys(secret)
        self.effects.install_read(Protection13(schedule.suite.aead, key, iv))

    def install_write_key(self, secret: bytes) -> None:
        schedule = self.ks
        key, iv = schedule.traffic_keys(secret)
        self.effects.install_write(Protection13(schedule.suite.aead, key, iv))

    def accept_certificate_verify(self, message: m.CertificateVerify, raw: bytes) -> None:
        """TLS 1.3: check the peer's CertificateVerify over the transcript so far, then add it to the transcript."""
        certificate = self.peer_certificate
        if certificate is None:
            raise unexpected(m.CERTIFICATE_VERIFY, self.state)
        verify_offered(message.scheme, DEFAULT_SIGNATURE_SCHEMES, certificate, message.signature,
                       tls13_certificate_verify_input(self.th.digest(), server=not self.is_server))
        self.th.update(raw)

    def check_peer_finished(self, secret: bytes, transcript_hash: bytes, verify_data: bytes, who: str) -> None:
        """TLS 1.3: ``DECRYPT_ERROR`` unless the peer's Finished is the HMAC under ``secret`` of the transcript."""
        if not self.ks.check_finished(secret, transcript_hash, verify_data):
            raise TLSAlert(DECRYPT_ERROR, f"bad {who} Finished", "DIGEST_CHECK_FAILED")

    def derive_application_secrets(self) -> None:
        """TLS 1.3: the application traffic and exporter secrets from the transcript so far, key-logged."""
        client, server, exporter = self.ks.application_secrets(self.th.digest())
        self.client_application_secret = client
        self.server_application_secret = server
        self.exporter_secret = exporter
        self.keylog("CLIENT_TRAFFIC_SECRET_0", client)
        self.keylog("SERVER_TRAFFIC_SECRET_0", server)
        self.keylog("EXPORTER_SECRET", exporter)
