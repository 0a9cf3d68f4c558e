"""The tlsapi error hierarchy.

Every class subclasses the :mod:`ssl` class of the same name, so ``except ssl.SSLError`` keeps working,
and every instance carries the values the stdlib would set for the same event: ``errno`` (an
:class:`ssl.SSLErrorNumber`), ``strerror`` (``"[LIB: REASON] message (origin)"``), ``library`` and
``reason`` (OpenSSL's names, for example ``CERTIFICATE_VERIFY_FAILED``). Consumers branch on these values:
urllib3 and httpcore read ``errno``, anyio and trio look for ``UNEXPECTED_EOF_WHILE_READING`` in
``strerror``.
"""

from __future__ import annotations

import ssl
from typing import TypeVar

__all__ = [
    "BackendError",
    "BackendNotFoundError",
    "BackendUnavailableError",
    "CertificateError",
    "SSLCertVerificationError",
    "SSLEOFError",
    "SSLError",
    "SSLSyscallError",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
    "UnsupportedFeatureError",
    "make_error",
    "verification_error",
]


class SSLError(ssl.SSLError):
    """A TLS protocol or configuration failure (``ssl.SSLError``)."""


class SSLZeroReturnError(SSLError, ssl.SSLZeroReturnError):
    """The peer closed the TLS connection cleanly with close_notify."""


class SSLWantReadError(SSLError, ssl.SSLWantReadError):
    """More bytes from the peer are needed before the operation can complete."""


class SSLWantWriteError(SSLError, ssl.SSLWantWriteError):
    """Pending outgoing bytes must be sent before the operation can complete."""


class SSLSyscallError(SSLError, ssl.SSLSyscallError):
    """The transport failed underneath TLS (asyncio retries on this class: never use it for fatal errors)."""


class SSLEOFError(SSLError, ssl.SSLEOFError):
    """The transport ended without close_notify (a ragged EOF) or the connection was closed."""


class SSLCertVerificationError(SSLError, ssl.SSLCertVerificationError):
    """The peer's certificate failed verification; ``verify_code`` and ``verify_message`` say why."""

    verify_code: int
    verify_message: str


CertificateError = SSLCertVerificationError


class BackendError(LookupError):
    """Base of the registry's errors."""


class BackendNotFoundError(BackendError):
    """No backend with the requested name is installed."""


class BackendUnavailableError(BackendError):
    """The backend is installed but cannot run here (its import failed or a dependency is missing)."""


class UnsupportedFeatureError(NotImplementedError):
    """The selected backend cannot honour a requested feature or option."""

    def __init__(self, backend: str, feature: str, detail: str = "") -> None:
        self.backend = backend
        self.feature = feature
        text = f"the {backend!r} backend does not support {feature}"
        super().__init__(f"{text}: {detail}" if detail else text)


E = TypeVar("E", bound=ssl.SSLError)

_DEFAULT_ERRNO: dict[type[ssl.SSLError], ssl.SSLErrorNumber] = {
    SSLWantReadError: ssl.SSLErrorNumber.SSL_ERROR_WANT_READ,
    SSLWantWriteError: ssl.SSLErrorNumber.SSL_ERROR_WANT_WRITE,
    SSLZeroReturnError: ssl.SSLErrorNumber.SSL_ERROR_ZERO_RETURN,
    SSLSyscallError: ssl.SSLErrorNumber.SSL_ERROR_SYSCALL,
    SSLEOFError: ssl.SSLErrorNumber.SSL_ERROR_EOF,
}

WANT_READ_MESSAGE = "The operation did not complete (read)"
WANT_WRITE_MESSAGE = "The operation did not complete (write)"
ZERO_RETURN_MESSAGE = "TLS/SSL connection has been closed (EOF)"
EOF_MESSAGE = "EOF occurred in violation of protocol"


def make_error(
    cls: type[E],
    message: str,
    reason: str | None = None,
    *,
    library: str | None = "SSL",
    origin: str = "tlsapi",
    errno: int | None = None,
) -> E:
    """Build ``cls`` exactly as the stdlib would: ``args == (errno, strerror)``, ``library``, ``reason``.

    With a ``reason`` the text is ``"[LIBRARY: REASON] message (origin)"``; without, ``"message (origin)"``
    and ``library`` is ``None`` (the stdlib's shape for want-read/write and syscall EOF errors).
    """
    number = errno if errno is not None else _DEFAULT_ERRNO.get(cls, ssl.SSLErrorNumber.SSL_ERROR_SSL)
    if reason is None:
        library = None
        text = f"{message} ({origin})"
    else:
        text = f"[{library}: {reason}] {message} ({origin})"
    error = cls(number, text)
    error.library = library  # type: ignore[assignment]  # None, as the stdlib sets it for reasonless errors
    error.reason = reason  # type: ignore[assignment]
    return error


def verification_error(
    verify_code: int, verify_message: str, *, origin: str = "tlsapi"
) -> SSLCertVerificationError:
    """The ``CERTIFICATE_VERIFY_FAILED`` error, with OpenSSL's ``verify_code`` and message."""
    error = make_error(
        SSLCertVerificationError,
        f"certificate verify failed: {verify_message}",
        "CERTIFICATE_VERIFY_FAILED",
        origin=origin,
    )
    error.verify_code = verify_code
    error.verify_message = verify_message
    return error


def want_read(origin: str = "tlsapi") -> SSLWantReadError:
    """The stdlib's want-read error (errno ``SSL_ERROR_WANT_READ``, no reason)."""
    return make_error(SSLWantReadError, WANT_READ_MESSAGE, origin=origin)


def want_write(origin: str = "tlsapi") -> SSLWantWriteError:
    """The stdlib's want-write error (errno ``SSL_ERROR_WANT_WRITE``, no reason)."""
    return make_error(SSLWantWriteError, WANT_WRITE_MESSAGE, origin=origin)


def zero_return(origin: str = "tlsapi") -> SSLZeroReturnError:
    """The stdlib's error for reading after the peer's close_notify."""
    return make_error(SSLZeroReturnError, ZERO_RETURN_MESSAGE, origin=origin)


def ragged_eof(origin: str = "tlsapi") -> SSLEOFError:
    """The transport ended without close_notify: ``UNEXPECTED_EOF_WHILE_READING``."""
    return make_error(SSLEOFError, EOF_MESSAGE, "UNEXPECTED_EOF_WHILE_READING", origin=origin)


def closed_eof(origin: str = "tlsapi") -> SSLEOFError:
    """An operation on a connection that is already shut down (the stdlib's reasonless EOF error)."""
    return make_error(SSLEOFError, EOF_MESSAGE, origin=origin)
