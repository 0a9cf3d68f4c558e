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
    "ECHRejectedError",
    "SSLCertVerificationError",
    "SSLEOFError",
    "SSLError",
    "SSLSyscallError",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
    "UnsupportedFeatureError",
    "from_ssl",
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


class ECHRejectedError(SSLError):
    """The server did not accept Encrypted Client Hello; the client aborted with ``ech_required``.

    Raised after the handshake against the configuration's public name completed (reason
    ``ECH_REJECTED``). ``retry_configs`` is the ``ECHConfigList`` (wire bytes) the server sent to replace the
    client's configuration; retry once with them on a new connection (``Context.set_ech_configs``), and do not
    accept retry configurations again on that retried connection (RFC 9849 section 6.1.6). It is ``None``
    when there are none to use: the server sent none (ECH is then securely disabled by that server), the
    rejection was not authenticated for the public name (``CERT_REQUIRED`` and ``check_hostname`` are needed),
    or the backend cannot hand them over (rustls: rtls keeps them).
    """

    retry_configs: bytes | None = None


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

_FROM_SSL: dict[type[BaseException], type[SSLError]] = {
    ssl.SSLError: SSLError,
    ssl.SSLZeroReturnError: SSLZeroReturnError,
    ssl.SSLWantReadError: SSLWantReadError,
    ssl.SSLWantWriteError: SSLWantWriteError,
    ssl.SSLSyscallError: SSLSyscallError,
    ssl.SSLEOFError: SSLEOFError,
    ssl.SSLCertVerificationError: SSLCertVerificationError,
}


def from_ssl(exc: ssl.SSLError) -> SSLError:
    """The tlsapi exception equal in every value to the stdlib's ``exc`` (``args``, ``errno``, ``strerror``,
    ``library``, ``reason``, verify fields); ``exc`` itself where its class allows.

    The subclasses ``_ssl`` raises (want-read, EOF, verification, ...) are mutable heap types that tlsapi's
    classes extend without changing the instance layout, so ``exc`` is re-classed in place: every value stays
    exactly as ``_ssl`` set it and nothing is built (asyncio meets a want-read error after every received
    chunk, so this runs once per read). ``ssl.SSLError`` itself is an immutable type: a copy of its values.
    ``library`` and ``reason``, absent on some errors (``set_ciphers``'s "No cipher can be selected."),
    are ``None`` then.
    """
    if isinstance(exc, SSLError):
        return exc
    cls = _FROM_SSL.get(type(exc), SSLError)
    new: SSLError
    if cls is SSLError:
        new = SSLError(*exc.args)
        new.__dict__.update(exc.__dict__)
    else:
        exc.__class__ = cls
        new = exc  # type: ignore[assignment]  # an instance of ``cls`` now
    attributes = new.__dict__
    if "reason" not in attributes:
        attributes.setdefault("library", None)
        attributes["reason"] = None
    return new


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

#: OpenSSL 3.0's certificate verification messages by ``verify_code``, worded as the stdlib reports them
#: (``X509_verify_cert_error_string`` of OpenSSL 3.0; later versions reworded some, e.g. code 9). Codes 62 and
#: 64 carry ``_ssl.c``'s own message, to ``format`` with the server hostname. OpenSSL 3.0 reports any other
#: code as "unknown certificate verification error".
VERIFY_MESSAGES: dict[int, str] = {
    1: "unspecified certificate verification error",
    2: "unable to get issuer certificate",
    3: "unable to get certificate CRL",
    4: "unable to decrypt certificate's signature",
    5: "unable to decrypt CRL's signature",
    6: "unable to decode issuer public key",
    7: "certificate signature failure",
    8: "CRL signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    11: "CRL is not yet valid",
    12: "CRL has expired",
    13: "format error in certificate's notBefore field",
    14: "format error in certificate's notAfter field",
    15: "format error in CRL's lastUpdate field",
    16: "format error in CRL's nextUpdate field",
    17: "out of memory",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    22: "certificate chain too long",
    23: "certificate revoked",
    24: "issuer certificate doesn't have a public key",
    25: "path length constraint exceeded",
    26: "unsuitable certificate purpose",
    27: "certificate not trusted",
    28: "certificate rejected",
    29: "subject issuer mismatch",
    30: "authority and subject key identifier mismatch",
    31: "authority and issuer serial number mismatch",
    32: "key usage does not include certificate signing",
    33: "unable to get CRL issuer certificate",
    34: "unhandled critical extension",
    35: "key usage does not include CRL signing",
    36: "unhandled critical CRL extension",
    37: "invalid non-CA certificate (has CA markings)",
    38: "proxy path length constraint exceeded",
    39: "key usage does not include digital signature",
    40: "proxy certificates not allowed, please set the appropriate flag",
    41: "invalid or inconsistent certificate extension",
    42: "invalid or inconsistent certificate policy extension",
    43: "no explicit policy",
    44: "different CRL scope",
    45: "unsupported extension feature",
    46: "RFC 3779 resource not subset of parent's resources",
    47: "permitted subtree violation",
    48: "excluded subtree violation",
    49: "name constraints minimum and maximum not supported",
    50: "application verification failure",
    51: "unsupported name constraint type",
    52: "unsupported or invalid name constraint syntax",
    53: "unsupported or invalid name syntax",
    54: "CRL path validation error",
    55: "path loop",
    56: "Suite B: certificate version invalid",
    57: "Suite B: invalid public key algorithm",
    58: "Suite B: invalid ECC curve",
    59: "Suite B: invalid signature algorithm",
    60: "Suite B: curve not allowed for this LOS",
    61: "Suite B: cannot sign P-384 with P-256",
    62: "Hostname mismatch, certificate is not valid for '{}'.",
    63: "email address mismatch",
    64: "IP address mismatch, certificate is not valid for '{}'.",
    65: "no matching DANE TLSA records",
    66: "EE certificate key too weak",
    67: "CA certificate key too weak",
    68: "CA signature digest algorithm too weak",
    69: "invalid certificate verification context",
    70: "issuer certificate lookup error",
    71: "Certificate Transparency required, but no valid SCTs found",
    72: "proxy subject name violation",
    73: "OCSP verification needed",
    74: "OCSP verification failed",
    75: "OCSP unknown cert",
    76: "Cannot find certificate signature algorithm",
    77: "subject signature algorithm and issuer public key algorithm mismatch",
    78: "cert info signature and signature algorithm mismatch",
    79: "invalid CA certificate",
    80: "Path length invalid for non-CA cert",
    81: "Path length given without key usage keyCertSign",
    82: "Key usage keyCertSign invalid for non-CA cert",
    83: "Issuer name empty",
    84: "Subject name empty",
    85: "Missing Authority Key Identifier",
    86: "Missing Subject Key Identifier",
    87: "Empty Subject Alternative Name extension",
    88: "Subject empty and Subject Alt Name extension not critical",
    89: "Basic Constraints of CA cert not marked critical",
    90: "Authority Key Identifier marked critical",
    91: "Subject Key Identifier marked critical",
    92: "CA cert does not include key usage extension",
    93: "Using cert extension requires at least X509v3",
    94: "Certificate public key has explicit ECC parameters",
}
X509_V_ERR_HOSTNAME_MISMATCH = 62
X509_V_ERR_IP_ADDRESS_MISMATCH = 64


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
    # A plain int, as the stdlib's ``errno`` (and so ``args`` and ``repr`` read the same)
    number = int(errno if errno is not None else _DEFAULT_ERRNO.get(cls, ssl.SSLErrorNumber.SSL_ERROR_SSL))
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


_WANT_READ_ERRNO = int(ssl.SSLErrorNumber.SSL_ERROR_WANT_READ)
_want_read_texts: dict[str, str] = {}


def want_read(origin: str = "tlsapi") -> SSLWantReadError:
    """The stdlib's want-read error (errno ``SSL_ERROR_WANT_READ``, no reason): what :func:`make_error` builds,
    made directly, since every read with nothing received raises one (asyncio's SSL protocol after each
    chunk it receives)."""
    text = _want_read_texts.get(origin)
    if text is None:
        text = _want_read_texts[origin] = f"{WANT_READ_MESSAGE} ({origin})"
    error = SSLWantReadError(_WANT_READ_ERRNO, text)
    error.library = None  # type: ignore[assignment]  # None, as the stdlib sets it for reasonless errors
    error.reason = None  # type: ignore[assignment]
    return error


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
