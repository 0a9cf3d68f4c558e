"""The pyOpenSSL backend: tlsapi over ``OpenSSL.SSL.Connection`` in memory-BIO mode.

:class:`PyOpenSSLContext` keeps the configuration in Python (the base class) and builds an
``OpenSSL.SSL.Context`` from it lazily, reusing it until the configuration really changes (pyOpenSSL
freezes a context once a connection used it). :class:`PyOpenSSLConnection` moves ciphertext between the
caller's BIOs and pyOpenSSL's memory BIO around every operation and maps each pyOpenSSL outcome onto the
error the stdlib raises for the same event: same class, ``errno``, ``library``, ``reason``, message and
verify fields. OpenSSL 3.5+ renamed some alert reasons (``tls alert ...``); they are reported by their
OpenSSL 3.0 names, as the stdlib does.

pyOpenSSL's public API is used, plus the ``cryptography`` bindings it runs on (``OpenSSL._util``) where it
falls short, each feature-detected at import:

* The SNI callback is OpenSSL's servername callback, registered through the bindings (pyOpenSSL's wrapper
  drops the callback's result), so the alert it returns is the alert sent, as with the stdlib. Without
  those bindings the backend does not declare ``Capability.SNI_CALLBACK``.
* Hostname verification is OpenSSL's own (``X509_VERIFY_PARAM_set1_host`` / ``set1_ip``, with the
  stdlib's host flags), so a mismatch fails with OpenSSL's ``verify_code`` 62 (64 for an IP address) and
  alert (``bad_certificate``); ``hostname_checks_common_name`` (default ``True``, as in ``ssl``) allows
  OpenSSL's CN fallback for a leaf without DNS names. Without those bindings it is ``service_identity``'s
  (RFC 6125 on the subjectAltName, no CN fallback, ``hostname_checks_common_name = True`` refused), run in the verify
  callback on the leaf OpenSSL accepted; the peer then sees the alert OpenSSL sends for a callback rejection
  (``internal_error``).
* ``session_reused`` is derived from the handshake: a resumed handshake carries no server Certificate.
* ``session`` returns, and the ``session`` setter offers, a copy of the OpenSSL session (``i2d`` / ``d2i``,
  as the stdlib does): OpenSSL's ``SSL_free`` marks the session of a connection that was not shut down not
  resumable, and pyOpenSSL shares that object with every ``Session`` taken from the connection, so a
  session would stop resuming whenever the garbage collector freed the connection it came from. Without
  those bindings the session is shared.
* ``set_groups`` can select one NIST curve only; ``num_tickets`` stays at OpenSSL's 2; there is no
  post-handshake authentication; ``shared_ciphers()`` reads the client's offer from its ClientHello, which
  pyOpenSSL does not expose.
"""

from __future__ import annotations

import _ssl
import functools
import ipaddress
import operator
import re
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import service_identity
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from OpenSSL import SSL, crypto

try:
    from OpenSSL._util import ffi, lib
except ImportError:  # pyOpenSSL moved its bindings: the public API only
    ffi = lib = None

import tlsapi.spi as errors
from tlsapi import Capability, TLSVersion
from tlsapi.spi import (
    OP_LEGACY_SERVER_CONNECT,
    OPENSSL_VERIFY_FLAGS,
    Connection,
    Context,
    Settings,
    certificate_dict,
)

from . import BACKEND

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Self

    from tlsapi.spi import BIO

ORIGIN = "pyopenssl"
#: CPython's default cipher string (``PY_SSL_DEFAULT_CIPHER_STRING``), so both backends offer the same suites.
DEFAULT_CIPHERS = "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
DEFAULT_NUM_TICKETS = 2  # OpenSSL's, which pyOpenSSL cannot change
_READ_CHUNK = 65536

_VERSIONS = {TLSVersion.TLSv1_2: SSL.TLS1_2_VERSION, TLSVersion.TLSv1_3: SSL.TLS1_3_VERSION}
_OPTIONS = {
    ssl.OP_ALL: SSL.OP_ALL,
    ssl.OP_NO_TICKET: SSL.OP_NO_TICKET,
    ssl.OP_NO_COMPRESSION: SSL.OP_NO_COMPRESSION,
    ssl.OP_CIPHER_SERVER_PREFERENCE: SSL.OP_CIPHER_SERVER_PREFERENCE,
    ssl.OP_NO_RENEGOTIATION: SSL.OP_NO_RENEGOTIATION,
    ssl.OP_IGNORE_UNEXPECTED_EOF: SSL.OP_IGNORE_UNEXPECTED_EOF,
    OP_LEGACY_SERVER_CONNECT: SSL.OP_LEGACY_SERVER_CONNECT,
}
_VERIFY_MODES = {
    ssl.CERT_NONE: SSL.VERIFY_NONE,
    ssl.CERT_OPTIONAL: SSL.VERIFY_PEER,
    ssl.CERT_REQUIRED: SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
}
#: The groups ``set_groups`` can select: pyOpenSSL's ``set_tmp_ecdh`` takes one NIST curve.
_CURVES: dict[str, ec.EllipticCurve] = {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1()}


def _has_bindings(*names: str) -> bool:
    return lib is not None and all(hasattr(lib, name) for name in names)


# pyOpenSSL's private handles on the OpenSSL objects: SSL_CTX*, SSL*, and the SSL* -> Connection map.
_PROBE = SSL.Connection(SSL.Context(SSL.TLS_METHOD), None)
_HANDLES = hasattr(_PROBE.get_context(), "_context") and hasattr(_PROBE, "_ssl") and hasattr(
    SSL.Connection, "_reverse_mapping"
)
#: The servername callback can set the alert: ``SSL_CTX_set_tlsext_servername_callback`` is bound.
SNI_ALERTS = _HANDLES and _has_bindings(
    "SSL_CTX_set_tlsext_servername_callback", "SSL_TLSEXT_ERR_OK", "SSL_TLSEXT_ERR_ALERT_FATAL"
)
#: OpenSSL checks the hostname itself: ``X509_VERIFY_PARAM_set1_host`` / ``set1_ip`` are bound.
OPENSSL_HOST_CHECK = _HANDLES and _has_bindings(
    "SSL_get0_param", "X509_VERIFY_PARAM_set1_host", "X509_VERIFY_PARAM_set1_ip",
    "X509_VERIFY_PARAM_set_hostflags", "X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS",
    "X509_CHECK_FLAG_NEVER_CHECK_SUBJECT",
)
#: Sessions can be copied (``i2d_SSL_SESSION`` / ``d2i_SSL_SESSION``) into pyOpenSSL ``Session`` objects.
SESSION_COPY = _HANDLES and _has_bindings("i2d_SSL_SESSION", "d2i_SSL_SESSION", "SSL_SESSION_free")
del _PROBE

# -- errors -------------------------------------------------------------------------------------------------

_LIBRARIES = {
    "SSL routines": "SSL",
    "X509 certificate routines": "X509",
    "PEM routines": "PEM",
    "asn1 encoding routines": "ASN1",
    "digital envelope routines": "EVP",
    "BIO routines": "BIO",
    "system library": "SYS",
}
# The alert reasons by their OpenSSL 3.0 names (the stdlib's); the text after the prefix finds them.
_ALERT_REASONS = (
    "SSLV3_ALERT_UNEXPECTED_MESSAGE", "SSLV3_ALERT_BAD_RECORD_MAC", "TLSV1_ALERT_DECRYPTION_FAILED",
    "TLSV1_ALERT_RECORD_OVERFLOW", "SSLV3_ALERT_DECOMPRESSION_FAILURE", "SSLV3_ALERT_HANDSHAKE_FAILURE",
    "SSLV3_ALERT_NO_CERTIFICATE", "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
    "SSLV3_ALERT_CERTIFICATE_REVOKED", "SSLV3_ALERT_CERTIFICATE_EXPIRED", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "SSLV3_ALERT_ILLEGAL_PARAMETER", "TLSV1_ALERT_UNKNOWN_CA", "TLSV1_ALERT_ACCESS_DENIED",
    "TLSV1_ALERT_DECODE_ERROR", "TLSV1_ALERT_DECRYPT_ERROR", "TLSV1_ALERT_EXPORT_RESTRICTION",
    "TLSV1_ALERT_PROTOCOL_VERSION", "TLSV1_ALERT_INSUFFICIENT_SECURITY", "TLSV1_ALERT_INTERNAL_ERROR",
    "TLSV1_ALERT_INAPPROPRIATE_FALLBACK", "TLSV1_ALERT_USER_CANCELLED", "TLSV1_ALERT_NO_RENEGOTIATION",
    "TLSV13_ALERT_MISSING_EXTENSION", "TLSV1_UNSUPPORTED_EXTENSION", "TLSV1_CERTIFICATE_UNOBTAINABLE",
    "TLSV1_UNRECOGNIZED_NAME", "TLSV1_BAD_CERTIFICATE_STATUS_RESPONSE", "TLSV1_BAD_CERTIFICATE_HASH_VALUE",
    "TLSV1_ALERT_UNKNOWN_PSK_IDENTITY", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "TLSV1_ALERT_NO_APPLICATION_PROTOCOL",
)
_ALERTS_BY_TEXT = {
    reason.split("_", 2 if "_ALERT_" in reason else 1)[-1].lower().replace("_", " "): reason
    for reason in _ALERT_REASONS
}
_ALERT_TEXT = re.compile(r"(?:sslv3|tlsv1|tlsv13|tls)(?: alert)? (.+)")


def _reason(text: str) -> tuple[str, str]:
    """OpenSSL's reason text as the stdlib's ``(REASON, message)``."""
    match = _ALERT_TEXT.fullmatch(text)
    if match and match.group(1) in _ALERTS_BY_TEXT:
        reason = _ALERTS_BY_TEXT[match.group(1)]
        return reason, reason.lower().replace("_", " ")
    return text.upper().replace(" ", "_"), text


def _verify_message(code: int, hostname: str | None) -> str:
    """The stdlib's ``verify_message`` (OpenSSL 3.0's wording, whatever OpenSSL pyOpenSSL runs on)."""
    return errors.VERIFY_MESSAGES.get(code, "unknown certificate verification error").format(hostname)


def openssl_error(exc: SSL.Error, verify_failure: tuple[int, str] | None) -> errors.SSLError:
    """The stdlib's error for a pyOpenSSL ``SSL.Error`` (its last queued OpenSSL error decides)."""
    queue: list[tuple[str, str, str]] = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    if not queue:  # the connection failed earlier: the stdlib's reasonless EOF
        return errors.closed_eof(ORIGIN)
    library, _, text = queue[-1]
    if text == "certificate verify failed" and verify_failure is not None:
        return errors.verification_error(*verify_failure, origin=ORIGIN)
    if text == "unexpected eof while reading":
        return errors.ragged_eof(ORIGIN)
    reason, message = _reason(text)
    return errors.make_error(errors.SSLError, message, reason, library=_LIBRARIES.get(library, library),
                             origin=ORIGIN)


def _is_ip_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _offered_suites(data: bytes) -> set[int] | None:
    """The cipher suite codes of the ClientHello that ``data`` starts with; ``None`` until it is complete."""
    handshake = bytearray()
    position = 0
    while position + 5 <= len(data) and data[position] == 22:  # handshake records
        length = int.from_bytes(data[position + 3 : position + 5], "big")
        handshake += data[position + 5 : position + 5 + length]
        position += 5 + length
    if len(handshake) < 4 or len(handshake) < 4 + int.from_bytes(handshake[1:4], "big"):
        return None
    try:
        offset = 4 + 2 + 32  # header, legacy_version, random
        offset += 1 + handshake[offset]  # legacy_session_id
        count = int.from_bytes(handshake[offset : offset + 2], "big")
    except IndexError:  # malformed: OpenSSL rejects it
        return set()
    suites = handshake[offset + 2 : offset + 2 + count]
    return {int.from_bytes(suites[i : i + 2], "big") for i in range(0, len(suites) - 1, 2)}


class _Unraisable:
    """Raises ``exc`` from ``__del__``: the way Python code reports through :func:`sys.unraisablehook`."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __del__(self) -> None:
        raise self.exc


# -- callbacks (module-level: they find the tlsapi connection through the pyOpenSSL one's app data) ------


def _owner(conn: SSL.Connection) -> PyOpenSSLConnection:
    owner: PyOpenSSLConnection = conn.get_app_data()
    return owner


def _verify_callback(conn: SSL.Connection, cert: crypto.X509, code: int, depth: int, ok: int) -> bool:
    """OpenSSL's verdict (plus ``service_identity``'s host check, see ``_check_name``); records a failure."""
    owner = _owner(conn)
    hostname = owner._check_name
    if ok and depth == 0 and hostname is not None:
        certificate = cert.to_cryptography()
        try:
            if _is_ip_address(hostname):
                service_identity.cryptography.verify_certificate_ip_address(certificate, hostname)
            else:
                service_identity.cryptography.verify_certificate_hostname(certificate, hostname)
        except (service_identity.VerificationError, service_identity.CertificateError):
            ip = _is_ip_address(hostname)
            code = errors.X509_V_ERR_IP_ADDRESS_MISMATCH if ip else errors.X509_V_ERR_HOSTNAME_MISMATCH
            ok = 0
    if not ok and owner._verify_failure is None:
        owner._verify_failure = (code, _verify_message(code, owner._server_hostname))
    return bool(ok)


def _info_callback(conn: SSL.Connection, where: int, ret: int) -> None:
    """Follow the handshake: completion, and whether a certificate was exchanged (not on resumption)."""
    owner = _owner(conn)
    if where & SSL.SSL_CB_HANDSHAKE_DONE:
        owner._handshake_done = True
    elif where & SSL.SSL_CB_LOOP and not owner._handshake_done:
        state = conn.get_state_string()
        if state in (b"SSLv3/TLS read server certificate", b"SSLv3/TLS write certificate"):
            owner._full_handshake = True


def _servername(ssl_pointer: Any, alert: Any, arg: Any) -> int:
    """OpenSSL's servername callback: run the tlsapi SNI callback and send its alert, as ``_ssl.c`` does.

    A callback that raises sends ``handshake_failure``; a result that is not an integer, or a name that is
    not ASCII, sends ``internal_error``; each exception goes to :func:`sys.unraisablehook`.
    """
    conn = SSL.Connection._reverse_mapping[ssl_pointer]
    owner = _owner(conn)
    context = owner._context
    callback = owner._settings.sni_callback
    if callback is None:
        return int(lib.SSL_TLSEXT_ERR_OK)
    raw = conn.get_servername()
    try:
        name = None if raw is None else raw.decode("ascii")  # the A-label, as the stdlib passes it
    except UnicodeDecodeError as exc:
        _Unraisable(exc)
        alert[0] = ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        return int(lib.SSL_TLSEXT_ERR_ALERT_FATAL)
    try:
        result = callback(owner, name, context)
    except Exception as exc:
        _Unraisable(exc)
        alert[0] = ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        return int(lib.SSL_TLSEXT_ERR_ALERT_FATAL)
    if result is None:
        if owner._context is not context:  # switched: the connection continues on the new context's snapshot
            owner._openssl_context = owner._context._openssl_context_for(owner._settings)
            conn.set_context(owner._openssl_context)
        return int(lib.SSL_TLSEXT_ERR_OK)
    try:
        alert[0] = operator.index(result)
    except (TypeError, OverflowError) as exc:
        _Unraisable(exc)
        alert[0] = ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
    return int(lib.SSL_TLSEXT_ERR_ALERT_FATAL)


# One C callback for every context (it finds the connection through pyOpenSSL's map); it lives forever.
_SERVERNAME_CALLBACK = ffi.callback("int (*)(SSL *, int *, void *)", _servername) if SNI_ALERTS else None


def _check_host(conn: SSL.Connection, hostname: str, checks_common_name: bool) -> bool:
    """Have OpenSSL verify ``hostname`` (a name or an IP address) as the stdlib configures it: no partial
    wildcards, and the subject CN only for a leaf without DNS names when ``checks_common_name``. ``False``
    when this OpenSSL refuses the name itself (3.5 refuses a trailing dot, which the stdlib's OpenSSL takes
    and then never matches): the caller checks it with ``service_identity`` instead."""
    param = lib.SSL_get0_param(conn._ssl)
    flags = lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
    if not checks_common_name:
        flags |= lib.X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
    lib.X509_VERIFY_PARAM_set_hostflags(param, flags)
    if _is_ip_address(hostname):
        packed = ipaddress.ip_address(hostname).packed
        done = lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed))
    else:
        name = hostname.encode("ascii")
        done = lib.X509_VERIFY_PARAM_set1_host(param, name, len(name))
    return bool(done == 1)


# -- sessions and connections --------------------------------------------------------------------------------


def _encode_session(session: SSL.Session) -> bytes:
    """The DER encoding of ``session`` (OpenSSL's ``i2d_SSL_SESSION``; needs ``SESSION_COPY``)."""
    length = lib.i2d_SSL_SESSION(session._session, ffi.NULL)
    if length <= 0:
        raise ValueError("i2d() failed.")
    encoded = ffi.new("unsigned char[]", length)
    cursor = ffi.new("unsigned char **", encoded)
    if lib.i2d_SSL_SESSION(session._session, cursor) != length:
        raise ValueError("i2d() failed.")
    return bytes(ffi.buffer(encoded, length))


def _copy_session(session: SSL.Session, openssl_context: SSL.Context) -> SSL.Session:
    """An independent copy of ``session`` for connections of ``openssl_context`` (the stdlib's
    ``_ssl_session_dup``): OpenSSL's ``SSL_free`` of a connection that was not shut down marks the session
    that connection holds not resumable, and a copy is out of its reach. ``session`` without the bindings.
    """
    if not SESSION_COPY:
        return session
    encoded = _encode_session(session)
    buffer = ffi.new("unsigned char[]", encoded)
    cursor = ffi.new("unsigned char **", buffer)
    copied = lib.d2i_SSL_SESSION(ffi.NULL, cursor, len(encoded))
    if copied == ffi.NULL:
        raise ValueError("d2i() failed.")
    copy = SSL.Session.__new__(SSL.Session)
    copy._session = ffi.gc(copied, lib.SSL_SESSION_free)
    copy._context = openssl_context  # pyOpenSSL's set_session accepts sessions of this context only
    return copy


def _der_elements(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The ``(tag, content)`` of each DER element in ``data``, in order."""
    position = 0
    while position < len(data):
        tag, length = data[position], data[position + 1]
        position += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[position : position + count], "big")
            position += count
        yield tag, data[position : position + length]
        position += length


@dataclass(frozen=True)
class SessionFields:
    """What ``ssl.SSLSession`` exposes, read from OpenSSL's encoding of the session (``SSL_SESSION_ASN1``:
    version, sslVersion, cipher, sessionID, masterKey, then ``[1]`` time, ``[2]`` timeout, ...,
    ``[9]`` ticketLifetimeHint, ``[10]`` ticket), since pyOpenSSL binds none of the getters."""

    id: bytes
    time: int
    timeout: int
    ticket_lifetime_hint: int
    has_ticket: bool

    @classmethod
    def parse(cls, encoded: bytes) -> SessionFields:
        ((_, body),) = _der_elements(encoded)
        elements = list(_der_elements(body))
        tagged = {tag & 0x1F: next(_der_elements(content))[1] for tag, content in elements[5:] if tag & 0xE0 == 0xA0}

        def integer(number: int) -> int:
            return int.from_bytes(tagged[number], "big", signed=True) if number in tagged else 0

        return cls(elements[3][1], integer(1), integer(2), integer(9), bool(tagged.get(10)))


class PyOpenSSLSession:
    """A session to resume with ``session=`` on the context that made it, with ``ssl.SSLSession``'s
    attributes (``id``, ``time``, ``timeout``, ``ticket_lifetime_hint``, ``has_ticket``) and equality (by
    ``id``; unhashable, as ``ssl.SSLSession``)."""

    __slots__ = ("_context", "_fields", "_openssl_context", "_session")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, context: PyOpenSSLContext, openssl_context: SSL.Context, session: SSL.Session) -> None:
        self._context = context
        self._openssl_context = openssl_context
        self._session = session
        self._fields: SessionFields | None = None

    def belongs_to(self, context: Any) -> bool:
        """Whether ``context`` made this session (only its connections may resume it)."""
        return self._context is context

    @property
    def fields(self) -> SessionFields:
        if self._fields is None:
            if not SESSION_COPY:
                raise self._context._unsupported("session attributes", "i2d_SSL_SESSION is not bound")
            self._fields = SessionFields.parse(_encode_session(self._session))
        return self._fields

    @property
    def id(self) -> bytes:
        return self.fields.id

    @property
    def time(self) -> int:
        """When the session was made, in seconds since the epoch."""
        return self.fields.time

    @property
    def timeout(self) -> int:
        """Seconds from ``time`` during which the session may be resumed."""
        return self.fields.timeout

    @property
    def ticket_lifetime_hint(self) -> int:
        return self.fields.ticket_lifetime_hint

    @property
    def has_ticket(self) -> bool:
        return self.fields.has_ticket

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PyOpenSSLSession):
            return NotImplemented
        return self.id == other.id


class PyOpenSSLConnection(Connection):
    """An ``ssl.SSLObject`` over an ``OpenSSL.SSL.Connection`` and two memory BIOs."""

    _conn: SSL.Connection
    _context: PyOpenSSLContext
    _incoming: BIO
    _outgoing: BIO
    _check_name: str | None  # the name service_identity verifies (hostname checking without OpenSSL's)
    _verify_failure: tuple[int, str] | None
    _handshake_done: bool
    _full_handshake: bool
    _completed: bool  # the post-handshake bookkeeping ran
    _eof_fed: bool
    _record_header: bytes  # the part of the next record's header taken from ``incoming``
    _record_left: int  # bytes of the current record still in ``incoming``
    _ragged_reported: bool
    _hello: bytes  # the server's first incoming bytes, until the ClientHello is parsed
    _offered: set[int] | None  # the suites the client offered (server side)
    _openssl_context: SSL.Context  # kept alive: pyOpenSSL's callbacks belong to it

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
        assert isinstance(context, PyOpenSSLContext)  # Context.wrap_bio dispatches on the class
        self = cls._new(context, server_side, server_hostname)
        self._incoming = incoming
        self._outgoing = outgoing
        settings = self._settings
        checked = self._server_hostname if settings.check_hostname else None
        self._check_name = checked
        self._verify_failure = None
        self._handshake_done = False
        self._full_handshake = False
        self._completed = False
        self._eof_fed = False
        self._record_header = b""
        self._record_left = 0
        self._ragged_reported = False
        self._hello = b""
        self._offered = None
        self._openssl_context = context._openssl_context_for(settings)
        self._conn = SSL.Connection(self._openssl_context, None)
        self._conn.set_app_data(self)
        self._conn.set_info_callback(_info_callback)
        context.record_stat("accept" if server_side else "connect")
        if server_side:
            self._conn.set_accept_state()
        else:
            self._conn.set_connect_state()
            if self._server_hostname is not None and not _is_ip_address(self._server_hostname):
                self._conn.set_tlsext_host_name(self._server_hostname.encode("ascii"))
            if checked is not None and OPENSSL_HOST_CHECK and _check_host(
                self._conn, checked, settings.hostname_checks_common_name
            ):
                self._check_name = None  # OpenSSL checks it
            if session is not None:
                self.session = session
        return self

    # -- identity ---------------------------------------------------------------------------------------

    def _switch_context(self, context: Context) -> None:
        """The SNI callback's virtual hosting: the OpenSSL context (built from ``context``'s snapshot) follows
        on return."""
        if not isinstance(context, PyOpenSSLContext):
            raise TypeError("the SNI callback may switch only to another pyopenssl-backend context")

    @property
    def session(self) -> PyOpenSSLSession | None:
        """A copy of the connection's session: it stays resumable whatever becomes of the connection."""
        session = self._conn.get_session()
        if session is None:
            return None
        openssl_context = self._conn.get_context()
        return PyOpenSSLSession(self._context, openssl_context, _copy_session(session, openssl_context))

    @session.setter
    def session(self, session: Any) -> None:
        """Offer ``session`` for resumption, with the stdlib's checks and messages."""
        self._check_session(session, PyOpenSSLSession, self._handshake_done)
        # pyOpenSSL accepts only sessions of the same OpenSSL context: after a configuration change the
        # session is not offered and the handshake is a full one.
        if session._openssl_context is self._openssl_context:
            # A copy: this connection freed without a shutdown must not make ``session`` unresumable.
            self._conn.set_session(_copy_session(session._session, self._openssl_context))

    @property
    def session_reused(self) -> bool:
        return self._handshake_done and not self._full_handshake

    # -- I/O ----------------------------------------------------------------------------------------------

    def _feed(self) -> bool:
        """Give OpenSSL the rest of the current record from ``incoming`` (or the next one); True if bytes moved.

        Never more than one record at a time, header first: the bytes after the peer's close_notify stay in
        ``incoming`` for the caller (trio's ``SSLStream.unwrap``, a STARTTLS downgrade), as with OpenSSL
        reading the BIO itself. At the end of ``incoming``, its EOF is passed on.
        """
        incoming = self._incoming
        moved = False
        while True:
            left = self._record_left
            if left:
                data = incoming.read(left)
                self._record_left = left - len(data)
            else:
                header = self._record_header + incoming.read(5 - len(self._record_header))
                data = header[len(self._record_header) :]
                if len(header) == 5:
                    self._record_header = b""
                    self._record_left = int.from_bytes(header[3:5], "big")
                else:
                    self._record_header = header
            if not data:
                break
            if self._server_side and self._offered is None and len(self._hello) < _READ_CHUNK:
                self._hello += data
                self._offered = _offered_suites(self._hello)
            self._conn.bio_write(data)
            moved = True
            if not self._record_left and not self._record_header:  # one whole record given
                return True
        if incoming.eof and not self._eof_fed:
            self._conn.bio_shutdown()
            self._eof_fed = True
        return moved

    def _drain(self) -> None:
        while True:
            try:
                data = self._conn.bio_read(_READ_CHUNK)
            except SSL.WantReadError:
                return
            if not data:
                return
            self._outgoing.write(data)

    def _call(self, operation: Callable[..., Any], *args: Any) -> Any:
        """Run a pyOpenSSL operation between the BIOs, raising the stdlib's error for its outcome.

        The operation is retried, a record at a time, while ``incoming`` has bytes for it.
        """
        self._feed()
        try:
            while True:
                try:
                    result = operation(*args)
                except SSL.WantReadError:
                    if not self._feed():
                        raise
                else:
                    break
        except SSL.WantReadError:
            raise errors.want_read(ORIGIN) from None
        except SSL.WantWriteError:
            raise errors.want_write(ORIGIN) from None
        except SSL.ZeroReturnError:
            raise errors.zero_return(ORIGIN) from None
        except SSL.SysCallError:
            # An EOF without close_notify: reported once with its reason, then as the stdlib's plain EOF.
            first = not self._ragged_reported
            self._ragged_reported = True
            raise (errors.ragged_eof(ORIGIN) if first else errors.closed_eof(ORIGIN)) from None
        except SSL.Error as exc:
            error = openssl_error(exc, self._verify_failure)
            if error.reason == "UNEXPECTED_EOF_WHILE_READING":
                self._ragged_reported = True
            raise error from None
        finally:
            self._drain()
        if self._handshake_done and not self._completed:
            self._complete()
        return result

    def _complete(self) -> None:
        """Bookkeeping once the handshake is done."""
        self._completed = True
        side = "accept" if self._server_side else "connect"
        self._context.record_stat(f"{side}_good")
        if self.session_reused:
            self._context.record_stat("hits")

    def do_handshake(self) -> None:
        self._call(self._conn.do_handshake)

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """Up to ``len`` bytes (or into ``buffer``); ``b""`` / 0 once the peer sent close_notify."""
        try:
            if buffer is not None:
                with memoryview(buffer) as view, view.cast("B") as target:  # bytes, whatever the item size
                    size = len if 0 < len <= target.nbytes else target.nbytes
                    if size == 0:
                        return 0
                    count: int = self._call(self._conn.recv_into, target, size)
                    return count
            if len < 0:
                raise ValueError("size should not be negative")
            if len == 0:
                return b""
            data: bytes = self._call(self._conn.recv, len)
            return data
        except errors.SSLZeroReturnError:
            return 0 if buffer is not None else b""

    def write(self, data: Any) -> int:
        """Encrypt all of ``data`` (pyOpenSSL's contexts allow partial writes: loop over records)."""
        with memoryview(data) as view, view.cast("B") as payload:
            offset = 0
            while offset < payload.nbytes:
                offset += self._call(self._conn.send, payload[offset:])
            return payload.nbytes

    def pending(self) -> int:
        return self._conn.pending()

    def unwrap(self) -> None:
        """Send close_notify, then wait (want-read) for the peer's, as ``SSLObject.unwrap`` does."""
        for _ in range(2):
            if self._call(self._conn.shutdown):
                return

    # -- inspection -------------------------------------------------------------------------------------

    def getpeercert(self, binary_form: bool = False) -> Any:
        if not self._handshake_done:
            raise ValueError("handshake not done yet")
        certificate = self._conn.get_peer_certificate(as_cryptography=True)
        if certificate is None:
            return None
        if binary_form:
            return certificate.public_bytes(serialization.Encoding.DER)
        if self._context.verify_mode == ssl.CERT_NONE:
            return {}
        return certificate_dict(certificate)

    def get_verified_chain(self) -> list[bytes]:
        return _der(self._conn.get_verified_chain(as_cryptography=True) or [])

    def get_unverified_chain(self) -> list[bytes]:
        """The chain as received; on the server OpenSSL omits the leaf, which is put back as the stdlib does."""
        chain = self._conn.get_peer_cert_chain(as_cryptography=True)
        if chain is None:
            return []
        if self._server_side:
            leaf = self._conn.get_peer_certificate(as_cryptography=True)
            chain = [leaf, *chain] if leaf is not None else chain
        return _der(chain)

    def cipher(self) -> tuple[str, str, int] | None:
        name = self._conn.get_cipher_name()
        version = self._conn.get_cipher_version()
        bits = self._conn.get_cipher_bits()
        if name is None or version is None or bits is None:
            return None
        return name, version, bits

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """Server side: our enabled suites that the client offered (read from its ClientHello), else ``None``."""
        if not self._server_side or not self._handshake_done or self._offered is None:
            return None
        known = _cipher_descriptions()
        shared = []
        for name in self._conn.get_cipher_list():
            entry = known.get(name)
            if entry is not None and entry["id"] & 0xFFFF in self._offered:
                shared.append((name, entry["protocol"], entry["strength_bits"]))
        return shared

    def version(self) -> str | None:
        return self._conn.get_protocol_version_name() if self._handshake_done else None

    def selected_alpn_protocol(self) -> str | None:
        protocol = self._conn.get_alpn_proto_negotiated()
        return protocol.decode("ascii") if protocol else None

    def verify_client_post_handshake(self) -> None:
        raise self._context._unsupported("post-handshake authentication", "pyOpenSSL has no API for it")

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """RFC 5929 tls-unique: the first Finished message of the handshake, as the stdlib computes it."""
        if cb_type not in ssl.CHANNEL_BINDING_TYPES:
            raise ValueError(f"{cb_type} channel binding type not implemented")
        if self.session_reused ^ (not self._server_side):
            return self._conn.get_finished()
        return self._conn.get_peer_finished()

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 / RFC 8446 7.5 exporter (``context=None`` is "no context", distinct from ``b""``)."""
        if not self._handshake_done:
            raise ValueError("handshake not done yet")
        return self._conn.export_keying_material(label, length, context)

    def group(self) -> str | None:
        """The negotiated key-exchange group by OpenSSL's name (``x25519``, ``X25519MLKEM768``, ...)."""
        return self._conn.get_group_name() if self._handshake_done else None


@functools.lru_cache(maxsize=1024)
def _openssl_certificate(certificate: x509.Certificate) -> crypto.X509:
    """``certificate`` as OpenSSL's ``X509``, converted once per DER encoding (certificates hash and compare
    by it) and shared by every context's store: an ``X509`` is reference-counted and not changed by being
    trusted, so contexts that load the same trust store do not convert ~150 roots each."""
    return crypto.X509.from_cryptography(certificate)


def _der(chain: list[x509.Certificate]) -> list[bytes]:
    return [certificate.public_bytes(serialization.Encoding.DER) for certificate in chain]


# -- the context ---------------------------------------------------------------------------------------------


def capabilities() -> list[Capability]:
    """What this build does: the SNI callback needs ``SNI_ALERTS``; OpenSSL 3.5+ adds X25519MLKEM768."""
    declared = [
        Capability.TLSv1_2, Capability.TLSv1_3, Capability.ALPN, Capability.CLIENT_AUTH, Capability.CLIENT_CERT,
        Capability.VERIFY_DIAGNOSTICS, Capability.TRUSTED_CA_LEAF, Capability.HELLO_RETRY_REQUEST,
        Capability.BIO_TRAILING_DATA, Capability.SESSION_RESUMPTION,
        Capability.KEYLOG, Capability.CHANNEL_BINDING, Capability.SET_CIPHERS, Capability.EXPORTER,
        Capability.KEY_RSA, Capability.KEY_RSA_PSS, Capability.KEY_ECDSA, Capability.KEY_ED25519,
        Capability.GROUP_X25519, Capability.GROUP_SECP256R1, Capability.GROUP_SECP384R1,
    ]
    if SNI_ALERTS:
        declared.append(Capability.SNI_CALLBACK)
    if SSL.OPENSSL_VERSION_NUMBER >= 0x30500000:
        declared.append(Capability.GROUP_X25519MLKEM768)
    return declared


def _select_alpn(conn: SSL.Connection, offered: list[bytes]) -> bytes:
    """The server's choice: the first protocol of the connection's settings that the client offered; no
    overlap means no ALPN."""
    chosen = errors.select_alpn(_owner(conn)._settings.alpn_protocols, offered)
    return SSL.NO_OVERLAPPING_PROTOCOLS if chosen is None else chosen  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class PyOpenSSLSettings(Settings):
    """The common settings and the one curve ``set_groups`` selected (``None``: OpenSSL's default groups)."""

    curve: ec.EllipticCurve | None


class PyOpenSSLContext(Context):
    """A tlsapi context whose engine is pyOpenSSL (the OpenSSL bundled with ``cryptography``)."""

    sslobject_class = PyOpenSSLConnection
    #: ``ssl.VerifyFlags`` are OpenSSL's ``X509_V_FLAG_*`` bits, given to the store as they are.
    #: ``VERIFY_X509_TRUSTED_FIRST`` is always in force (OpenSSL 1.1+ cannot turn it off), as in the stdlib.
    honoured_verify_flags = OPENSSL_VERIFY_FLAGS
    honoured_options = Context.honoured_options | OP_LEGACY_SERVER_CONNECT  # OpenSSL's own

    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self._curve: ec.EllipticCurve | None = None
        self._keylog_lock = threading.Lock()
        self._built: tuple[Settings, SSL.Context] | None = None
        self._checks_common_name = OPENSSL_HOST_CHECK  # ssl's default where OpenSSL checks the host

    # -- building the OpenSSL context ------------------------------------------------------------------

    def _take_settings(self) -> PyOpenSSLSettings:
        return PyOpenSSLSettings(**self._settings_fields(), curve=self._curve)

    def _openssl_context(self) -> SSL.Context:
        """The ``OpenSSL.SSL.Context`` for the current configuration."""
        return self._openssl_context_for(self.settings())

    def _openssl_context_for(self, settings: Settings) -> SSL.Context:
        """The ``OpenSSL.SSL.Context`` built from ``settings``: the one built last if its snapshot is equal
        (pyOpenSSL freezes a context once a connection used it, so a change means a new one)."""
        built = self._built
        if built is None or (built[0] is not settings and built[0] != settings):
            built = self._built = (settings, self._build(settings))
        return built[1]

    def _build(self, settings: Settings) -> SSL.Context:
        assert isinstance(settings, PyOpenSSLSettings)  # what _take_settings makes
        if settings.is_client or settings.is_server:
            ctx = SSL.Context(SSL.TLS_CLIENT_METHOD if settings.is_client else SSL.TLS_SERVER_METHOD)
        else:  # the deprecated PROTOCOL_TLS: either side
            ctx = SSL.Context(SSL.TLS_METHOD)
        versions = [_VERSIONS[version] for version in settings.versions]
        if versions:
            ctx.set_min_proto_version(min(versions))
            ctx.set_max_proto_version(max(versions))
        else:  # nothing enabled: OpenSSL fails the handshake with NO_PROTOCOLS_AVAILABLE, as the stdlib
            ctx.set_options(SSL.OP_NO_TLSv1_2 | SSL.OP_NO_TLSv1_3)
        options = 0
        for option, value in _OPTIONS.items():
            if settings.options & option == option:
                options |= value
        ctx.set_options(options)
        ctx.set_cipher_list((settings.ciphers or DEFAULT_CIPHERS).encode("ascii"))
        if settings.curve is not None:
            ctx.set_tmp_ecdh(settings.curve)
        ctx.set_verify(_VERIFY_MODES[settings.verify_mode], _verify_callback)
        store = ctx.get_cert_store()
        assert store is not None  # every SSL_CTX has one
        for anchor in settings.trust_anchors:
            store.add_cert(_openssl_certificate(anchor))
        for crl in settings.crls:
            store.add_crl(crl)
        if settings.verify_flags:
            store.set_flags(int(settings.verify_flags))
        intermediates: list[x509.Certificate] = []
        for chain in settings.cert_chains:
            ctx.use_certificate(chain.leaf)
            ctx.use_privatekey(chain.key)
            intermediates += [c for c in chain.certificates[1:] if c not in intermediates]
        for certificate in intermediates:  # pyOpenSSL has no per-certificate chain: each leaf is sent with all
            ctx.add_extra_chain_cert(certificate)
        if settings.alpn_protocols:
            if not settings.is_server:
                ctx.set_alpn_protos(list(settings.alpn_protocols))
            if not settings.is_client:
                ctx.set_alpn_select_callback(_select_alpn)
        if settings.sni_callback is not None:  # set only with Capability.SNI_CALLBACK, hence SNI_ALERTS
            lib.SSL_CTX_set_tlsext_servername_callback(ctx._context, _SERVERNAME_CALLBACK)
        if settings.keylog_filename is not None:
            ctx.set_keylog_callback(self._log_key)
        return ctx

    def _log_key(self, conn: SSL.Connection, line: bytes) -> None:
        filename = _owner(conn)._settings.keylog_filename
        if filename is None:
            return
        with self._keylog_lock, open(filename, "ab") as handle:
            handle.write(line + b"\n")

    # -- what pyOpenSSL adds beyond the common configuration -------------------------------------------------

    @property
    def hostname_checks_common_name(self) -> bool:
        """Whether a leaf without DNS names is matched on its subject CN (OpenSSL's fallback, as the stdlib
        does when ``True``). ``True`` by default, as in ``ssl``, where OpenSSL's own host check is bound;
        without it ``False``, and ``True`` is refused."""
        return self._checks_common_name

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None:
        if value and not OPENSSL_HOST_CHECK:
            raise self._unsupported("hostname checks against the subject common name",
                                    "service_identity matches the subjectAltName only")
        self._checks_common_name = bool(value)
        self._settings_changed()

    def set_ciphers(self, cipherlist: str) -> None:
        """The TLS 1.2 suites, as an OpenSSL cipher string (TLS 1.3 suites are not affected)."""
        try:
            SSL.Context(SSL.TLS_METHOD).set_cipher_list(cipherlist.encode("ascii"))
        except SSL.Error:
            raise errors.SSLError("No cipher can be selected.") from None
        self._ciphers = cipherlist
        self._settings_changed()

    def get_ciphers(self) -> list[dict[str, Any]]:  # type: ignore[override]  # typeshed's TypedDict
        """The enabled suites in preference order, as the stdlib's dicts (TLS 1.3 suites first)."""
        names = SSL.Connection(self._openssl_context(), None).get_cipher_list()
        known = _cipher_descriptions()
        return [known.get(name, {"name": name}) for name in names]

    def set_groups(self, names: list[str]) -> None:
        """Restrict key exchange to one NIST curve (``'secp256r1'``, ``'secp384r1'``).

        pyOpenSSL can select a single elliptic curve only (``set_tmp_ecdh``); anything else raises
        :class:`tlsapi.UnsupportedFeatureError`.
        """
        if len(names) != 1:
            raise self._unsupported("selecting several key-exchange groups", "pyOpenSSL has set_tmp_ecdh only")
        if names[0] not in _CURVES:
            raise self._unsupported(f"selecting the key-exchange group {names[0]!r}",
                                    "pyOpenSSL's set_tmp_ecdh takes a NIST curve")
        self._curve = _CURVES[names[0]]
        self._settings_changed()

    def set_ecdh_curve(self, name: str) -> None:
        """The stdlib's spelling of a one-group :meth:`set_groups` (OpenSSL names, e.g. ``prime256v1``)."""
        self.set_groups(["secp256r1" if name == "prime256v1" else name])

    @property
    def num_tickets(self) -> int:
        return self._num_tickets

    @num_tickets.setter
    def num_tickets(self, value: int) -> None:
        if isinstance(value, int) and value >= 0 and not self.is_client and value != DEFAULT_NUM_TICKETS:
            raise self._unsupported("changing num_tickets", "pyOpenSSL always sends OpenSSL's 2 tickets")
        Context.num_tickets.fset(self, value)  # type: ignore[attr-defined]


_descriptions: dict[str, dict[str, Any]] | None = None


def _cipher_descriptions() -> dict[str, dict[str, Any]]:
    """The stdlib's description of every suite OpenSSL knows, by name (static facts of each suite)."""
    global _descriptions
    if _descriptions is None:
        reference = _ssl._SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # OpenSSL's, also while injected into ssl
        reference.set_ciphers("ALL:@SECLEVEL=0")
        _descriptions = {entry["name"]: dict(entry) for entry in reference.get_ciphers()}
    return _descriptions


PyOpenSSLContext.backend = BACKEND
