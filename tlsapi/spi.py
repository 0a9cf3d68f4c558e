"""``tlsapi.spi``: everything a backend implements or uses, under stable public names.

A backend is a package that registers a :class:`Backend` under the entry-point group ``tlsapi.backends``.
Its :class:`Context` subclass holds the configuration (every ``ssl.SSLContext`` member is already implemented
by the base class) and names the :class:`Connection` subclass that runs the protocol over two memory BIOs with
``ssl.SSLObject`` semantics. A first-party backend imports only ``tlsapi`` and ``tlsapi.spi``; the private
modules behind these names may move, these names do not. ``docs/backends.md`` walks through writing one.

What a backend implements (on its :class:`Connection` subclass):

- ``_create(context, incoming, outgoing, server_side, server_hostname, session) -> Self`` (classmethod): make
  the connection; ``Context.wrap_bio`` has validated the arguments (``server_hostname`` is a ``str`` or
  ``None``). Start from ``cls._new(context, server_side, server_hostname)``.
- ``do_handshake() -> None``, ``read(len=1024, buffer=None) -> bytes | int``, ``write(data) -> int``,
  ``pending() -> int``, ``unwrap() -> None``: the I/O, raising :func:`want_read` / :func:`want_write` when
  the BIOs must be serviced, :func:`zero_return` / :func:`ragged_eof` / :func:`closed_eof` at the end.
- ``getpeercert(binary_form=False) -> dict | bytes | None`` (build the dict with :func:`certificate_dict`,
  empty when the peer was not verified), ``get_verified_chain() -> list[bytes]`` and
  ``get_unverified_chain() -> list[bytes]`` (DER, leaf first), ``cipher() -> tuple[str, str, int] | None``,
  ``shared_ciphers() -> list[tuple[str, str, int]] | None``, ``version() -> str | None`` (``'TLSv1.3'``,
  ``'TLSv1.2'``), ``selected_alpn_protocol() -> str | None``, ``get_channel_binding(cb_type) -> bytes | None``,
  ``verify_client_post_handshake() -> None``, and the ``session`` property (getter and setter) and
  ``session_reused``. A member whose feature is not declared raises :class:`UnsupportedFeatureError` (or, as
  the stdlib does, returns ``None`` for ``session`` and ``False`` for ``session_reused``).
- Optional, with defaults that raise :class:`UnsupportedFeatureError`: ``group() -> str | None`` (the
  negotiated key-exchange group's IANA name), ``key_update(request_peer=True) -> None`` (capability
  ``KEY_UPDATE``), ``export_keying_material(label, context, length) -> bytes`` (``EXPORTER``), and
  ``_switch_context(context)``, which lets the SNI callback assign ``connection.context``.

What a backend reads: the :class:`Settings` snapshot of its context, ``self.settings`` on the connection
(set by ``_new`` at wrap time; the SNI callback's ``connection.context = other`` replaces it by ``other``'s):
``versions`` (newest first, after min/max and ``OP_NO_TLSv1_*``), ``options``, ``verify_mode``,
``verify_flags``, ``check_hostname``, ``hostname_checks_common_name``, ``ciphers``, ``alpn_protocols``
(``bytes``), ``cert_chain`` / ``cert_chains`` (:class:`CertChain`: ``cryptography`` certificates, leaf first,
and the private key), ``trust_anchors``, ``crls``, ``sni_callback``, ``keylog_filename``, ``num_tickets``,
``post_handshake_auth``, the PSK callbacks. A context changed after ``wrap_bio`` must not change a
connection already made: read the snapshot, never the live context, during the handshake. A backend that
builds an engine configuration (an OpenSSL ``SSL_CTX``, a rustls config) keeps it per snapshot
(``Context.settings()`` returns the same object until a setter runs). Settings of the backend's own go in a
:class:`Settings` subclass returned by ``Context._take_settings()`` (``Settings(**self._settings_fields())``
plus the extra fields); its setters call ``self._settings_changed()``. On the context, it counts
``session_stats()`` events with ``record_stat(name)``; ``_unsupported(feature, detail)`` builds the
:class:`UnsupportedFeatureError` naming the backend; ``_require(capability, feature)`` raises it unless the
capability is declared.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from typing import Any

from ._alerts import ALERT_REASONS, reason_text, received_alert_error
from ._bio import BIO, MemoryBIO
from ._certinfo import certificate_dict
from ._clienthello import GROUP_NAMES, ClientHelloInfo, peek_client_hello
from ._connection import Connection
from ._context import OP_LEGACY_SERVER_CONNECT, OPENSSL_VERIFY_FLAGS, Context
from ._enums import GROUP_CAPABILITIES, TLS13_ONLY_GROUPS, Capability
from ._errors import (
    EOF_MESSAGE,
    VERIFY_MESSAGES,
    WANT_READ_MESSAGE,
    WANT_WRITE_MESSAGE,
    X509_V_ERR_HOSTNAME_MISMATCH,
    X509_V_ERR_IP_ADDRESS_MISMATCH,
    ZERO_RETURN_MESSAGE,
    SSLCertVerificationError,
    SSLEOFError,
    SSLError,
    SSLSyscallError,
    SSLWantReadError,
    SSLWantWriteError,
    SSLZeroReturnError,
    UnsupportedFeatureError,
    closed_eof,
    from_ssl,
    make_error,
    ragged_eof,
    verification_error,
    want_read,
    want_write,
    zero_return,
)
from ._material import CertChain, Password, PrivateKey, StrPath
from ._registry import Backend
from ._settings import PSKClientCallback, PSKServerCallback, Settings, SNICallback

__all__ = [
    "ALERT_REASONS",
    "BIO",
    "EOF_MESSAGE",
    "GROUP_CAPABILITIES",
    "GROUP_NAMES",
    "OPENSSL_VERIFY_FLAGS",
    "OP_LEGACY_SERVER_CONNECT",
    "TLS13_ONLY_GROUPS",
    "VERIFY_MESSAGES",
    "WANT_READ_MESSAGE",
    "WANT_WRITE_MESSAGE",
    "X509_V_ERR_HOSTNAME_MISMATCH",
    "X509_V_ERR_IP_ADDRESS_MISMATCH",
    "ZERO_RETURN_MESSAGE",
    "Backend",
    "Capability",
    "CertChain",
    "ClientHelloInfo",
    "Connection",
    "Context",
    "MemoryBIO",
    "PSKClientCallback",
    "PSKServerCallback",
    "Password",
    "PrivateKey",
    "SNICallback",
    "SSLCertVerificationError",
    "SSLEOFError",
    "SSLError",
    "SSLSyscallError",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
    "Settings",
    "StrPath",
    "UnsupportedFeatureError",
    "certificate_dict",
    "closed_eof",
    "from_ssl",
    "make_error",
    "peek_client_hello",
    "ragged_eof",
    "reason_text",
    "received_alert_error",
    "run_sni_callback",
    "select_alpn",
    "verification_error",
    "verify_message",
    "want_read",
    "want_write",
    "zero_return",
]

_HANDSHAKE_FAILURE = 40
_INTERNAL_ERROR = 80


def verify_message(verify_code: int, hostname: str | None = None) -> str:
    """The stdlib's ``verify_message`` for an OpenSSL verify code (62 and 64 name ``hostname``)."""
    return VERIFY_MESSAGES.get(verify_code, "unknown certificate verification error").format(hostname)


def select_alpn(ours: Sequence[bytes], offered: Sequence[bytes]) -> bytes | None:
    """The server's ALPN choice as the stdlib makes it: its first protocol the client offered.

    ``None`` means no ALPN at all: with no overlap the stdlib's server answers without the extension and the
    handshake goes on (it does not send ``no_application_protocol``).
    """
    return next((protocol for protocol in ours if protocol in offered), None)


def run_sni_callback(connection: Connection, server_name: str | None) -> int | None:
    """Run the SNI callback of the connection's settings as ``_ssl.c`` does; the alert description to abort
    with, or ``None``.

    The callback gets ``(connection, server_name, context)`` and may assign ``connection.context``. It aborts
    the handshake by returning an alert number; a callback that raises, or returns something that is not an
    integer, aborts with ``handshake_failure`` / ``internal_error`` and its exception goes to
    :func:`sys.unraisablehook`, as in the stdlib.
    """
    context = connection.context
    callback = connection.settings.sni_callback
    if callback is None:
        return None
    try:
        result: Any = callback(connection, server_name, context)
    except Exception as exc:
        _unraisable(exc, callback)
        return _HANDSHAKE_FAILURE
    if result is None:
        return None
    if isinstance(result, int) and 0 <= result < 256:
        return int(result)
    _unraisable(TypeError(f"SNI callback returned {result!r}, not an alert number"), callback)
    return _INTERNAL_ERROR


def _unraisable(exc: BaseException, callback: object) -> None:
    sys.unraisablehook(types.SimpleNamespace(
        exc_type=type(exc), exc_value=exc, exc_traceback=exc.__traceback__, err_msg=None, object=callback,
    ))
