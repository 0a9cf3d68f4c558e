"""``NativeConnection``: the native engine behind ``tlsapi.Connection``, with ``ssl.SSLObject`` semantics."""

from __future__ import annotations

import contextlib
import copy
import os
import ssl
from typing import TYPE_CHECKING, Any, TypeGuard

from cryptography.hazmat.primitives.serialization import Encoding

from tlsapi.spi import (
    Connection,
    SSLCertVerificationError,
    SSLError,
    SSLWantReadError,
    SSLWantWriteError,
    ragged_eof,
    want_read,
    zero_return,
)

from . import _messages as m
from ._alerts import (
    BAD_CERTIFICATE,
    CLOSE_NOTIFY,
    ILLEGAL_PARAMETER,
    INTERNAL_ERROR,
    ORIGIN,
    PROTOCOL_VERSION,
    UNEXPECTED_MESSAGE,
    USER_CANCELED,
    TLSAlert,
    error,
    received_alert_error,
)
from ._defaults import TLS12
from ._effects import (
    Effect,
    Effects,
    InstallRead,
    InstallWrite,
    Negotiated,
    Send,
    SendChangeCipherSpec,
    SkipEarlyData,
)
from ._groups import GROUP_NAMES
from ._handshake import Handshake, State
from ._handshake12 import Handshake12
from ._hello import AwaitClientHello, AwaitServerHello
from ._limits import MAX_EMPTY_RECORDS, MAX_KEY_UPDATES, MAX_POST_HANDSHAKE_MESSAGES, MAX_WARNING_ALERTS
from ._posthandshake import PostHandshakeAuth
from ._record import (
    ALERT,
    APPLICATION_DATA,
    HANDSHAKE,
    SKIPPED_EARLY_DATA,
    HandshakeBuffer,
    RecordLayer,
)
from ._session import NativeSession
from ._suites import TLS12_SUITES, TLS13_SUITES
from ._tickets import TICKET_LIFETIME
from ._traffic import NEVER_REKEY, Traffic, Traffic12, Traffic13

if TYPE_CHECKING:
    from typing import Self

    from tlsapi import ECHStatus
    from tlsapi.spi import BIO, Context

    from ._context import NativeContext, NativeSettings

# What a peer may send without data, in a row: (limit, OpenSSL's reason, message), by _EMPTY.._POST_HANDSHAKE.
_EMPTY, _WARNING, _KEY_UPDATE, _POST_HANDSHAKE = range(4)
_FLOOD_LIMITS: tuple[tuple[int, str, str], ...] = (
    (MAX_EMPTY_RECORDS, "RECORD_TOO_SMALL", "too many empty records"),
    (MAX_WARNING_ALERTS, "TOO_MANY_WARN_ALERTS", "too many warning alerts"),
    (MAX_KEY_UPDATES, "TOO_MANY_KEY_UPDATES", "too many KeyUpdates"),
    (MAX_POST_HANDSHAKE_MESSAGES, "UNEXPECTED_MESSAGE", "too many post-handshake messages"),
)
MAX_TICKET_LIFETIME = 604800  # RFC 8446 4.6.1: seven days


def _is_native(context: Context) -> TypeGuard[NativeContext]:
    """Whether ``context`` is a native context: one whose connections are ``NativeConnection`` (the context
    module imports this one, so the class is recognised by what it makes, without a loop)."""
    made = getattr(type(context), "sslobject_class", None)
    return made is NativeConnection or (isinstance(made, type) and issubclass(made, NativeConnection))


class NativeConnection(Connection):
    """One TLS 1.3 connection driven through two memory BIOs."""

    _context: NativeContext
    _settings: NativeSettings
    _handshake: Handshake
    _incoming: BIO
    _outgoing: BIO
    _records: RecordLayer
    _hs_buffer: HandshakeBuffer
    _started: bool
    _done: bool
    _app_data: bytes | memoryview | None
    _app_pos: int
    _peer_closed: bool
    _sent_close: bool
    _failed: SSLError | None
    _ccs_seen: bool
    _useless: int
    _floods: list[int]
    _traffic: Traffic | None
    _session: NativeSession | None
    _negotiated: Negotiated | None
    _pha: PostHandshakeAuth | None

    @classmethod
    def _create(
        cls,
        context: Context,
        incoming: BIO,
        outgoing: BIO,
        server_side: bool,
        server_hostname: str | None,
        session: Any,
    ) -> Self:
        if not _is_native(context):
            raise TypeError("the native backend needs a NativeContext")
        self = cls._new(context, server_side, server_hostname)
        self._incoming = incoming
        self._outgoing = outgoing
        self._records = RecordLayer(incoming, outgoing)
        settings = self._settings
        self._records.padding = settings.record_padding or 0
        self._hs_buffer = HandshakeBuffer()
        if server_side:
            self._handshake = AwaitClientHello(self, context, settings, Effects())
        else:
            self._handshake = AwaitServerHello(self, context, settings, Effects(), server_hostname)
        self._started = False
        self._done = False
        self._rekey_after = NEVER_REKEY  # write records before our own KeyUpdate (set by the traffic object)
        self._app_data = None
        self._app_pos = 0
        self._peer_closed = False
        self._sent_close = False
        self._failed = None
        self._ccs_seen = False
        self._useless = 0
        self._floods = [0, 0, 0, 0]
        self._traffic = None
        self._session = None
        self._negotiated = None
        self._pha = None
        if session is not None:
            self.session = session
        return self

    # -- identity --------------------------------------------------------------------------------------

    def _switch_context(self, context: Context) -> None:
        if not _is_native(context):
            raise TypeError("The value must be a SSLContext")

    @property
    def session(self) -> NativeSession | None:
        """Client: the session to resume, then the newest one from the server's tickets. Server: after the
        handshake, the session it established (not resumable through this object, as in ``ssl``). Each read
        is a new object, as ``_ssl`` wraps its SSL_SESSION anew: equal (by id) to the session it resumed, never it."""
        return None if self._session is None else copy.copy(self._session)

    @session.setter
    def session(self, session: Any) -> None:
        self._check_session(session, NativeSession, self._started)
        self._session = session

    @property
    def session_reused(self) -> bool:
        negotiated = self._negotiated
        return negotiated is not None and negotiated.resumed

    # -- error handling -----------------------------------------------------------------------------------

    def _send_alert(self, description: int, level: int = 2) -> None:
        with contextlib.suppress(Exception):
            self._records.write(ALERT, bytes((level, description)))

    def _fail(self, exc: BaseException) -> SSLError:
        """Turn ``exc`` into the error to raise, sending the right alert first (fatal errors only)."""
        if isinstance(exc, TLSAlert):
            self._send_alert(exc.description)
            failure = exc.to_error()
        elif isinstance(exc, SSLCertVerificationError):
            self._send_alert(int(getattr(exc, "alert", BAD_CERTIFICATE)))
            failure = exc
        elif isinstance(exc, SSLError):
            failure = exc
        else:
            self._send_alert(INTERNAL_ERROR)
            failure = error("INTERNAL_ERROR")
            failure.__cause__ = exc
        self._failed = failure
        return failure

    def _check_failed(self) -> None:
        if self._failed is not None:
            raise self._failed

    # -- record processing ------------------------------------------------------------------------------

    def _next_record(self) -> tuple[int, bytes | memoryview]:
        record: tuple[int, bytes | memoryview] | None = self._records.read_record()
        if record is None:
            if self._incoming.eof:
                raise ragged_eof(ORIGIN)
            raise want_read(ORIGIN)
        return record

    def _useless_record(self, kind: int) -> None:
        """Count a record or message that carries no data; past its ``_limits`` count, refuse the peer."""
        self._useless += 1
        floods = self._floods
        floods[kind] += 1
        limit, reason, message = _FLOOD_LIMITS[kind]
        if floods[kind] > limit:
            raise TLSAlert(UNEXPECTED_MESSAGE, message, reason)

    def _data_received(self) -> None:
        """Data (or handshake progress) arrived: the counts of records without data start again."""
        self._useless = 0
        self._floods = [0, 0, 0, 0]

    def _dispatch(self, content_type: int, payload: bytes | memoryview) -> None:
        if content_type == HANDSHAKE:
            if self._useless and not self._done:
                self._data_received()
            buffer = self._hs_buffer
            buffer.feed(payload)
            while (message := buffer.pop()) is not None:
                if self._done:
                    self._post_handshake(*message)
                    continue
                self._handshake, effects = self._handshake.handle(*message)
                self._apply(effects)
        elif content_type == APPLICATION_DATA:  # only empty records get here once the handshake is done
            if not self._done:  # even empty (RFC 8446 5.1: application data needs the application keys)
                raise TLSAlert(UNEXPECTED_MESSAGE, "application data during the handshake", "UNEXPECTED_RECORD")
            if len(self._hs_buffer):
                self._interleaved()
            self._useless_record(_EMPTY)
        elif content_type == SKIPPED_EARLY_DATA:  # bounded in bytes by the record layer
            return
        elif content_type == ALERT:
            self._alert(payload)
        else:  # CHANGE_CIPHER_SPEC
            handshake = self._handshake
            if isinstance(handshake, Handshake12) and not self._done:  # TLS 1.2: switches the read keys
                self._apply(handshake.change_cipher_spec(payload))
                return
            if (self._done or self._ccs_seen or bytes(payload) != b"\x01"
                    or self._handshake.state in (State.START, State.WAIT_CLIENT_HELLO)):
                raise TLSAlert(UNEXPECTED_MESSAGE, "unexpected change_cipher_spec", "UNEXPECTED_CCS_MESSAGE")
            self._ccs_seen = True

    def _apply(self, effects: list[Effect]) -> None:
        """Apply a handshake's ``effects`` to the record layer, in order. The one place that enforces RFC 8446
        5.1's "no handshake data across a key change": handshake bytes still buffered when the read
        protection changed (after a handshake message, a TLS 1.2 ChangeCipherSpec or a KeyUpdate) are refused."""
        records = self._records
        read_changed = False
        completed = None
        for effect in effects:
            if isinstance(effect, Send):
                records.write(effect.content_type, effect.data)
            elif isinstance(effect, InstallWrite):
                records.write_protection = effect.protection
            elif isinstance(effect, InstallRead):
                records.read_protection = effect.protection
                read_changed = True
            elif isinstance(effect, SendChangeCipherSpec):
                records.write_change_cipher_spec()
            elif isinstance(effect, SkipEarlyData):
                records.early_data_budget = effect.budget
            else:
                completed = effect.negotiated
        if read_changed and len(self._hs_buffer):
            raise TLSAlert(UNEXPECTED_MESSAGE, "handshake data across a key change", "NOT_ON_RECORD_BOUNDARY")
        if completed is not None:
            self._handshake_complete(completed)

    def _interleaved(self) -> None:
        """Application data arrived in the middle of a post-handshake message: RFC 8446 5.1, "handshake
        messages MUST NOT be interleaved with other record types" (TLS 1.3; TLS 1.2 only has refused
        renegotiations there)."""
        if not self.traffic.interleaving_allowed:
            raise TLSAlert(UNEXPECTED_MESSAGE, "application data inside a handshake message", "UNEXPECTED_RECORD")

    def _alert(self, payload: bytes | memoryview) -> None:
        level, description = m.parse_alert(payload)
        if description == CLOSE_NOTIFY:
            self._peer_closed = True
            return
        # TLS 1.3 knows only user_canceled as a warning; TLS 1.2 (during its handshake too) any
        if level == 1 and (description == USER_CANCELED or self._handshake.version == TLS12):
            self._useless_record(_WARNING)
            return
        raise received_alert_error(description)

    def _post_handshake(self, msg_type: int, raw: bytes) -> None:
        traffic = self.traffic
        if isinstance(traffic, Traffic12):  # only renegotiation attempts, refused
            self._useless_record(_POST_HANDSHAKE)
            self._apply(traffic.refuse_renegotiation(msg_type, raw))
            return
        handshake = traffic.handshake
        if msg_type in (m.NEW_SESSION_TICKET, m.CERTIFICATE_REQUEST):
            self._useless_record(_POST_HANDSHAKE)
        if msg_type == m.NEW_SESSION_TICKET and not self._server_side:
            self._new_session_ticket(traffic, m.NewSessionTicket.parse(raw[4:]))
            return
        if msg_type == m.CERTIFICATE_REQUEST and not self._server_side:
            if not self._settings.post_handshake_auth:
                raise TLSAlert(UNEXPECTED_MESSAGE, "CertificateRequest without post_handshake_auth")
            PostHandshakeAuth.answer(handshake, raw, traffic.write_secret)
            self._apply(handshake.effects.take())
            return
        pha = self._pha
        if pha is not None and msg_type in (m.CERTIFICATE, m.CERTIFICATE_VERIFY, m.FINISHED):
            if pha.handle(msg_type, raw, traffic.read_secret):
                self._pha = None
                self._negotiated = pha.authenticated(self.negotiated)
            return
        if msg_type == m.KEY_UPDATE:
            update = m.KeyUpdate.parse(raw[4:])
            self._useless_record(_KEY_UPDATE)
            self._apply([InstallRead(traffic.next_read_protection())])
            if update.update_requested and not self._sent_close:
                self._send_key_update(traffic, False)
            return
        raise TLSAlert(UNEXPECTED_MESSAGE, f"post-handshake message {msg_type}")

    def _new_session_ticket(self, traffic: Traffic13, ticket: m.NewSessionTicket) -> None:
        """Make a session of a TLS 1.3 ticket: it becomes ``session`` (a lifetime of 0 means discard)."""
        if ticket.lifetime > MAX_TICKET_LIFETIME:
            raise TLSAlert(ILLEGAL_PARAMETER, "ticket lifetime over seven days", "BAD_VALUE")
        max_early_data = 0
        for ext_type, data in ticket.extensions:
            if ext_type == m.EARLY_DATA:
                max_early_data = m.parse_u32(data)
        if ticket.lifetime == 0:
            return
        negotiated = self.negotiated
        self._session = NativeSession(
            self._context, protocol=m.TLS13, cipher_suite=negotiated.suite.code,
            secret=traffic.ticket_secret(ticket.nonce),
            ticket=ticket.ticket, ticket_lifetime_hint=ticket.lifetime, ticket_age_add=ticket.age_add,
            server_hostname=self._server_hostname, alpn=negotiated.alpn, peer_chain=negotiated.peer_chain,
            verified_chain=negotiated.verified_der, max_early_data=max_early_data,
        )

    def _send_key_update(self, traffic: Traffic13, request_peer: bool) -> None:
        """Send KeyUpdate and switch to the next write key (``request_peer`` asks the peer to do the same)."""
        self._apply([Send(HANDSHAKE, m.KeyUpdate(request_peer).build()),
                     InstallWrite(traffic.next_write_protection())])

    def _handshake_complete(self, negotiated: Negotiated) -> None:
        handshake = self._handshake
        self._negotiated = negotiated
        self._done = True
        self._ccs_seen = True  # no CCS after the handshake
        traffic = self._traffic = handshake.traffic(self._server_side)
        self._rekey_after = traffic.rekey_after
        handshake.release()
        if self._server_side:
            self._context.record_stat("accept_good")
            self._session = _server_session(self._context, negotiated)
        else:
            self._context.record_stat("connect_good")
            if negotiated.resumed:
                self._context.record_stat("hits")
            if negotiated.session is not None:
                self._session = negotiated.session

    @property
    def traffic(self) -> Traffic:
        """The version's traffic object (``ValueError`` before the handshake completes)."""
        traffic = self._traffic
        if traffic is None:
            raise ValueError("handshake not done yet")
        return traffic

    @property
    def negotiated(self) -> Negotiated:
        """What the handshake established (``ValueError`` before it completes)."""
        negotiated = self._negotiated
        if negotiated is None:
            raise ValueError("handshake not done yet")
        return negotiated

    # -- I/O ----------------------------------------------------------------------------------------------

    def do_handshake(self) -> None:
        if self._done:
            return
        self._check_failed()
        handshake = self._handshake
        try:
            if not self._started:
                self._started = True
                if not self._settings.wire_versions:  # as OpenSSL: only the alert goes out
                    raise TLSAlert(PROTOCOL_VERSION, reason="NO_PROTOCOLS_AVAILABLE")
                if self._server_side:
                    self._context.record_stat("accept")
                else:
                    self._context.record_stat("connect")
                    if isinstance(handshake, AwaitServerHello):
                        self._apply(handshake.start(self._session))
            while not self._done:
                self._dispatch(*self._next_record())
        except (SSLWantReadError, SSLWantWriteError):
            raise
        except Exception as exc:
            raise self._fail(exc) from None

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        target = None  # the buffer's bytes, when reading into one
        if buffer is None:  # as _ssl: a read of nothing (len 0, or an empty buffer) reads no record
            if len == 0:
                return b""
        else:
            target = memoryview(buffer) if type(buffer) is bytearray else memoryview(buffer).cast("B")
            if not target.nbytes:
                return 0
        if not self._done:
            self.do_handshake()
        if self._failed is not None:
            raise self._failed
        if buffer is None and len < 0:
            raise ValueError("size should not be negative")
        data = self._app_data
        if data is None:  # process records until one carries data; what is left of it stays in _app_data
            pos = 0
            try:
                while True:
                    if self._peer_closed:
                        if self._sent_close:
                            raise zero_return(ORIGIN)
                        return 0 if buffer is not None else b""
                    record = self._records.read_record()
                    if record is None:
                        if self._incoming.eof:
                            if self._settings.options & ssl.OP_IGNORE_UNEXPECTED_EOF:
                                self._peer_closed = True
                                continue
                            raise ragged_eof(ORIGIN)
                        break  # nothing to read: want-read, raised below (not through the handlers)
                    content_type, data = record
                    if content_type == APPLICATION_DATA and data:
                        if self._hs_buffer.__len__():  # ``len`` is the argument here
                            self._interleaved()
                        if self._useless:
                            self._data_received()
                        break
                    self._dispatch(content_type, data)
            except (SSLWantReadError, SSLWantWriteError):
                raise
            except Exception as exc:
                if isinstance(exc, SSLError) and exc.errno == ssl.SSL_ERROR_ZERO_RETURN:
                    raise
                raise self._fail(exc) from None
            if record is None or data is None:  # the loop left without a record: nothing to read yet
                raise want_read(ORIGIN)
        else:
            pos = self._app_pos
        available = data.__len__() - pos
        if target is not None:
            count = target.nbytes if len <= 0 or len > target.nbytes else len
            if count >= available:
                target[:available] = data if pos == 0 else data[pos:]
                self._app_data = None
                return available
            target[:count] = data[pos : pos + count]
        elif len >= available:
            self._app_data = None
            return bytes(data) if pos == 0 else bytes(data[pos:])
        else:
            count = len
        self._app_data = data
        self._app_pos = pos + count
        return count if buffer is not None else bytes(data[pos : pos + count])

    def write(self, data: Any) -> int:
        if not self._done:
            self.do_handshake()
        if self._failed is not None:
            raise self._failed
        if self._sent_close:
            raise error("PROTOCOL_IS_SHUTDOWN")
        if type(data) is not bytes:
            data = memoryview(data).cast("B")
        size: int = data.__len__()
        if size:
            records = self._records
            if records.write_sequence >= self._rekey_after:  # only TLS 1.3 ever gets here
                traffic = self.traffic
                assert isinstance(traffic, Traffic13)
                self._send_key_update(traffic, False)
            records.write(APPLICATION_DATA, data)
        return size

    def pending(self) -> int:
        data = self._app_data
        return 0 if data is None else data.__len__() - self._app_pos

    def unwrap(self) -> None:
        self._check_failed()
        if not self._done:
            raise error("SHUTDOWN_WHILE_IN_INIT")
        if not self._sent_close:
            self._sent_close = True
            self._send_alert(CLOSE_NOTIFY, 1)
        try:
            while not self._peer_closed:
                self._app_data = None
                content_type, payload = self._next_record()
                if content_type != APPLICATION_DATA:
                    self._dispatch(content_type, payload)
        except (SSLWantReadError, SSLWantWriteError):
            raise
        except Exception as exc:
            raise self._fail(exc) from None

    # -- inspection ---------------------------------------------------------------------------------------

    def getpeercert(self, binary_form: bool = False) -> Any:
        negotiated = self.negotiated
        certificate = negotiated.peer_certificate
        if certificate is None:
            return None
        if binary_form:
            return negotiated.peer_chain[0]
        if negotiated.verified_chain is None:
            return {}
        from tlsapi.spi import certificate_dict

        return certificate_dict(certificate)

    def get_verified_chain(self) -> list[bytes]:
        negotiated = self._negotiated
        chain = None if negotiated is None else negotiated.verified_chain
        return [] if chain is None else [cert.public_bytes(Encoding.DER) for cert in chain]

    def get_unverified_chain(self) -> list[bytes]:
        negotiated = self._negotiated
        return [] if negotiated is None else list(negotiated.peer_chain)

    def cipher(self) -> tuple[str, str, int] | None:
        negotiated = self._negotiated
        if negotiated is None:
            return None
        suite = negotiated.suite
        return suite.name, negotiated.version_name, suite.secret_bits

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        negotiated = self._negotiated
        codes = None if negotiated is None else negotiated.shared_suites
        if codes is None:
            return None
        suites = [TLS13_SUITES.get(c) or TLS12_SUITES[c] for c in codes]
        return [(suite.name, suite.protocol, suite.secret_bits) for suite in suites]

    def version(self) -> str | None:
        negotiated = self._negotiated
        return None if negotiated is None else negotiated.version_name

    def selected_alpn_protocol(self) -> str | None:
        negotiated = self._negotiated
        alpn = None if negotiated is None else negotiated.alpn
        return None if alpn is None else alpn.decode("ascii", "replace")

    def verify_client_post_handshake(self) -> None:
        """Server: send a CertificateRequest now; the client answers with its next flight (RFC 8446 4.6.2).
        Errors in OpenSSL's order: a TLS 1.2 connection first (WRONG_SSL_VERSION), then the side, the state."""
        if self._done and self.version() != "TLSv1.3":
            raise error("WRONG_SSL_VERSION", errno=266)  # SSL_R_WRONG_SSL_VERSION, as _ssl reports it
        if not self._server_side:
            raise error("NOT_SERVER")
        if not self._done:
            raise error("STILL_IN_INIT")
        traffic = self.traffic
        if not isinstance(traffic, Traffic13) or not traffic.peer_offered_pha:
            raise error("EXTENSION_NOT_RECEIVED")
        if self._pha is not None:
            raise error("REQUEST_SENT")
        self._check_failed()
        self._pha = PostHandshakeAuth.request(traffic.handshake)
        self._apply(traffic.handshake.effects.take())

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """``tls-unique`` (the first Finished, as OpenSSL reports it) or ``tls-exporter`` (RFC 9266); ``None``
        before the handshake, and for a TLS 1.2 session without the extended master secret, which binds
        nothing (RFC 7627)."""
        if cb_type not in ("tls-unique", "tls-exporter"):
            raise ValueError(f"{cb_type!r} channel binding type not implemented")
        negotiated = self._negotiated
        if negotiated is None or not negotiated.uses_ems:
            return None
        if cb_type == "tls-exporter":
            return self.export_keying_material(b"EXPORTER-Channel-Binding", b"", 32)
        return negotiated.server_finished if negotiated.resumed else negotiated.client_finished

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        if not self._done:
            raise ValueError("handshake not done yet")
        return self.traffic.export(label, context, length)

    def group(self) -> str | None:
        negotiated = self._negotiated
        group = None if negotiated is None else negotiated.group
        return None if group is None else GROUP_NAMES.get(group)

    def ech_status(self) -> ECHStatus:
        return self._handshake.ech_status

    # -- extras (native only) ---------------------------------------------------------------------------

    def key_update(self, request_peer: bool = True) -> None:
        """Send a KeyUpdate now (TLS 1.3 only), optionally asking the peer to update its keys too."""
        traffic = self._traffic
        if self._sent_close or not isinstance(traffic, Traffic13):
            raise ValueError("key update needs an established TLS 1.3 connection")
        self._send_key_update(traffic, request_peer)

    def __repr__(self) -> str:
        side = "server" if self._server_side else "client"
        return f"<tlsapi_native.NativeConnection {side} {self._handshake.state.value}>"


def _server_session(context: Any, negotiated: Negotiated) -> NativeSession:
    """What ``session`` reads on a server after the handshake, as OpenSSL's: the protocol and suite, a random
    32-byte id in TLS 1.3 (empty in TLS 1.2, where tickets carry the session), no ticket, no secret."""
    tls12 = negotiated.version == TLS12
    return NativeSession(
        context, protocol=negotiated.version, cipher_suite=negotiated.suite.code, secret=b"",
        session_id=b"" if tls12 else os.urandom(32), server_hostname=negotiated.server_name, alpn=negotiated.alpn,
        timeout=TICKET_LIFETIME,
    )
