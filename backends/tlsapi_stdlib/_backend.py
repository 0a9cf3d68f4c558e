"""The stdlib backend: tlsapi over CPython's ``ssl`` module (and the OpenSSL it links).

A :class:`StdlibContext` *is* an ``ssl.SSLContext`` underneath, and this backend deliberately routes every
setting to that OpenSSL context: the base class keeps the Python-side view (for the interface's
validation) and its :class:`~tlsapi.spi.Settings` snapshot, and :meth:`StdlibContext._push` writes each new
snapshot's differences into OpenSSL when the setter runs. Certificates, trust material, CRLs, cipher and
group selection and the PSK callbacks go straight to OpenSSL (they are not in the snapshot), so nothing is
loaded twice and password callbacks run once. Which settings reach a connection already made is therefore
exactly as in ``ssl``: OpenSSL copies most of them at ``SSL_new``, but keeps reading the trust store, the
cipher list, a server's ALPN choice and the SNI callback from the context. Connections are
``_ssl._SSLSocket`` objects created with our :class:`StdlibConnection` as their owner, so the SNI callback
receives the tlsapi connection and may switch its context. Every ``ssl`` exception is re-raised as the
tlsapi class of the same name with the same ``args``, ``errno``, ``library``, ``reason`` and verify
fields.
"""

from __future__ import annotations

import _ssl
import functools
import os
import ssl
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import tlsapi.spi as errors
from tlsapi import TLSSocket
from tlsapi.spi import OP_LEGACY_SERVER_CONNECT, OPENSSL_VERIFY_FLAGS, Connection, Context, Password, Settings, StrPath

if TYPE_CHECKING:
    from typing import Self

    from tlsapi.spi import BIO

P = ParamSpec("P")
R = TypeVar("R")

# The C base class of ssl.SSLContext, whose descriptors this backend calls directly (typeshed models them as
# plain attributes).
_OPENSSL: Any = _ssl._SSLContext

#: Bound once: the Connection's methods translate errors with these.
_from_ssl = errors.from_ssl
_SSLWantReadError = ssl.SSLWantReadError
_TLSAPIWantReadError = errors.SSLWantReadError
_handled = sys.exception  # the exception being handled, without ``except ... as`` and its cleanup handler

_GROUPS_BY_NAME = {"x25519": "X25519", "secp256r1": "prime256v1", "secp384r1": "secp384r1",
                   "secp521r1": "secp521r1", "x448": "X448"}


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise any ``ssl.SSLError`` inside the block as its tlsapi counterpart."""
    try:
        yield
    except ssl.SSLError as exc:
        raise _from_ssl(exc) from None


def _translating(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    return wrapper


class StdlibConnection(Connection):
    """An ``ssl.SSLObject`` equivalent whose errors are tlsapi's.

    ``read`` and ``do_handshake`` raise want-read in the normal course (asyncio's SSL protocol after every
    received chunk, every handshake step), so they handle it first and most cheaply: the object ``_ssl``
    raised is re-classed in place (``from_ssl``'s reasoning) and re-raised as it is, ``__cause__``,
    ``__context__`` and ``__suppress_context__`` included, as plain ``ssl`` leaves them. Other errors go
    through ``from_ssl``.
    """

    _sslobj: Any
    _context: StdlibContext

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
        assert isinstance(context, StdlibContext)  # Context.wrap_bio dispatches on the class
        return cls._made(context, lambda owner: _OPENSSL._wrap_bio(
            context, incoming, outgoing, server_side=server_side, server_hostname=server_hostname, owner=owner,
            session=session,
        ))

    @classmethod
    def _over_socket(
        cls, context: StdlibContext, sock: StdlibSocket, server_side: bool, server_hostname: str | None,
        session: Any,
    ) -> StdlibConnection:
        """A connection whose OpenSSL reads and writes ``sock`` itself, as under an ``ssl.SSLSocket``
        (``_ssl``'s socket mode: blocking, timeouts and non-blocking want-errors are ``_ssl``'s own)."""
        return cls._made(context, lambda owner: _OPENSSL._wrap_socket(
            context, sock, server_side, server_hostname, owner=owner, session=session,
        ))

    @classmethod
    def _made(cls, context: StdlibContext, wrap: Callable[[StdlibConnection], Any]) -> Self:
        """A connection of ``context`` over the ``_ssl`` object that ``wrap(connection)`` makes (``_ssl`` keeps
        the connection as its owner). ``Context.settings()`` is inlined (the snapshot is always taken:
        _push_settings takes it per change), and there is no _server_side / _server_hostname, which the
        properties below read from OpenSSL: the fewest steps per connection over ssl's own. Not
        ``translated()``: a generator-based context manager costs more than the wrap itself."""
        self = cls.__new__(cls)
        self._context = context
        self._settings = context._settings or context.settings()
        try:
            self._sslobj = wrap(self)
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None
        return self

    def _switch_context(self, context: Context) -> None:
        if not isinstance(context, StdlibContext):
            raise TypeError("the SNI callback may switch only to another stdlib-backend context")
        self._sslobj.context = context

    @property
    def server_side(self) -> bool:
        return bool(self._sslobj.server_side)

    @property
    def server_hostname(self) -> str | None:
        name: str | None = self._sslobj.server_hostname
        return name

    @property
    def session(self) -> Any:
        return self._sslobj.session

    @session.setter
    def session(self, session: Any) -> None:
        with translated():
            self._sslobj.session = session

    @property
    def session_reused(self) -> bool:
        return bool(self._sslobj.session_reused)

    def do_handshake(self) -> None:
        try:
            self._sslobj.do_handshake()
        except _SSLWantReadError:
            _handled().__class__ = _TLSAPIWantReadError  # the object _ssl raised, being handled
            raise
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        try:
            if buffer is not None:
                return self._sslobj.read(len, buffer)
            return self._sslobj.read(len)
        except _SSLWantReadError:
            _handled().__class__ = _TLSAPIWantReadError  # the object _ssl raised, being handled
            raise
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    def write(self, data: Any) -> int:
        try:
            written: int = self._sslobj.write(data)
            return written
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    def pending(self) -> int:
        count: int = self._sslobj.pending()
        return count

    def unwrap(self) -> None:
        try:
            self._sslobj.shutdown()
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    def getpeercert(self, binary_form: bool = False) -> Any:
        try:  # asyncio asks on every handshake: no generator-based context manager here
            return self._sslobj.getpeercert(binary_form)
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    def get_verified_chain(self) -> list[bytes]:
        return [cert.public_bytes(_ssl.ENCODING_DER) for cert in self._sslobj.get_verified_chain() or ()]

    def get_unverified_chain(self) -> list[bytes]:
        return [cert.public_bytes(_ssl.ENCODING_DER) for cert in self._sslobj.get_unverified_chain() or ()]

    def cipher(self) -> tuple[str, str, int] | None:
        result: tuple[str, str, int] | None = self._sslobj.cipher()
        return result

    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        result: list[tuple[str, str, int]] | None = self._sslobj.shared_ciphers()
        return result

    def version(self) -> str | None:
        result: str | None = self._sslobj.version()
        return result

    def selected_alpn_protocol(self) -> str | None:
        result: str | None = self._sslobj.selected_alpn_protocol()
        return result

    def verify_client_post_handshake(self) -> None:
        with translated():
            self._sslobj.verify_client_post_handshake()

    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        if cb_type not in ssl.CHANNEL_BINDING_TYPES:
            raise ValueError(f"{cb_type} channel binding type not implemented")
        result: bytes | None = self._sslobj.get_channel_binding(cb_type)
        return result


class StdlibSocket(TLSSocket):
    """The stdlib backend's ``TLSSocket``: its Connection's OpenSSL does the socket I/O, as ``ssl.SSLSocket``'s.

    ``TLSSocket`` runs any backend's Connection over two memory BIOs and moves the bytes between them and the
    socket in Python. OpenSSL can read and write the socket itself (``_ssl``'s socket mode, which
    ``ssl.SSLSocket`` uses), so here ``read``, ``write``, ``send``, ``sendall``, ``unwrap`` and the
    handshake step are ``ssl.SSLSocket``'s, with the errors translated:
    a blocking ``recv`` waits inside OpenSSL, and blocking, timeouts (``TimeoutError``, "The read operation
    timed out"), non-blocking want-errors, ragged EOFs and socket errors are exactly ``ssl``'s. Everything
    else (connecting, closing, inspection, the SNI callback's Connection) is ``TLSSocket``'s. A stdlib-style
    ``sslsocket_class`` set on the context is combined with ``TLSSocket`` and runs over memory BIOs.
    """

    _sslobj: StdlibConnection | None  # this backend's Connection

    def _attach(self) -> None:
        self._sslobj = StdlibConnection._over_socket(
            self._context, self, self.server_side, self.server_hostname, self._session,  # type: ignore[arg-type]
        )

    def _handshake(self, connection: Connection) -> None:
        connection.do_handshake()  # OpenSSL sends and receives; no flight is left to send

    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """``ssl.SSLSocket.read``: a ragged EOF is ``b""`` (``0`` into a buffer) with ``suppress_ragged_eofs``."""
        connection = self._sslobj
        if connection is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        try:
            if buffer is not None:
                return connection._sslobj.read(len, buffer)
            return connection._sslobj.read(len)
        except _SSLWantReadError:  # a non-blocking socket with nothing received
            _handled().__class__ = _TLSAPIWantReadError  # the object _ssl raised, being handled
            raise
        except ssl.SSLError as exc:
            if exc.args[0] == ssl.SSL_ERROR_EOF and self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise _from_ssl(exc) from None

    def write(self, data: Any) -> int:
        connection = self._sslobj
        if connection is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        try:
            written: int = connection._sslobj.write(data)
            return written
        except ssl.SSLError as exc:
            raise _from_ssl(exc) from None

    def send(self, data: Any, flags: int = 0) -> int:
        if self._sslobj is None or flags:
            return super().send(data, flags)  # the plain socket's, or the error for flags
        return self.write(data)

    def sendall(self, data: Any, flags: int = 0) -> None:
        if self._sslobj is None or flags:
            super().sendall(data, flags)  # the plain socket's, or the error for flags
            return
        with memoryview(data) as view, view.cast("B") as payload:
            amount, count = len(payload), 0
            while count < amount:
                count += self.write(payload[count:])

    def unwrap(self) -> StdlibSocket:
        """Exchange close_notify with the peer; the socket then carries plaintext."""
        self._connection().unwrap()
        self._sslobj = None
        return self


def _capabilities() -> list[Any]:
    from tlsapi import Capability as C

    declared = [C.ALPN, C.SNI_CALLBACK, C.CLIENT_AUTH, C.CLIENT_CERT, C.VERIFY_DIAGNOSTICS, C.TRUSTED_CA_LEAF,
                C.BIO_TRAILING_DATA, C.SESSION_RESUMPTION, C.KEYLOG, C.CHANNEL_BINDING, C.SET_CIPHERS, C.KEY_RSA,
                C.KEY_RSA_PSS, C.KEY_ECDSA, C.KEY_ED25519, C.GROUP_X25519, C.GROUP_SECP256R1, C.GROUP_SECP384R1]
    if ssl.HAS_TLSv1_2:
        declared.append(C.TLSv1_2)
    if ssl.HAS_TLSv1_3:
        declared += [C.TLSv1_3, C.POST_HANDSHAKE_AUTH, C.HELLO_RETRY_REQUEST]
    return declared


class StdlibContext(Context):
    """A tlsapi context whose protocol engine is the stdlib's OpenSSL."""

    sslobject_class = StdlibConnection
    honoured_verify_flags = OPENSSL_VERIFY_FLAGS  # OpenSSL enforces every flag ssl has
    honoured_options = Context.honoured_options | OP_LEGACY_SERVER_CONNECT  # OpenSSL's own
    _chosen_socket_class: type[ssl.SSLSocket] | None = None  # one assigned to ``sslsocket_class``

    @property
    def sslsocket_class(self) -> type[ssl.SSLSocket]:
        """The class ``wrap_socket`` makes: one assigned here (as on any context), else :class:`StdlibSocket`
        while the Connection class is this backend's own. A Connection class of one's own
        (``sslobject_class``, set on the context or in a subclass) runs, as under every backend, in a
        ``TLSSocket`` over memory BIOs: ``StdlibSocket`` would bypass it."""
        if self._chosen_socket_class is not None:
            return self._chosen_socket_class
        return StdlibSocket if self.sslobject_class is StdlibConnection else TLSSocket

    @sslsocket_class.setter
    def sslsocket_class(self, chosen: type[ssl.SSLSocket]) -> None:
        self._chosen_socket_class = chosen

    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        self._pushed: Settings | None = None
        self._push_settings()

    def _settings_changed(self) -> None:
        """Every change reaches OpenSSL at once, as with ``ssl``: OpenSSL copies most settings into each
        connection when it is made (``SSL_new``), and keeps reading the others (trust store, cipher list, a
        server's ALPN choice, the SNI callback) from this context, exactly as for a plain ``ssl`` context."""
        super()._settings_changed()
        self._push_settings()

    def _push_settings(self) -> None:
        """Write the snapshot into the OpenSSL context where it differs from the one written before."""
        current = self.settings()
        self._push(self._pushed, current)
        self._pushed = current

    def _push(self, previous: Settings | None, current: Settings) -> None:
        """Make OpenSSL's context say what ``current`` says where ``previous`` said otherwise. ``previous`` is
        ``None`` for a new OpenSSL context, which agrees with a new tlsapi context except on verification,
        versions, options and verify flags."""
        base = _OPENSSL
        with translated():
            if previous is None or (previous.verify_mode, previous.check_hostname) != (
                current.verify_mode, current.check_hostname
            ):
                base.check_hostname.__set__(self, False)
                base.verify_mode.__set__(self, current.verify_mode)
                base.check_hostname.__set__(self, current.check_hostname)
            # A one-version method (PROTOCOL_TLSv1_2) has its bounds fixed by OpenSSL, which refuses to set them.
            if self.protocol != ssl.PROTOCOL_TLSv1_2 and (
                previous is None
                or (previous.minimum_version, previous.maximum_version)
                != (current.minimum_version, current.maximum_version)
            ):
                base.minimum_version.__set__(self, int(current.minimum_version))
                base.maximum_version.__set__(self, int(current.maximum_version))
            if previous is None or previous.options != current.options:
                with warnings.catch_warnings():  # the interface warned from the caller's line
                    warnings.simplefilter("ignore", DeprecationWarning)
                    base.options.__set__(self, int(current.options))
            if previous is None or previous.verify_flags != current.verify_flags:
                base.verify_flags.__set__(self, int(current.verify_flags))
            if previous is None:
                return
            if previous.post_handshake_auth != current.post_handshake_auth:
                base.post_handshake_auth.__set__(self, current.post_handshake_auth)
            if previous.keylog_filename != current.keylog_filename:
                base.keylog_filename.__set__(self, current.keylog_filename)
            if previous.num_tickets != current.num_tickets:
                base.num_tickets.__set__(self, current.num_tickets)
            if previous.sni_callback is not current.sni_callback:
                base.sni_callback.__set__(self, current.sni_callback)
            if previous.alpn_protocols != current.alpn_protocols:
                base._set_alpn_protocols(self, b"".join(bytes([len(p)]) + p for p in current.alpn_protocols))

    # Routed to OpenSSL: certificate material, cipher and group selection, introspection.

    @_translating
    def load_cert_chain(
        self,
        certfile: StrPath,
        keyfile: StrPath | None = None,
        password: Password = None,
    ) -> None:
        _OPENSSL.load_cert_chain(self, certfile, keyfile, password)

    @_translating
    def load_verify_locations(  # type: ignore[override]
        self,
        cafile: StrPath | None = None,
        capath: StrPath | None = None,
        cadata: str | bytes | None = None,
    ) -> None:
        _OPENSSL.load_verify_locations(self, cafile, capath, cadata)

    @_translating
    def set_default_verify_paths(self) -> None:
        _OPENSSL.set_default_verify_paths(self)
        # The directory test first: counting the store's ~150 certificates costs more than a stat.
        if not os.path.isdir(ssl.get_default_verify_paths().capath or "") and not _OPENSSL.cert_store_stats(
            self
        )["x509_ca"]:
            import certifi

            _OPENSSL.load_verify_locations(self, certifi.where())

    @_translating
    def load_dh_params(self, path: StrPath) -> None:
        _OPENSSL.load_dh_params(self, path)

    @_translating
    def set_ecdh_curve(self, name: str) -> None:
        _OPENSSL.set_ecdh_curve(self, name)

    def set_groups(self, names: list[str]) -> None:
        """Restrict key exchange to one group (``'x25519'``, ``'secp256r1'``, ``'secp384r1'``).

        The stdlib can select a single group only (``set_ecdh_curve``); several raise
        :class:`tlsapi.UnsupportedFeatureError`.
        """
        if len(names) != 1:
            raise self._unsupported("selecting several key-exchange groups", "ssl has set_ecdh_curve only")
        if names[0] not in _GROUPS_BY_NAME:
            raise self._unsupported(f"the key-exchange group {names[0]!r}")
        self.set_ecdh_curve(_GROUPS_BY_NAME[names[0]])

    if hasattr(ssl.SSLContext, "set_psk_client_callback"):  # Python 3.13+: OpenSSL's PSK, as ssl

        @_translating
        def set_psk_client_callback(self, callback: Any) -> None:
            _OPENSSL.set_psk_client_callback(self, callback)

        @_translating
        def set_psk_server_callback(self, callback: Any, identity_hint: str | None = None) -> None:
            _OPENSSL.set_psk_server_callback(self, callback, identity_hint)

    @_translating
    def set_ciphers(self, cipherlist: str) -> None:
        _OPENSSL.set_ciphers(self, cipherlist)

    def get_ciphers(self) -> list[dict[str, Any]]:  # type: ignore[override]
        result: list[dict[str, Any]] = _OPENSSL.get_ciphers(self)
        return result

    def get_ca_certs(self, binary_form: bool = False) -> list[Any]:
        result: list[Any] = _OPENSSL.get_ca_certs(self, binary_form)
        return result

    def cert_store_stats(self) -> dict[str, int]:
        result: dict[str, int] = _OPENSSL.cert_store_stats(self)
        return result

    def session_stats(self) -> dict[str, int]:
        result: dict[str, int] = _OPENSSL.session_stats(self)
        return result

    @property
    def security_level(self) -> int:  # type: ignore[override]
        level: int = _OPENSSL.security_level.__get__(self)
        return level

    @property
    def hostname_checks_common_name(self) -> bool:
        """Whether a leaf without DNS names in its subjectAltName is matched on its subject CN (OpenSSL's
        fallback, the stdlib's default ``True``): the inverse of ``X509_CHECK_FLAG_NEVER_CHECK_SUBJECT``."""
        flags: int = _OPENSSL._host_flags.__get__(self)
        return not flags & _ssl.HOSTFLAG_NEVER_CHECK_SUBJECT

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None:
        # The flag is NEVER_CHECK_SUBJECT (0x20); 0x4 is NO_PARTIAL_WILDCARDS, which must stay set.
        flags = _OPENSSL._host_flags.__get__(self)
        never = _ssl.HOSTFLAG_NEVER_CHECK_SUBJECT
        _OPENSSL._host_flags.__set__(self, flags & ~never if value else flags | never)
        self._settings_changed()
