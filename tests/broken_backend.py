"""Deliberately broken backends for the conformance suite's own tests (``test_conformance_meta.py``).

They are not installed as entry points: the tests pass the :class:`tlsapi.Backend` objects directly (or as
``broken_backend:HOSTNAME_BROKEN`` specs) to prove the suite fails the capability that is broken.
"""

from __future__ import annotations

import _ssl
import ssl
from typing import Any

import tlsapi
from tlsapi_stdlib._backend import StdlibConnection, StdlibContext, _capabilities


class NoHostnameCheckContext(StdlibContext):
    """The stdlib backend, except that OpenSSL never checks the hostname (the Python view still says it
    does): certificates for any name are accepted."""

    def _changed(self, name: str) -> None:
        super()._changed(name)
        if name in ("verify_mode", "check_hostname"):
            _ssl._SSLContext.check_hostname.__set__(self, False)  # type: ignore[attr-defined]


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
