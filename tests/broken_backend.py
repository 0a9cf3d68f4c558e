"""Deliberately broken backends for the conformance suite's own tests (``test_conformance_meta.py``).

They are not installed as entry points: the tests pass the :class:`tlsapi.Backend` objects directly (or as
``broken_backend:HOSTNAME_BROKEN`` specs) to prove the suite fails the capability that is broken.
"""

from __future__ import annotations

import _ssl
import dataclasses
import ssl
from typing import Any

import tlsapi
from tlsapi.spi import Settings
from tlsapi_native import BACKEND as NATIVE
from tlsapi_native._connection import NativeConnection
from tlsapi_native._context import NativeContext
from tlsapi_stdlib._backend import StdlibConnection, StdlibContext, _capabilities

_OPENSSL: Any = _ssl._SSLContext
_X509_CHECK_FLAG_NEVER_CHECK_SUBJECT = 0x20  # CPython's default also has NO_PARTIAL_WILDCARDS (0x4)
_CRL_FLAGS = ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN


class NoHostnameCheckContext(StdlibContext):
    """The stdlib backend, except that OpenSSL never checks the hostname (the Python view still says it
    does): certificates for any name are accepted."""

    def _push(self, previous: Settings | None, current: Settings) -> None:
        super()._push(previous, dataclasses.replace(current, check_hostname=False))


class OverclaimingContext(StdlibContext):
    """The stdlib backend declaring the keying-material exporter, which it does not implement."""


def _overclaimed() -> list[Any]:
    return [*_capabilities(), tlsapi.Capability.EXPORTER]


def _without_alpn() -> list[Any]:
    return [c for c in _capabilities() if c is not tlsapi.Capability.ALPN]


class NoALPNContext(StdlibContext):
    """The stdlib backend, honestly not declaring ALPN."""


HOSTNAME_BROKEN = tlsapi.Backend(
    "broken-hostname", version="0", description="stdlib without hostname checks (deliberately broken)",
    context_class="broken_backend:NoHostnameCheckContext", capabilities=_capabilities,
)
NoHostnameCheckContext.backend = HOSTNAME_BROKEN

OVERCLAIMING = tlsapi.Backend(
    "overclaiming", version="0", description="stdlib declaring the exporter it lacks (deliberately broken)",
    context_class="broken_backend:OverclaimingContext", capabilities=_overclaimed,
)
OverclaimingContext.backend = OVERCLAIMING

NO_ALPN = tlsapi.Backend(
    "no-alpn", version="0", description="stdlib not declaring ALPN",
    context_class="broken_backend:NoALPNContext", capabilities=_without_alpn,
)
NoALPNContext.backend = NO_ALPN


# -- security properties: accept and ignore -------------------------------------------------------------------


def _without(*dropped: tlsapi.Capability) -> Any:
    return lambda: [c for c in _capabilities() if c not in dropped]


_NO_CLIENT_AUTH = (tlsapi.Capability.CLIENT_AUTH, tlsapi.Capability.POST_HANDSHAKE_AUTH)


class NoClientAuthContext(StdlibContext):
    """The stdlib backend, honestly not declaring client-certificate verification: the base class refuses
    ``verify_mode`` on a server context."""


class IgnoresClientAuthContext(StdlibContext):
    """Does not declare client-certificate verification, and a server accepts ``verify_mode =
    CERT_REQUIRED`` and ignores it (the third-party adapter of the issue): any client gets in."""

    def _require(self, capability: tlsapi.Capability, feature: str) -> None:
        if capability is not tlsapi.Capability.CLIENT_AUTH:  # the lie: "requesting client certificates" is fine
            super()._require(capability, feature)

    def _push(self, previous: Settings | None, current: Settings) -> None:
        if self.is_server:
            current = dataclasses.replace(current, verify_mode=ssl.CERT_NONE, check_hostname=False)
        super()._push(previous, current)


class IgnoresMinimumVersionContext(StdlibContext):
    """``minimum_version`` is accepted and never reaches OpenSSL: a client asked for TLS 1.3 only (or for
    no version at all) negotiates TLS 1.2."""

    def _push(self, previous: Settings | None, current: Settings) -> None:
        kept = ssl.TLSVersion(_OPENSSL.minimum_version.__get__(self))  # whatever OpenSSL had
        super()._push(previous, dataclasses.replace(current, minimum_version=kept))


def _accept_any_flags(self: StdlibContext, value: int) -> None:
    self._verify_flags = ssl.VerifyFlags(value)
    _OPENSSL.verify_flags.__set__(self, int(value) & ~_CRL_FLAGS)  # the CRL checks are dropped


class IgnoresCRLFlagsContext(StdlibContext):
    """``VERIFY_CRL_CHECK_LEAF`` / ``_CHAIN`` are accepted and not enforced."""

    verify_flags = property(StdlibContext.verify_flags.fget, _accept_any_flags)  # type: ignore[assignment]


class PartialWildcardContext(StdlibContext):
    """OpenSSL's hostname check without ``X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS``: ``f*.example.com``
    matches ``foo.example.com``."""

    def __init__(self, protocol: int | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(protocol, *args, **kwargs)
        _OPENSSL._host_flags.__set__(self, _X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)


class ForeignSessionConnection(NativeConnection):
    """Accepts a session whatever context made it: another context resumes it without verifying."""

    def _check_session(self, session: Any, session_class: type[Any], started: bool) -> None:
        if started:
            raise ValueError("Cannot set session after handshake.")


class ForeignSessionContext(NativeContext):
    sslobject_class = ForeignSessionConnection


def _broken(name: str, description: str, context_class: type[Any], capabilities: Any = _capabilities,
            ) -> tlsapi.Backend:
    backend = tlsapi.Backend(name, version="0", description=description,
                             context_class=f"broken_backend:{context_class.__name__}", capabilities=capabilities)
    context_class.backend = backend
    return backend


NO_CLIENT_AUTH = _broken("no-client-auth", "stdlib honestly not declaring client-certificate verification",
                         NoClientAuthContext, _without(*_NO_CLIENT_AUTH))
IGNORES_CLIENT_AUTH = _broken("ignores-client-auth", "stdlib whose server ignores verify_mode (deliberately "
                              "broken)", IgnoresClientAuthContext, _without(*_NO_CLIENT_AUTH))
IGNORES_MINIMUM_VERSION = _broken("ignores-minimum-version", "stdlib ignoring minimum_version (deliberately "
                                  "broken)", IgnoresMinimumVersionContext)
IGNORES_CRL_FLAGS = _broken("ignores-crl-flags", "stdlib accepting and ignoring the CRL verify flags "
                            "(deliberately broken)", IgnoresCRLFlagsContext)
PARTIAL_WILDCARD = _broken("partial-wildcard", "stdlib matching partial wildcards (deliberately broken)",
                           PartialWildcardContext)
FOREIGN_SESSION = _broken("foreign-session", "native resuming sessions of other contexts (deliberately broken)",
                          ForeignSessionContext, NATIVE.capabilities)


class IgnoresClientCertContext(StdlibContext):
    """A client context accepts ``load_cert_chain`` and never presents the certificate."""

    def load_cert_chain(self, certfile: Any, keyfile: Any = None, password: Any = None) -> None:
        if not self.is_client:
            super().load_cert_chain(certfile, keyfile, password)


IGNORES_CLIENT_CERT = _broken("ignores-client-cert", "stdlib whose client never presents its certificate "
                              "(deliberately broken)", IgnoresClientCertContext)


class NoSetGroupsContext(StdlibContext):
    """The stdlib backend without ``set_groups`` (honest): its groups are certified from interop cells
    whose peer forces the group."""

    def set_groups(self, names: list[str]) -> None:
        raise self._unsupported("set_groups", "this backend always offers its default groups")


NO_SET_GROUPS = _broken("no-set-groups", "stdlib without set_groups", NoSetGroupsContext)


class AlertDroppingConnection(StdlibConnection):
    """The stdlib Connection, except that a failed handshake discards what it wrote: the fatal alert never
    reaches the peer, which sees a bare EOF."""

    _outgoing_bio: Any

    @classmethod
    def _create(cls, context: Any, incoming: Any, outgoing: Any, server_side: bool, server_hostname: str | None,
                session: Any) -> Any:
        self = super()._create(context, incoming, outgoing, server_side, server_hostname, session)
        self._outgoing_bio = outgoing
        return self

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError:
            self._outgoing_bio.read()
            raise


class AlertDroppingContext(StdlibContext):
    """The stdlib backend with :class:`AlertDroppingConnection`."""

    sslobject_class = AlertDroppingConnection


class TrailingBytesSwallowingConnection(StdlibConnection):
    """The stdlib Connection, except that ``unwrap()`` empties the incoming BIO: the plaintext that follows
    the peer's close_notify (a STARTTLS-style downgrade) is lost."""

    _incoming_bio: Any

    @classmethod
    def _create(cls, context: Any, incoming: Any, outgoing: Any, server_side: bool, server_hostname: str | None,
                session: Any) -> Any:
        self = super()._create(context, incoming, outgoing, server_side, server_hostname, session)
        self._incoming_bio = incoming
        return self

    def unwrap(self) -> None:
        super().unwrap()
        self._incoming_bio.read()


class TrailingBytesSwallowingContext(StdlibContext):
    """The stdlib backend with :class:`TrailingBytesSwallowingConnection`."""

    sslobject_class = TrailingBytesSwallowingConnection


ALERT_DROPPING = tlsapi.Backend(
    "drops-alert", version="0", description="stdlib dropping its fatal alerts (deliberately broken)",
    context_class="broken_backend:AlertDroppingContext", capabilities=_capabilities,
)
AlertDroppingContext.backend = ALERT_DROPPING

TRAILING_SWALLOWING = tlsapi.Backend(
    "swallows-trailing", version="0",
    description="stdlib taking the bytes after close_notify (deliberately broken)",
    context_class="broken_backend:TrailingBytesSwallowingContext", capabilities=_capabilities,
)
TrailingBytesSwallowingContext.backend = TRAILING_SWALLOWING
