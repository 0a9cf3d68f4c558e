"""``Context``: the backend-neutral ``ssl.SSLContext``.

``Context`` subclasses :class:`ssl.SSLContext` because consumers check ``isinstance(ctx, ssl.SSLContext)``
(aiohttp, ``asyncio.loop.start_tls``, uvloop). Every public member of ``ssl.SSLContext`` is overridden
here: the configuration lives in Python on the context and each backend reads it when it wraps a
connection, so nothing reaches the OpenSSL context underneath by accident. A backend subclasses
``Context``, sets ``backend``, implements :meth:`Context._create_connection` and overrides the hooks for
what it supports beyond the common configuration (ciphers, curves, DH parameters).

``Context(protocol, backend=...)`` called on this base class returns the selected backend's subclass.
"""

from __future__ import annotations

import functools
import operator
import os
import socket
import ssl
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning

from . import _material
from ._connection import connection_class_for
from ._enums import Capability, TLSVersion
from ._errors import SSLError, UnsupportedFeatureError
from ._settings import PSKClientCallback, PSKServerCallback, Settings, SNICallback
from ._socket import TLSSocket, require_stream_socket, socket_class_for

if TYPE_CHECKING:
    from ._bio import BIO
    from ._connection import Connection
    from ._registry import Backend, BackendSpec


_VERSIONS_SUPPORTED = (TLSVersion.TLSv1_2, TLSVersion.TLSv1_3)
_NO_MINIMUM, _NO_MAXIMUM = int(TLSVersion.MINIMUM_SUPPORTED), int(TLSVersion.MAXIMUM_SUPPORTED)
#: Each version, newest first, with the option that disables it.
_VERSION_OPTIONS = ((TLSVersion.TLSv1_3, int(ssl.OP_NO_TLSv1_3)), (TLSVersion.TLSv1_2, int(ssl.OP_NO_TLSv1_2)))
_SESSION_STATS = (
    "number", "connect", "connect_good", "connect_renegotiate", "accept", "accept_good",
    "accept_renegotiate", "hits", "misses", "timeouts", "cache_full",
)
# Options that only forbid legacy behaviour (every backend honours them by never doing that), plus the
# ones the interface itself implements.
_HONOURED_OPTIONS = (
    ssl.OP_ALL | ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_TLSv1 | ssl.OP_NO_TLSv1_1
    | ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    | ssl.OP_SINGLE_DH_USE | ssl.OP_SINGLE_ECDH_USE | ssl.OP_ENABLE_MIDDLEBOX_COMPAT | ssl.OP_NO_TICKET
    | ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3 | ssl.OP_IGNORE_UNEXPECTED_EOF
)
#: The verify flags the interface lets a backend's context take unless it says otherwise
#: (:attr:`Context.honoured_verify_flags`).
_HONOURED_VERIFY_FLAGS = (
    ssl.VERIFY_DEFAULT | ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
)
#: Every ``ssl.VerifyFlags`` bit: they are OpenSSL's ``X509_V_FLAG_*`` values, so a backend whose engine is
#: OpenSSL hands them over as they are.
OPENSSL_VERIFY_FLAGS = functools.reduce(operator.or_, (int(flag) for flag in ssl.VerifyFlags.__members__.values()))
# The C type of SSLContext.options: a signed 64-bit integer up to 3.11, unsigned from 3.12 (gh-106687).
_OPTIONS_RANGE = range(1 << 64) if sys.version_info >= (3, 12) else range(-(1 << 63), 1 << 63)
_DEFAULT_OPTIONS = (
    ssl.OP_ALL | ssl.OP_NO_SSLv3 | ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    | ssl.OP_ENABLE_MIDDLEBOX_COMPAT
)


def _coerce_version(value: Any) -> TLSVersion:
    """Accept a ``TLSVersion`` member (tlsapi's and ssl's are the same enum) or its int value."""
    try:
        return TLSVersion(value)
    except ValueError:
        raise ValueError(f"unsupported TLS version {value!r}") from None


def encode_alpn(protocols: Iterable[str]) -> list[bytes]:
    """Validate an ALPN list as ``ssl.SSLContext.set_alpn_protocols`` does, with its exceptions: each a str
    (``TypeError`` otherwise), ASCII (``UnicodeEncodeError``), 1 to 255 bytes (``SSLError``)."""
    result = []
    for protocol in protocols:
        encoded = bytes(protocol, "ascii")
        if not 0 < len(encoded) <= 255:
            raise SSLError("ALPN protocols must be 1 to 255 in length")
        result.append(encoded)
    return result


def normalize_server_hostname(server_hostname: str | bytes | None) -> str | None:
    """The hostname as ``SSLObject.server_hostname`` reports it, and as it is sent (SNI) and checked: an
    internationalised name is converted to its IDNA A-label (``xn--...``), as the stdlib does."""
    if server_hostname is None:
        return None
    if isinstance(server_hostname, bytes | bytearray):
        server_hostname = bytes(server_hostname).decode("ascii")
    if not isinstance(server_hostname, str):
        raise TypeError("server_hostname must be str or bytes")
    if not server_hostname or server_hostname.startswith("."):
        raise ValueError("server_hostname cannot be an empty string or start with a leading dot.")
    if "\x00" in server_hostname:  # the stdlib's type and words (its C argument parser's)
        raise TypeError("argument must be encoded string without null bytes, not str")
    # UnicodeError for names IDNA cannot encode, as the stdlib raises
    return server_hostname.encode("idna").decode("ascii")


class Context(ssl.SSLContext):
    """TLS configuration for clients (``PROTOCOL_TLS_CLIENT``) or servers (``PROTOCOL_TLS_SERVER``); the
    deprecated ``PROTOCOL_TLS`` (also what ``Context()`` without a protocol means) serves both, with ``ssl``'s
    ``DeprecationWarning``."""

    backend: Backend  # set on the class by the backend; an instance made through another Backend object
    # records that object instead
    sslobject_class: type[Connection]  # type: ignore[assignment]
    sslsocket_class: type[ssl.SSLSocket] = TLSSocket  # a stdlib-style subclass is honoured too
    #: The ``verify_flags`` bits the backend enforces; setting any other raises ``UnsupportedFeatureError``.
    honoured_verify_flags: int = _HONOURED_VERIFY_FLAGS

    def __new__(
        cls, protocol: int | None = None, *args: Any, backend: BackendSpec | None = None, **kwargs: Any
    ) -> Context:
        selected = None
        if cls is Context:
            from ._registry import get_backend

            selected = get_backend(backend)
            cls = selected.context_class()
        if protocol is None:
            warnings.warn("ssl.SSLContext() without protocol argument is deprecated.", DeprecationWarning,
                          stacklevel=2)
            protocol = ssl.PROTOCOL_TLS
        if protocol not in (ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS):
            raise ValueError("tlsapi supports only PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER and PROTOCOL_TLS")
        if protocol == ssl.PROTOCOL_TLS:
            warnings.warn("ssl.PROTOCOL_TLS is deprecated", DeprecationWarning, stacklevel=2)
        with warnings.catch_warnings():  # warned above, from the caller's line (as ssl does)
            warnings.simplefilter("ignore", DeprecationWarning)
            self: Context = super().__new__(cls, protocol)
        if selected is not None and selected is not cls.backend:
            self.backend = selected
        return self

    def __init__(
        self, protocol: int | None = None, *args: Any, backend: BackendSpec | None = None, **kwargs: Any
    ) -> None:
        self._protocol = ssl._SSLMethod(ssl.PROTOCOL_TLS if protocol is None else protocol)
        self._verify_mode: ssl.VerifyMode = ssl.CERT_REQUIRED if self.is_client else ssl.CERT_NONE
        self._check_hostname = self.is_client
        self._minimum_version = TLSVersion.TLSv1_2
        self._maximum_version = TLSVersion.MAXIMUM_SUPPORTED
        self._options = ssl.Options(_DEFAULT_OPTIONS)
        self._verify_flags = ssl.VerifyFlags.VERIFY_X509_TRUSTED_FIRST
        self._alpn_protocols: list[bytes] = []
        self._sni_callback: SNICallback | None = None
        self._post_handshake_auth = False
        self._keylog_filename: str | None = None
        self._num_tickets = 2
        self._cert_chain: _material.CertChain | None = None
        self._cert_chains: dict[str, _material.CertChain] = {}  # by key type, in loading order
        self._ciphers: str | None = None
        self._psk_client_callback: PSKClientCallback | None = None
        self._psk_server_callback: PSKServerCallback | None = None
        self._psk_identity_hint: str | None = None
        self._settings: Settings | None = None
        self._trust_anchors: list[x509.Certificate] = []
        self._crls: list[x509.CertificateRevocationList] = []
        self._stats: Counter[str] = Counter()

    # -- the configuration read by backends ------------------------------------------------------------

    @property
    def is_client(self) -> bool:
        """A ``PROTOCOL_TLS_CLIENT`` context (client connections only)."""
        return self._protocol == ssl.PROTOCOL_TLS_CLIENT

    @property
    def is_server(self) -> bool:
        """A ``PROTOCOL_TLS_SERVER`` context (server connections only). A deprecated ``PROTOCOL_TLS`` context is
        neither: it wraps both sides, with ``CERT_NONE`` and no hostname check by default, as in ``ssl``."""
        return self._protocol == ssl.PROTOCOL_TLS_SERVER

    @property
    def cert_chain(self) -> _material.CertChain | None:
        """The chain and key from ``load_cert_chain`` (``None`` until one is loaded)."""
        return self._cert_chain

    @property
    def trust_anchors(self) -> list[x509.Certificate]:
        """The trust store: every certificate loaded by ``load_verify_locations`` and friends."""
        return self._trust_anchors

    @property
    def crls(self) -> list[x509.CertificateRevocationList]:
        """The CRLs found in the ``cafile`` of ``load_verify_locations`` (used under ``VERIFY_CRL_CHECK_*``)."""
        return self._crls

    @property
    def alpn_protocols(self) -> list[bytes]:
        return self._alpn_protocols

    def enabled_versions(self) -> list[TLSVersion]:
        """The versions this context allows, newest first, after min/max and ``OP_NO_TLSv1_*``."""
        # On plain ints (enum arithmetic is slow, and every snapshot asks): a minimum of MINIMUM_SUPPORTED and a
        # maximum of MAXIMUM_SUPPORTED bound nothing (the other way round they compare as the ints they are).
        low = int(self._minimum_version)
        high = int(self._maximum_version)
        options = int(self._options)
        return [version for version, excluded_by in _VERSION_OPTIONS
                if (low == _NO_MINIMUM or version >= low) and (high == _NO_MAXIMUM or version <= high)
                and not options & excluded_by]

    def record_stat(self, name: str) -> None:
        """Count an event in ``session_stats()`` (backends call this: ``connect``, ``hits``, ...)."""
        self._stats[name] += 1

    def _unsupported(self, feature: str, detail: str = "") -> UnsupportedFeatureError:
        return UnsupportedFeatureError(self.backend.name, feature, detail)

    def _require(self, capability: Capability, feature: str) -> None:
        if capability not in self.backend.capabilities():
            raise self._unsupported(feature)

    def settings(self) -> Settings:
        """The frozen snapshot of this configuration that the next connection is built from: taken once
        after each change and shared by every connection wrapped until the next one (so it costs an attribute
        read per connection)."""
        settings = self._settings
        if settings is None:
            settings = self._settings = self._take_settings()
        return settings

    def _take_settings(self) -> Settings:
        """A new snapshot. A backend with settings of its own returns its :class:`Settings` subclass, built
        from :meth:`_settings_fields` and its extra fields."""
        return Settings(**self._settings_fields())

    def _settings_fields(self) -> dict[str, Any]:
        """The fields of the base :class:`Settings` for the current configuration."""
        return {
            "protocol": self._protocol, "versions": tuple(self.enabled_versions()),
            "minimum_version": self._minimum_version, "maximum_version": self._maximum_version,
            "options": self._options, "verify_mode": self._verify_mode,
            "verify_flags": self._verify_flags, "check_hostname": self._check_hostname,
            "hostname_checks_common_name": self.hostname_checks_common_name, "ciphers": self._ciphers,
            "alpn_protocols": tuple(self._alpn_protocols), "cert_chain": self._cert_chain,
            "cert_chains": tuple(self._cert_chains.values()), "trust_anchors": tuple(self._trust_anchors),
            "crls": tuple(self._crls), "sni_callback": self._sni_callback,
            "keylog_filename": self._keylog_filename, "num_tickets": self._num_tickets,
            "post_handshake_auth": self._post_handshake_auth, "psk_client_callback": self._psk_client_callback,
            "psk_server_callback": self._psk_server_callback, "psk_identity_hint": self._psk_identity_hint,
        }

    def _settings_changed(self) -> None:
        """Called by every setter after it changed the configuration: the next :meth:`settings` is a new
        snapshot. A backend's own setters call it too; a backend that mirrors settings into an engine context
        at once (the stdlib's OpenSSL context) extends it."""
        self._settings = None

    def _changed(self, name: str) -> None:
        """The former per-name hook, kept while the native backend's setters still call it: a change."""
        self._settings_changed()

    # -- ssl.SSLContext members --------------------------------------------------------------------------

    @property
    def protocol(self) -> ssl._SSLMethod:  # type: ignore[override]
        return self._protocol

    @property
    def verify_mode(self) -> ssl.VerifyMode:
        return ssl.VerifyMode(self._verify_mode)

    @verify_mode.setter
    def verify_mode(self, value: int) -> None:
        """On a server, ``CERT_OPTIONAL`` / ``CERT_REQUIRED`` ask for a client certificate: a backend that does
        not declare ``Capability.CLIENT_AUTH`` raises ``UnsupportedFeatureError`` instead of never asking."""
        mode = ssl.VerifyMode(value)
        if mode == ssl.CERT_NONE and self._check_hostname:
            raise ValueError("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.")
        self._set_verify_mode(mode)

    def _set_verify_mode(self, mode: ssl.VerifyMode) -> None:
        if mode != ssl.CERT_NONE and self.is_server:
            # A server that cannot verify client certificates must not pretend to require them.
            self._require(Capability.CLIENT_AUTH, "requesting client certificates")
        self._verify_mode = mode
        self._settings_changed()

    @property
    def check_hostname(self) -> bool:
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value: bool) -> None:
        value = bool(value)
        if value and self._verify_mode == ssl.CERT_NONE:
            self._set_verify_mode(ssl.CERT_REQUIRED)
        self._check_hostname = value
        self._settings_changed()

    @property
    def hostname_checks_common_name(self) -> bool:
        """Whether a leaf without DNS names in its subjectAltName may match on its subject CN. ``False`` here:
        a backend that can do OpenSSL's fallback overrides this; the others refuse ``True``."""
        return False

    @hostname_checks_common_name.setter
    def hostname_checks_common_name(self, value: bool) -> None:
        if value:
            raise self._unsupported("hostname checks against the subject common name",
                                    "certificates must carry a subjectAltName")

    @property  # type: ignore[override]
    def minimum_version(self) -> TLSVersion:
        return self._minimum_version

    @minimum_version.setter
    def minimum_version(self, value: TLSVersion) -> None:
        version = _coerce_version(value)
        if version not in (*_VERSIONS_SUPPORTED, TLSVersion.MINIMUM_SUPPORTED, TLSVersion.MAXIMUM_SUPPORTED):
            raise self._unsupported(f"{version.name}", "TLS 1.2 is the oldest version tlsapi speaks")
        self._minimum_version = version
        self._settings_changed()

    @property  # type: ignore[override]
    def maximum_version(self) -> TLSVersion:
        return self._maximum_version

    @maximum_version.setter
    def maximum_version(self, value: TLSVersion) -> None:
        version = _coerce_version(value)
        if version not in (*_VERSIONS_SUPPORTED, TLSVersion.MINIMUM_SUPPORTED, TLSVersion.MAXIMUM_SUPPORTED):
            raise self._unsupported(f"{version.name}", "TLS 1.2 is the oldest version tlsapi speaks")
        self._maximum_version = version
        self._settings_changed()

    @property
    def options(self) -> ssl.Options:
        return self._options

    @options.setter
    def options(self, value: int) -> None:
        value = operator.index(value)
        if value not in _OPTIONS_RANGE:
            raise OverflowError(f"options {value:#x} out of the range of the interpreter's C type")
        extra = value & ~_HONOURED_OPTIONS
        if extra:
            raise self._unsupported(f"options {ssl.Options(extra)!r}")
        self._options = ssl.Options(value)
        self._settings_changed()

    @property
    def verify_flags(self) -> ssl.VerifyFlags:
        return self._verify_flags

    @verify_flags.setter
    def verify_flags(self, value: int) -> None:
        extra = int(value) & ~self.honoured_verify_flags
        if extra:
            raise self._unsupported(f"verify flags {ssl.VerifyFlags(extra)!r}")
        self._verify_flags = ssl.VerifyFlags(value)
        self._settings_changed()

    @property  # type: ignore[override]
    def post_handshake_auth(self) -> bool | None:
        """Whether the client offers post-handshake authentication; ``None`` when the backend cannot.

        ``None`` is what ``ssl`` reports for an OpenSSL without it, and what http.client and urllib3 test
        before they set it to ``True``.
        """
        if Capability.POST_HANDSHAKE_AUTH not in self.backend.capabilities():
            return None
        return self._post_handshake_auth

    @post_handshake_auth.setter
    def post_handshake_auth(self, value: bool) -> None:
        """On a client, ``True`` only permits the server to ask for a certificate after the handshake: a backend
        that cannot answer such a request (no ``Capability.POST_HANDSHAKE_AUTH``) takes the setting and does not
        offer the extension, so no server asks. A server context needs the capability."""
        if value and not self.is_client:
            self._require(Capability.POST_HANDSHAKE_AUTH, "post-handshake authentication")
        self._post_handshake_auth = bool(value)
        self._settings_changed()

    @property  # type: ignore[override]
    def keylog_filename(self) -> str | None:
        return self._keylog_filename

    @keylog_filename.setter
    def keylog_filename(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            self._require(Capability.KEYLOG, "key logging")
            value = os.fspath(value)
            with open(value, "a"):  # the stdlib opens it at once, raising OSError for a bad path
                pass
        self._keylog_filename = value
        self._settings_changed()

    @property
    def num_tickets(self) -> int:
        return self._num_tickets

    @num_tickets.setter
    def num_tickets(self, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError("num_tickets must be an int")
        if value < 0:
            raise ValueError("value must be non-negative")
        if self.is_client:
            raise ValueError("SSLContext is not a server context.")
        self._num_tickets = value
        self._settings_changed()

    @property
    def security_level(self) -> int:  # type: ignore[override]
        return 2

    @property  # type: ignore[override]
    def sni_callback(self) -> SNICallback | None:
        return self._sni_callback

    @sni_callback.setter
    def sni_callback(self, callback: SNICallback | None) -> None:
        if callback is not None:
            if self.is_client:
                raise ValueError("sni_callback cannot be set on TLS_CLIENT context")
            if not callable(callback):
                raise TypeError("not a callable object")
            self._require(Capability.SNI_CALLBACK, "the SNI callback")
        self._sni_callback = callback
        self._settings_changed()

    def set_servername_callback(self, server_name_callback: SNICallback | None) -> None:
        """The older spelling of :attr:`sni_callback` (same callback signature)."""
        self.sni_callback = server_name_callback

    def set_alpn_protocols(self, alpn_protocols: Iterable[str]) -> None:
        self._alpn_protocols = encode_alpn(alpn_protocols)
        if self._alpn_protocols:
            self._require(Capability.ALPN, "ALPN")
        self._settings_changed()

    def set_npn_protocols(self, npn_protocols: Iterable[str]) -> None:
        raise self._unsupported("NPN", "NPN is obsolete; use set_alpn_protocols")

    if hasattr(ssl.SSLContext, "set_psk_client_callback"):  # Python 3.13+, as the running interpreter's ssl

        def set_psk_client_callback(self, callback: Callable[[str | None], tuple[str | None, bytes]] | None) -> None:
            """TLS 1.3 external PSK, client side (``ssl``'s checks): a backend that does not implement it
            refuses a callback with ``UnsupportedFeatureError`` (``None`` clears)."""
            self._check_psk_callback(callback, server=False)
            if callback is not None:
                raise self._unsupported("TLS 1.3 external PSK (set_psk_client_callback)")

        def set_psk_server_callback(
            self, callback: Callable[[str | None], bytes] | None, identity_hint: str | None = None
        ) -> None:
            """TLS 1.3 external PSK, server side (``ssl``'s checks): a backend that does not implement it
            refuses a callback with ``UnsupportedFeatureError`` (``None`` clears)."""
            self._check_psk_callback(callback, server=True)
            if callback is not None:
                raise self._unsupported("TLS 1.3 external PSK (set_psk_server_callback)")

    def _check_psk_callback(self, callback: object, server: bool) -> None:
        """The stdlib's argument checks of ``set_psk_client_callback`` / ``set_psk_server_callback``."""
        if server and self.is_client:
            raise SSLError(0, "Cannot add PSK server callback to a PROTOCOL_TLS_CLIENT context (tlsapi)")
        if not server and self.is_server:
            raise SSLError(0, "Cannot add PSK client callback to a PROTOCOL_TLS_SERVER context (tlsapi)")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")

    def load_cert_chain(
        self,
        certfile: _material.StrPath,
        keyfile: _material.StrPath | None = None,
        password: _material.Password = None,
    ) -> None:
        """As OpenSSL: a chain whose key is of another type (RSA, ECDSA, Ed25519, Ed448) is kept beside the
        ones loaded before (``Settings.cert_chains``), one of the same type replaces its predecessor;
        ``cert_chain`` is the last one loaded."""
        chain = _material.load_cert_chain(certfile, keyfile, password)
        kind = _material.key_type(chain.key)
        self._cert_chains.pop(kind, None)
        self._cert_chains[kind] = chain
        self._cert_chain = chain
        self._settings_changed()

    def load_verify_locations(
        self,
        cafile: _material.StrPath | None = None,
        capath: _material.StrPath | None = None,
        cadata: str | bytes | None = None,  # type: ignore[override]
    ) -> None:
        anchors, crls = _material.load_verify_locations(cafile, capath, cadata)
        self._trust_anchors = _material.unique([*self._trust_anchors, *anchors])
        self._crls = [*self._crls, *(crl for crl in crls if crl not in self._crls)]
        self._settings_changed()

    def set_default_verify_paths(self) -> None:
        self._trust_anchors = _material.unique([*self._trust_anchors, *_material.default_trust_anchors()])
        self._settings_changed()

    def load_default_certs(self, purpose: ssl.Purpose = ssl.Purpose.SERVER_AUTH) -> None:
        if not isinstance(purpose, ssl._ASN1Object):
            raise TypeError(purpose)
        self.set_default_verify_paths()

    def load_dh_params(self, path: _material.StrPath) -> None:
        raise self._unsupported("finite-field Diffie-Hellman", "tlsapi offers ECDHE key exchange only")

    def set_ecdh_curve(self, name: str) -> None:
        raise self._unsupported("set_ecdh_curve")

    def set_ciphers(self, cipherlist: str) -> None:
        raise self._unsupported("set_ciphers")

    def get_ciphers(self) -> list[dict[str, Any]]:  # type: ignore[override]
        raise self._unsupported("get_ciphers")

    def get_ca_certs(self, binary_form: bool = False) -> list[Any]:
        """The trust anchors that are CA certificates, as dicts (or DER bytes with ``binary_form``)."""
        from ._certinfo import certificate_dict

        result: list[Any] = []
        for certificate in self._trust_anchors:
            if not _is_ca(certificate):
                continue
            der = certificate.public_bytes(serialization.Encoding.DER)
            result.append(der if binary_form else certificate_dict(certificate))
        return result

    def cert_store_stats(self) -> dict[str, int]:
        ca_count = sum(1 for certificate in self._trust_anchors if _is_ca(certificate))
        return {"x509": len(self._trust_anchors), "crl": len(self._crls), "x509_ca": ca_count}

    def session_stats(self) -> dict[str, int]:
        return {name: self._stats[name] for name in _SESSION_STATS}

    # -- wrapping -----------------------------------------------------------------------------------------

    def wrap_bio(  # type: ignore[override]
        self,
        incoming: BIO,
        outgoing: BIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: Any = None,
    ) -> Connection:
        """A :class:`Connection` speaking TLS over two memory BIOs (``ssl.MemoryBIO`` or compatible)."""
        hostname = self._check_wrap(server_side, server_hostname)
        return self._create_connection(incoming, outgoing, bool(server_side), hostname, session)

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: Any = None,
    ) -> TLSSocket:
        """A :class:`TLSSocket` that takes over ``sock``."""
        require_stream_socket(sock)
        hostname = self._check_wrap(server_side, server_hostname)
        return socket_class_for(self.sslsocket_class)._create(
            sock, self, server_side=bool(server_side), server_hostname=hostname,
            do_handshake_on_connect=do_handshake_on_connect, suppress_ragged_eofs=suppress_ragged_eofs,
            session=session,
        )

    def _check_wrap(self, server_side: bool, server_hostname: str | bytes | None) -> str | None:
        if server_side:
            if self.is_client:
                raise SSLError(0, "Cannot create a server socket with a PROTOCOL_TLS_CLIENT context (tlsapi)")
            if server_hostname is not None:
                raise ValueError("server_hostname can only be specified in client mode")
            if self._verify_mode != ssl.CERT_NONE:  # a PROTOCOL_TLS context serving: as the setter checks
                self._require(Capability.CLIENT_AUTH, "requesting client certificates")
            return None
        if self.is_server:
            raise SSLError(0, "Cannot create a client socket with a PROTOCOL_TLS_SERVER context (tlsapi)")
        hostname = normalize_server_hostname(server_hostname)
        if self._check_hostname and hostname is None:
            raise ValueError("check_hostname requires server_hostname")
        return hostname

    def _create_connection(
        self, incoming: BIO, outgoing: BIO, server_side: bool, server_hostname: str | None, session: Any
    ) -> Connection:
        """Make the backend's connection object (arguments already validated)."""
        connection_class = connection_class_for(self.sslobject_class, type(self).sslobject_class)
        return connection_class._create(self, incoming, outgoing, server_side, server_hostname, session)

    def __reduce__(self) -> Any:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    def __repr__(self) -> str:
        side = "client" if self.is_client else "server" if self.is_server else "client and server"
        return f"<{type(self).__module__}.{type(self).__qualname__} {side} backend={self.backend.name!r}>"


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        with warnings.catch_warnings():  # legacy anchors in system stores parse with deprecation warnings
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False
