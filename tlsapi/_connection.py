"""``Connection``: TLS over two memory BIOs, with :class:`ssl.SSLObject` semantics.

This is the whole service provider interface of a backend: the socket and asyncio layers are written once,
over it. The caller writes the bytes received from the peer into ``incoming`` and sends whatever appears in
``outgoing``. An operation that cannot finish raises ``SSLWantReadError`` (feed ``incoming`` and retry) or
``SSLWantWriteError`` (drain ``outgoing`` and retry), both with the stdlib's ``errno``.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from ._errors import UnsupportedFeatureError

if TYPE_CHECKING:
    from typing import Self

    from ._bio import BIO
    from ._context import Context
    from ._enums import ECHStatus
    from ._settings import Settings


class Connection(abc.ABC):
    """One TLS connection, client or server, driven through memory BIOs."""

    @classmethod
    @abc.abstractmethod
    def _create(
        cls,
        context: Context,
        incoming: BIO,
        outgoing: BIO,
        server_side: bool,
        server_hostname: str | None,
        session: Any,
    ) -> Self:
        """Make a connection; ``Context.wrap_bio`` has validated the arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            f"{type(self).__name__} does not have a public constructor. "
            "Instances are returned by Context.wrap_bio()."
        )

    # -- identity -----------------------------------------------------------------------------------
    # The standard attributes, set by ``_new``; a backend that keeps them elsewhere overrides the properties.

    _context: Context
    _settings: Settings
    _server_side: bool
    _server_hostname: str | None

    @classmethod
    def _new(cls, context: Context, server_side: bool, server_hostname: str | None) -> Self:
        """A bare instance with the standard attributes set, for ``_create`` to complete: among them the
        context's :meth:`~Context.settings` snapshot (``wrap_bio`` / ``wrap_socket`` call ``_create`` at once,
        so this is the configuration at wrap time)."""
        self = cls.__new__(cls)
        self._context = context
        self._settings = context.settings()
        self._server_side = server_side
        self._server_hostname = server_hostname
        return self

    @property
    def settings(self) -> Settings:
        """The configuration this connection is built from: its context's snapshot at wrap time, or the
        snapshot of the context the SNI callback switched it to. Later changes to a context do not reach it."""
        return self._settings

    @property
    def context(self) -> Context:
        """The context in use; the SNI callback may assign another context of the same backend."""
        return self._context

    @context.setter
    def context(self, context: Context) -> None:
        """The SNI callback's switch: the connection continues with ``context``'s current snapshot."""
        self._switch_context(context)
        self._context = context
        self._settings = context.settings()

    def _switch_context(self, context: Context) -> None:
        """Check ``context`` (``TypeError`` unless it is of this backend) and move onto it what must follow."""
        raise UnsupportedFeatureError(self.context.backend.name, "switching contexts")

    @property
    def server_side(self) -> bool:
        """Whether this is the server end."""
        return self._server_side

    @property
    def server_hostname(self) -> str | None:
        """The hostname given to ``wrap_bio`` (client side), used for SNI and verification."""
        return self._server_hostname

    @property
    @abc.abstractmethod
    def session(self) -> Any:
        """The session to resume (before the handshake) or the established one (after)."""

    @session.setter
    @abc.abstractmethod
    def session(self, session: Any) -> None: ...

    @property
    @abc.abstractmethod
    def session_reused(self) -> bool:
        """Whether the handshake resumed a session."""

    def _check_session(self, session: Any, session_class: type[Any], started: bool) -> None:
        """The ``session`` setter's checks, in the stdlib's order and words (the session has ``belongs_to``)."""
        if not isinstance(session, session_class):
            raise TypeError("Value is not a SSLSession.")
        if not session.belongs_to(self._context):
            raise ValueError("Session refers to a different SSLContext.")
        if self._server_side:
            raise ValueError("Cannot set session for server-side SSLSocket.")
        if started:
            raise ValueError("Cannot set session after handshake.")

    # -- I/O ----------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def do_handshake(self) -> None:
        """Advance the handshake; returns once it is complete, else raises a want-error."""

    @abc.abstractmethod
    def read(self, len: int = 1024, buffer: Any = None) -> Any:
        """Up to ``len`` bytes of plaintext (or fill ``buffer`` and return the count).

        At most one record's plaintext is returned at a time. After the peer's close_notify this returns
        ``b""`` (0 with ``buffer``), as ``ssl.SSLObject`` does, and raises ``SSLZeroReturnError`` once we
        have sent ours too; after a transport EOF without close_notify, ``SSLEOFError``.
        """

    @abc.abstractmethod
    def write(self, data: Any) -> int:
        """Encrypt all of ``data`` into ``outgoing`` and return its length."""

    @abc.abstractmethod
    def pending(self) -> int:
        """Decrypted bytes buffered and ready for ``read``."""

    @abc.abstractmethod
    def unwrap(self) -> None:
        """Send close_notify and wait for the peer's; raises want-read until it arrives."""

    # -- inspection ---------------------------------------------------------------------------------------

    @abc.abstractmethod
    def getpeercert(self, binary_form: bool = False) -> Any:
        """The peer's certificate: the stdlib-shaped dict (empty unless verified), or DER bytes."""

    @abc.abstractmethod
    def get_verified_chain(self) -> list[bytes]:
        """The verified chain, leaf first, as DER."""

    @abc.abstractmethod
    def get_unverified_chain(self) -> list[bytes]:
        """The chain as the peer sent it, as DER."""

    @abc.abstractmethod
    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, protocol, secret_bits)`` of the negotiated suite, ``None`` before the handshake."""

    @abc.abstractmethod
    def shared_ciphers(self) -> list[tuple[str, str, int]] | None:
        """The suites both sides offered (server side), as ``cipher()`` tuples."""

    @abc.abstractmethod
    def version(self) -> str | None:
        """``'TLSv1.3'`` or ``'TLSv1.2'`` once negotiated, else ``None``."""

    @abc.abstractmethod
    def selected_alpn_protocol(self) -> str | None:
        """The negotiated ALPN protocol, or ``None``."""

    @abc.abstractmethod
    def verify_client_post_handshake(self) -> None:
        """Server side, TLS 1.3: request the client's certificate now (needs ``post_handshake_auth``)."""

    @abc.abstractmethod
    def get_channel_binding(self, cb_type: str = "tls-unique") -> bytes | None:
        """Channel-binding data of the given type, ``None`` if not available yet."""

    def compression(self) -> str | None:
        """Always ``None``: TLS compression is never negotiated."""
        return None

    def selected_npn_protocol(self) -> str | None:
        """Always ``None``: NPN is not supported."""
        return None

    def export_keying_material(self, label: bytes, context: bytes | None, length: int) -> bytes:
        """RFC 5705 / RFC 8446 7.5 keying material exporter."""
        raise UnsupportedFeatureError(self.context.backend.name, "the keying material exporter")

    def key_update(self, request_peer: bool = True) -> None:
        """TLS 1.3: send a KeyUpdate now (new write keys), asking the peer to update too if ``request_peer``.

        ``ValueError`` unless a TLS 1.3 connection is established and open.
        """
        raise UnsupportedFeatureError(self.context.backend.name, "KeyUpdate")

    def group(self) -> str | None:
        """The negotiated key-exchange group (``'x25519'``, ``'X25519MLKEM768'``, ...), if known."""
        raise UnsupportedFeatureError(self.context.backend.name, "reporting the negotiated group")

    def ech_status(self) -> ECHStatus:
        """What became of Encrypted Client Hello on this connection (:class:`ECHStatus`), so far."""
        raise UnsupportedFeatureError(self.context.backend.name, "reporting Encrypted Client Hello")


_COMBINED_CONNECTION_CLASSES: dict[tuple[type[Any], type[Connection]], type[Connection]] = {}


def connection_class_for(chosen: type[Any], implementation: type[Connection]) -> type[Connection]:
    """The class ``wrap_bio`` instantiates for a context's ``sslobject_class``.

    A ``Connection`` subclass is used as it is; an ``ssl.SSLObject`` subclass written for the stdlib is
    honoured with a class deriving from the backend's ``implementation`` and from it: the objects are
    instances of it, and the backend implements every ``SSLObject`` member (the stdlib's versions of them
    would call OpenSSL).
    """
    if issubclass(chosen, Connection):
        return chosen
    combined = _COMBINED_CONNECTION_CLASSES.get((chosen, implementation))
    if combined is None:
        combined = type(chosen.__name__, (implementation, chosen), {"__module__": chosen.__module__})
        _COMBINED_CONNECTION_CLASSES[chosen, implementation] = combined
    return combined
