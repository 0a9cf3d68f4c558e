"""The rustls backend: tlsapi's ``Connection`` over rtls's sans-IO rustls connections.

rtls's own ``SSLObject`` has other semantics than ``ssl.SSLObject`` (it cannot tell close_notify from "no data
yet", writes into the incoming BIO and raises its own classes), so this adapter drives the engine types it
ships, ``rtls._rustls.RustlsClientConnection`` / ``RustlsServerConnection``, between the two memory BIOs, and
reports every outcome with the stdlib's error values through ``tlsapi.spi``.

rustls has no servername hook and answers an ALPN mismatch with ``no_application_protocol``, where the stdlib's
server goes on without ALPN. The server therefore peeks at the ClientHello (:func:`tlsapi.spi.peek_client_hello`)
before building its rustls connection: it runs the SNI callback (which may switch contexts), makes the stdlib's
ALPN choice, and configures rustls with that one protocol. rustls's server never requests a client certificate
here, so a server context refuses ``CERT_OPTIONAL`` / ``CERT_REQUIRED``.
"""

from __future__ import annotations

import importlib.metadata
import re
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from rtls import _rustls

import tlsapi
from tlsapi.spi import (
    BIO,
    X509_V_ERR_HOSTNAME_MISMATCH,
    X509_V_ERR_IP_ADDRESS_MISMATCH,
    Capability,
    CertChain,
    ClientHelloInfo,
    Connection,
    Context,
    Settings,
    SSLError,
    certificate_dict,
    closed_eof,
    is_ip_address,
    make_error,
    peek_client_hello,
    ragged_eof,
    reason_text,
    received_alert_error,
    run_sni_callback,
    select_alpn,
    verification_error,
    verify_message,
    want_read,
)

from . import RTLS_TESTED

if TYPE_CHECKING:
    from typing import Self

    RustlsConnectionType = _rustls.RustlsClientConnection | _rustls.RustlsServerConnection

ORIGIN = "rustls"


def _check_rtls_version() -> None:
    """Refuse (at import, so the backend reports itself unavailable) an rtls outside the tested range."""
    version = importlib.metadata.version("rtls")
    year = int(version.split(".")[0])
    month = int(version.split(".")[1])
    if not (year, month) >= (2026, 9) or year >= 2027:
        raise ImportError(f"rtls {version} is outside the tested range {RTLS_TESTED}")


_check_rtls_version()

_VERSIONS = {0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
_VERSION_CODES = {tlsapi.TLSVersion.TLSv1_2: 0x0303, tlsapi.TLSVersion.TLSv1_3: 0x0304}

#: rustls's suites by IANA code: (rustls's name, OpenSSL's name, protocol, secret bits).
_SUITES: dict[int, tuple[str, str, str, int]] = {
    0x1301: ("TLS13_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", "TLSv1.3", 128),
    0x1302: ("TLS13_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", "TLSv1.3", 256),
    0x1303: ("TLS13_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLSv1.3", 256),
    0xC02B: ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2", 128),
    0xC02C: ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", "TLSv1.2", 256),
    0xCCA9: ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "TLSv1.2", 256),
    0xC02F: ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2", 128),
    0xC030: ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2", 256),
    0xCCA8: ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305", "TLSv1.2", 256),
}
_OPENSSL_NAMES = {rustls: openssl for rustls, openssl, _, _ in _SUITES.values()}

#: rustls's ``AlertDescription`` names (as its errors print them) by description number.
_RUSTLS_ALERTS: dict[str, int] = {
    "CloseNotify": 0, "UnexpectedMessage": 10, "BadRecordMac": 20, "DecryptionFailed": 21,
    "RecordOverflow": 22, "DecompressionFailure": 30, "HandshakeFailure": 40, "NoCertificate": 41,
    "BadCertificate": 42, "UnsupportedCertificate": 43, "CertificateRevoked": 44, "CertificateExpired": 45,
    "CertificateUnknown": 46, "IllegalParameter": 47, "UnknownCA": 48, "AccessDenied": 49, "DecodeError": 50,
    "DecryptError": 51, "ExportRestriction": 60, "ProtocolVersion": 70, "InsufficientSecurity": 71,
    "InternalError": 80, "InappropriateFallback": 86, "UserCanceled": 90, "NoRenegotiation": 100,
    "MissingExtension": 109, "UnsupportedExtension": 110, "CertificateUnobtainable": 111,
    "UnrecognisedName": 112, "BadCertificateStatusResponse": 113, "BadCertificateHashValue": 114,
    "UnknownPSKIdentity": 115, "CertificateRequired": 116, "NoApplicationProtocol": 120,
}
_RECEIVED_ALERT = re.compile(r"received fatal alert: (\w+)")

#: rustls's certificate errors (``CertificateError`` variants, or their display text) as OpenSSL verify codes.
_VERIFY_CODES: dict[str, int] = {
    "certificate expired": 10, "Expired": 10, "certificate not valid yet": 9, "NotValidYet": 9,
    "does not allow extended key usage": 26, "BadSignature": 7, "Revoked": 23, "UnhandledCriticalExtension": 34,
    "InvalidPurpose": 26, "NameConstraintViolation": 47, "CaUsedAsEndEntity": 79, "EndEntityUsedAsCa": 79,
    "PathLenConstraintViolated": 25, "UnknownIssuer": 20,
}
#: rustls's local failures (the alert it sent) as OpenSSL's reason.
_LOCAL_REASONS: dict[str, str] = {
    "peer is incompatible: Tls12NotOffered": "UNSUPPORTED_PROTOCOL",
    "peer is incompatible: Tls13RequiredForQuic": "UNSUPPORTED_PROTOCOL",
    "peer doesn't support any known protocol": "NO_APPLICATION_PROTOCOL",
    "peer is incompatible: NoCipherSuitesInCommon": "NO_SHARED_CIPHER",
    "peer is incompatible: NoKxGroupsInCommon": "NO_SUITABLE_KEY_SHARE",
    "peer is incompatible: SupportedVersionsExtensionRequired": "UNSUPPORTED_PROTOCOL",
    "decrypt error": "DECRYPTION_FAILED_OR_BAD_RECORD_MAC",
    "peer sent oversized record": "PACKET_LENGTH_TOO_LONG",
    "received corrupt message of type MessageTooLarge": "PACKET_LENGTH_TOO_LONG",
    "received corrupt message of type HandshakePayloadTooLarge": "EXCESSIVE_MESSAGE_SIZE",
    "received corrupt message of type TrailingData": "LENGTH_MISMATCH",
    "received corrupt message of type DuplicateExtension": "BAD_EXTENSION",
    "peer misbehaved: KeyEpochWithPendingFragment": "NOT_ON_RECORD_BOUNDARY",
    "peer misbehaved: UnsolicitedServerHelloExtension": "UNSOLICITED_EXTENSION",
    "peer misbehaved: UnsolicitedEncryptedExtension": "UNSOLICITED_EXTENSION",
}
_ALERT_RECORD = b"\x15\x03\x03\x00\x02\x02"  # a plaintext fatal alert header, then the description byte
_PROTOCOL_VERSION = 70
_PLAINTEXT_CHUNK = 16384  # TLS's largest record plaintext: ``read`` returns at most this much at a time


class RustlsConnection(Connection):
    """An ``ssl.SSLObject`` over a rustls connection and two memory BIOs."""

    _context: RustlsContext
    _incoming: BIO
    _outgoing: BIO
    _conn: RustlsConnectionType | None  # the server's is made once the ClientHello is known
    _backlog: bytes  # ciphertext received and not yet taken by rustls
    _hello: ClientHelloInfo | None
    _handshake_done: bool
    _failed: SSLError | None
    _close_sent: bool
    _eof_reported: bool
    _no_versions: bool  # the context's bounds leave no version: the handshake fails, as the stdlib's does
    _engine: RustlsEngine  # the rustls configurations of the connection's settings

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
        assert isinstance(context, RustlsContext)  # Context.wrap_bio dispatches on the class
        if session is not None:
            raise context._unsupported("session resumption", "rtls exposes no sessions")
        self = cls._new(context, server_side, server_hostname)
        self._incoming = incoming
        self._outgoing = outgoing
        self._backlog = b""
        self._hello = None
        self._handshake_done = False
        self._failed = None
        self._close_sent = False
        self._eof_reported = False
        self._engine = context._engine_for(self._settings)
        self._no_versions = not self._engine.versions
        context.record_stat("accept" if server_side else "connect")
        if server_side or self._no_versions:
            self._conn = None  # a client with no version sends nothing, not even a ClientHello
        else:
            self._conn = self._engine.client_connection(server_hostname)
            self._flush()
        return self

    # -- identity -------------------------------------------------------------------------------------------

    def _switch_context(self, context: Context) -> None:
        """The SNI callback may pick another rustls context: the server is configured from its snapshot."""
        if not isinstance(context, RustlsContext):
            raise TypeError("the SNI callback may switch only to another rustls-backend context")
        self._engine = context._engine_for(context.settings())

    @property
    def session(self) -> None:
        """Always ``None``: rtls exposes no sessions (``SESSION_RESUMPTION`` is not declared)."""
        return None

    @session.setter
    def session(self, session: Any) -> None:
        raise self._context._unsupported("session resumption", "rtls exposes no sessions")

    @property
    def session_reused(self) -> bool:
        return False

    # -- driving rustls ---------------------------------------------------------------------------------------

    def _flush(self) -> None:
        """Move everything rustls has to send into ``outgoing``."""
        conn = self._conn
        assert conn is not None
        while conn.wants_write():
            data = conn.write_tls()
            if not data:
                return
            self._outgoing.write(data)

    def _feed(self) -> None:
        """Give rustls the ciphertext received (what it cannot take yet stays in the backlog), process it, and
        send what it answers; a protocol failure is raised as the stdlib's error, after its alert is queued."""
        conn = self._conn
        assert conn is not None
        data = self._backlog + self._incoming.read()
        try:
            while data:
                try:
                    taken = conn.read_tls(data)
                except ssl.SSLError as exc:
                    if "buffer full" not in str(exc):
                        raise
                    taken = 0
                if taken == 0:
                    break
                data = data[taken:]
                conn.process_new_packets()
            self._backlog = data
        except ssl.SSLError as exc:
            self._failed = self._translate(exc)
            raise self._failed from None
        finally:
            self._flush()

    def _translate(self, exc: ssl.SSLError) -> SSLError:
        """rtls's error (its message is rustls's ``Error`` display) as the stdlib reports the same event."""
        text = str(exc.args[0]) if exc.args else str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return self._verification_failure(text)
        received = _RECEIVED_ALERT.search(text)
        if received is not None:
            return received_alert_error(_RUSTLS_ALERTS.get(received.group(1), 255), origin=ORIGIN)
        if text.startswith("peer is incompatible: ServerRejectedEncryptedClientHello"):
            # rustls checked the retry configurations and sent ech_required; rtls gives no access to them
            return make_error(tlsapi.ECHRejectedError, reason_text("ECH_REJECTED"), "ECH_REJECTED", origin=ORIGIN)
        for prefix, reason in _LOCAL_REASONS.items():
            if text.startswith(prefix):
                return make_error(SSLError, reason_text(reason), reason, origin=ORIGIN)
        if text.startswith(("received corrupt message", "peer sent", "received unexpected")):
            reason = "UNEXPECTED_MESSAGE" if "unexpected" in text else "BAD_PACKET"
            return make_error(SSLError, text, reason, origin=ORIGIN)
        return make_error(SSLError, text, "INTERNAL_ERROR", origin=ORIGIN)

    def _verification_failure(self, text: str) -> SSLError:
        """The ``CERTIFICATE_VERIFY_FAILED`` error with OpenSSL's code for rustls's certificate error."""
        if "not valid for name" in text or "NotValidForName" in text:
            ip = is_ip_address(self._server_hostname or "")
            code = X509_V_ERR_IP_ADDRESS_MISMATCH if ip else X509_V_ERR_HOSTNAME_MISMATCH
        else:
            code = next((value for name, value in _VERIFY_CODES.items() if name in text), 1)
            if code == 20:
                code = self._unknown_issuer_code()
        return verification_error(code, verify_message(code, self._server_hostname), origin=ORIGIN)

    def _unknown_issuer_code(self) -> int:
        """OpenSSL's code for an untrusted chain: 18 a self-signed leaf, 19 a self-signed root sent, else 20."""
        chain = [x509.load_der_x509_certificate(der) for der in self.get_unverified_chain()]
        if len(chain) == 1 and chain[0].subject == chain[0].issuer:
            return 18
        if len(chain) > 1 and chain[-1].subject == chain[-1].issuer:
            return 19
        return 20

    def _raise_if_failed(self) -> None:
        if self._failed is not None:
            raise self._failed

    def _peer_closed(self) -> bool:
        """Whether the peer's close_notify was processed and its plaintext is all read.

        rustls stops wanting to read only once close_notify arrived (with nothing left to send or read)."""
        conn = self._conn
        return (conn is not None and self._handshake_done and not conn.pending() and not conn.wants_read()
                and not conn.wants_write())

    def _eof_error(self) -> SSLError:
        """The transport ended without close_notify: reported once with its reason, then as the plain EOF."""
        first = not self._eof_reported
        self._eof_reported = True
        return ragged_eof(ORIGIN) if first else closed_eof(ORIGIN)

    def _start_server(self) -> None:
        """Peek at the ClientHello, run the SNI callback and the ALPN choice, then build the rustls server."""
        self._backlog += self._incoming.read()
        try:
            hello = peek_client_hello(self._backlog)
        except ValueError:
            hello = None  # not a ClientHello: rustls, fed the same bytes, sends the right alert
        else:
            if hello is None:
                if self._incoming.eof:
                    raise self._eof_error()
                raise want_read(ORIGIN)
            self._hello = hello
            alert = run_sni_callback(self, hello.server_name)
            if alert is not None:
                self._outgoing.write(_ALERT_RECORD + bytes([alert]))
                self._failed = make_error(SSLError, reason_text("CALLBACK_FAILED"), "CALLBACK_FAILED", origin=ORIGIN)
                raise self._failed
        alpn = select_alpn(self._settings.alpn_protocols, hello.alpn_protocols) if hello is not None else None
        self._conn = self._engine.server_connection(alpn)

    def _refuse_without_versions(self) -> None:
        """No version is enabled: as OpenSSL, write only a ``protocol_version`` alert (a client sends no
        ClientHello; a server does not wait for one) and fail with ``NO_PROTOCOLS_AVAILABLE``."""
        self._outgoing.write(_ALERT_RECORD + bytes([_PROTOCOL_VERSION]))
        self._failed = make_error(SSLError, "no protocols available", "NO_PROTOCOLS_AVAILABLE", origin=ORIGIN)
        raise self._failed

    # -- I/O ------------------------------------------------------------------------------------------------------

    def do_handshake(self) -> None:
        self._raise_if_failed()
        if self._handshake_done:
            return
        if self._no_versions:
            self._refuse_without_versions()
        if self._conn is None:
            self._start_server()
        conn = self._conn
        assert conn is not None
        self._feed()
        if conn.is_handshaking():
            if self._incoming.eof:
                raise self._eof_error()
            raise want_read(ORIGIN)
        self._handshake_done = True
        self._context.record_stat("accept_good" if self._server_side else "connect_good")

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """Up to ``len`` bytes (or into ``buffer``); ``b""`` / 0 once the peer sent close_notify."""
        if buffer is not None:
            size = memoryview(buffer).nbytes
            size = len if 0 < len <= size else size
        else:
            if len < 0:
                raise ValueError("size should not be negative")
            size = len
        data = self._read_plaintext(min(size, _PLAINTEXT_CHUNK)) if size else b""
        if buffer is None:
            return data
        with memoryview(buffer) as view, view.cast("B") as target:
            target[: data.__len__()] = data
        return data.__len__()

    def _read_plaintext(self, size: int) -> bytes:
        self._raise_if_failed()
        if not self._handshake_done:
            self.do_handshake()
        conn = self._conn
        assert conn is not None
        data = conn.read_plaintext(size)
        if data:
            return data
        self._feed()
        data = conn.read_plaintext(size)
        if data or self._peer_closed():
            return data
        if self._incoming.eof:
            raise self._eof_error()
        raise want_read(ORIGIN)

    def write(self, data: Any) -> int:
        """Encrypt all of ``data`` into ``outgoing``."""
        self._raise_if_failed()
        if self._close_sent:
            raise closed_eof(ORIGIN)
        if not self._handshake_done:
            self.do_handshake()
        conn = self._conn
        assert conn is not None
        with memoryview(data) as view, view.cast("B") as payload:
            size = payload.nbytes
            for start in range(0, size, _PLAINTEXT_CHUNK):
                conn.write_plaintext(bytes(payload[start : start + _PLAINTEXT_CHUNK]))
                self._flush()
        return size

    def pending(self) -> int:
        return self._conn.pending() if self._conn is not None else 0

    def unwrap(self) -> None:
        """Send close_notify, then wait (want-read) for the peer's, as ``SSLObject.unwrap`` does."""
        self._raise_if_failed()
        conn = self._conn
        if conn is None or not self._handshake_done:
            raise make_error(SSLError, "shutdown while in init", "SHUTDOWN_WHILE_IN_INIT", origin=ORIGIN)
        if not self._close_sent:
            conn.send_close_notify()
            self._close_sent = True
            self._flush()
        while not self._peer_closed():
            if conn.pending():
                conn.read_plaintext(conn.pending())  # application data after our close_notify is discarded
                continue
            before = self._backlog
            self._feed()
            if self._peer_closed():
                return
            if self._incoming.eof:
                raise self._eof_error()
            if self._backlog == before and not conn.pending():
                raise want_read(ORIGIN)

    # -- inspection ---------------------------------------------------------------------------------------------

    def getpeercert(self, binary_form: bool = False) -> Any:
        if not self._handshake_done:
            raise ValueError("handshake not done yet")
        chain = self.get_unverified_chain()
        if not chain:
            return None
        if binary_form:
            return chain[0]
        if self._server_side or self._context.verify_mode == ssl.CERT_NONE:  # the live context's, as _ssl reads it
            return {}
        return certificate_dict(x509.load_der_x509_certificate(chain[0]))

    def get_verified_chain(self) -> list[bytes]:
        """The chain rustls verified, leaf first, ending with the trust anchor that issued it."""
        chain = self.get_unverified_chain()
        if not chain or self._server_side or self._settings.verify_mode == ssl.CERT_NONE:
            return []
        last = x509.load_der_x509_certificate(chain[-1])
        for anchor in self._settings.trust_anchors:
            if anchor.subject == last.issuer:
                try:
                    last.verify_directly_issued_by(anchor)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                der = anchor.public_bytes(serialization.Encoding.DER)
                return chain if der == chain[-1] else [*chain, der]
        return chain

    def get_unverified_chain(self) -> list[bytes]:
        certificates = self._conn.peer_certificates() if self._conn is not None else None
        return [bytes(der) for der in certificates or ()]

    def cipher(self) -> tuple[str, str, int] | None:
        conn = self._conn
        if conn is None or not self._handshake_done:
            return None
        name = conn.negotiated_cipher_suite()
        version = conn.protocol_version()
        if name is None or version is None:
            return None
        return _OPENSSL_NAMES.get(name, name), _VERSIONS[version], conn.negotiated_cipher_suite_bits() or 0

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """Server side: rustls's suites that the client offered (read from its ClientHello), else ``None``."""
        if not self._server_side or not self._handshake_done or self._hello is None:
            return None
        allowed = {_VERSIONS[code] for code in self._engine.versions}
        return [(openssl, protocol, bits) for code, (_, openssl, protocol, bits) in _SUITES.items()
                if code in self._hello.cipher_suites and protocol in allowed]

    def version(self) -> str | None:
        conn = self._conn
        if conn is None or not self._handshake_done:
            return None
        version = conn.protocol_version()
        return None if version is None else _VERSIONS[version]

    def selected_alpn_protocol(self) -> str | None:
        protocol = self._conn.alpn_protocol() if self._conn is not None else None
        return protocol.decode("ascii") if protocol else None

    def verify_client_post_handshake(self) -> None:
        raise self._context._unsupported("post-handshake authentication", "rtls's server never requests a certificate")

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        if cb_type not in ssl.CHANNEL_BINDING_TYPES:
            raise ValueError(f"{cb_type} channel binding type not implemented")
        raise self._context._unsupported("channel binding", "rtls exposes no Finished messages")

    def ech_status(self) -> tlsapi.ECHStatus:
        """Encrypted Client Hello on this client connection, as rustls reports it. A server raises
        ``UnsupportedFeatureError``: rtls's server has no ECH and cannot tell whether the client offered it."""
        conn = self._conn
        if isinstance(conn, _rustls.RustlsClientConnection):
            return tlsapi.ECHStatus(conn.ech_status())
        if self._server_side:
            raise self._context._unsupported("reporting Encrypted Client Hello", "rtls's server has no ECH")
        return tlsapi.ECHStatus.NOT_OFFERED


def _pem_chain(chain: CertChain | None) -> tuple[bytes, bytes] | None:
    if chain is None:
        return None
    certificates = b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in chain.certificates)
    key = chain.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    return certificates, key


@dataclass(frozen=True, slots=True)
class RustlsSettings(Settings):
    """The common settings and the client's Encrypted Client Hello configuration list (``None``: no ECH)."""

    ech_configs: bytes | None


class RustlsEngine:
    """The rustls configurations built from one :class:`RustlsSettings` (rustls configurations are
    immutable): the client's, or the server's per ALPN answer, each built on first use."""

    def __init__(self, settings: RustlsSettings) -> None:
        self.settings = settings
        #: The enabled versions' code points (every handshake asks); ECH exists for TLS 1.3 only.
        self.versions = [_VERSION_CODES[version] for version in settings.versions
                         if settings.ech_configs is None or version == tlsapi.TLSVersion.TLSv1_3]
        self._builders: dict[bytes | None, _rustls.RustlsConfigBuilder] = {}

    def _builder(self, alpn: bytes | None = None) -> _rustls.RustlsConfigBuilder:
        """The rustls configuration (servers: one per ALPN answer)."""
        builder = self._builders.get(alpn)
        if builder is None:
            builder = self._builders[alpn] = self._build(alpn)
        return builder

    def _build(self, alpn: bytes | None) -> _rustls.RustlsConfigBuilder:
        settings = self.settings
        builder = _rustls.RustlsConfigBuilder()
        for anchor in settings.trust_anchors:
            builder.add_root_cert_from_der(anchor.public_bytes(serialization.Encoding.DER))
        pem = _pem_chain(settings.cert_chain)
        if pem is not None:
            if settings.is_client:
                builder.set_client_cert_chain_pem(*pem)
            else:
                builder.set_server_cert_chain_pem(*pem)
        if self.versions:
            builder.set_min_version(min(self.versions))
            builder.set_max_version(max(self.versions))
        builder.set_verify_mode(int(settings.verify_mode) if settings.is_client else ssl.CERT_NONE)
        builder.set_check_hostname(settings.check_hostname)
        if settings.is_client:
            builder.set_alpn(list(settings.alpn_protocols))
        elif alpn is not None:
            builder.set_alpn([alpn])
        if settings.keylog_filename is not None:
            builder.set_keylog_filename(settings.keylog_filename)
        if settings.ech_configs is not None:
            builder.set_ech_configs(settings.ech_configs)
        return builder

    def client_connection(self, server_hostname: str | None) -> _rustls.RustlsClientConnection:
        builder = self._builder()
        # rustls sends no SNI for an IP address by itself; with no hostname at all, none either, as the stdlib.
        builder.set_sni_enabled(server_hostname is not None)
        return builder.build_client_connection(server_hostname or "localhost")

    def server_connection(self, alpn: bytes | None) -> _rustls.RustlsServerConnection:
        if self.settings.cert_chain is None:
            raise make_error(SSLError, "no shared cipher", "NO_SHARED_CIPHER", origin=ORIGIN)
        return self._builder(alpn).build_server_connection()


class RustlsContext(Context):
    """A tlsapi context whose engine is rustls (through rtls).

    rustls configurations are immutable: the :class:`RustlsEngine` of the current snapshot is kept until the
    settings change, and each connection keeps the one of its own snapshot.
    """

    sslobject_class = RustlsConnection
    #: rustls's verifier (webpki) has its own fixed rules: OpenSSL's strict and partial-chain modes are refused.
    honoured_verify_flags = Context.honoured_verify_flags & ~(ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN)

    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self._ech_configs: bytes | None = None
        self._engine: RustlsEngine | None = None

    @property
    def verify_flags(self) -> ssl.VerifyFlags:
        return self._verify_flags

    @verify_flags.setter
    def verify_flags(self, value: int) -> None:
        """Refuses what ``honoured_verify_flags`` lacks, saying why (webpki's rules are fixed)."""
        unsupported = int(value) & ~self.honoured_verify_flags
        if unsupported:
            raise self._unsupported(f"verify flags {ssl.VerifyFlags(unsupported)!r}", "webpki has no such mode")
        Context.verify_flags.fset(self, value)  # type: ignore[attr-defined]

    def _take_settings(self) -> RustlsSettings:
        return RustlsSettings(**self._settings_fields(), ech_configs=self._ech_configs)

    def _engine_for(self, settings: Settings) -> RustlsEngine:
        """The rustls configurations of ``settings`` (a snapshot this context took): the last ones built if
        the snapshot is equal."""
        assert isinstance(settings, RustlsSettings)  # what _take_settings makes
        engine = self._engine
        if engine is None or (engine.settings is not settings and engine.settings != settings):
            engine = self._engine = RustlsEngine(settings)
        return engine

    # -- what rustls adds ---------------------------------------------------------------------------------------

    def set_ech_configs(self, ech_config_list: bytes) -> None:
        """Offer Encrypted Client Hello with this ``ECHConfigList`` (as published in DNS HTTPS records).

        Client contexts only, capability ``ECH``. The real server name travels encrypted; the outer
        ClientHello names the config's ``public_name``. ECH is defined for TLS 1.3 only, so the client then
        offers TLS 1.3 alone. rustls fails the handshake if the server rejects ECH.
        """
        self._require(Capability.ECH, "Encrypted Client Hello")
        if not self.is_client:
            raise ValueError("Encrypted Client Hello configs apply to client contexts only")
        data = bytes(ech_config_list)
        _rustls.RustlsConfigBuilder().set_ech_configs(data)  # ValueError/SSLError now for a malformed list
        self._ech_configs = data
        self._settings_changed()
