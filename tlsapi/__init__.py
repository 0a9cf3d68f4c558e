"""tlsapi: one TLS API for Python, with the engine underneath chosen by the operator.

The interface has the documented semantics of CPython's :mod:`ssl` module. A :class:`Context` is an
``ssl.SSLContext``; ``wrap_bio`` returns a :class:`Connection` (``ssl.SSLObject`` semantics) and
``wrap_socket`` a :class:`TLSSocket` (an ``ssl.SSLSocket``), whatever backend runs the protocol::

    import tlsapi
    ctx = tlsapi.create_default_context(backend="native")
    with socket.create_connection(("example.org", 443)) as raw:
        with ctx.wrap_socket(raw, server_hostname="example.org") as tls:
            print(tls.version(), tls.cipher())
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import sys
from typing import Any

from ._bio import BIO, MemoryBIO
from ._connection import Connection
from ._context import Context
from ._enums import (
    CERT_NONE,
    CERT_OPTIONAL,
    CERT_REQUIRED,
    PROTOCOL_TLS_CLIENT,
    PROTOCOL_TLS_SERVER,
    AlertDescription,
    Capability,
    ECHStatus,
    Options,
    Purpose,
    SSLErrorNumber,
    TLSVersion,
    VerifyFlags,
    VerifyMode,
)
from ._errors import (
    BackendError,
    BackendNotFoundError,
    BackendUnavailableError,
    CertificateError,
    ECHRejectedError,
    SSLCertVerificationError,
    SSLEOFError,
    SSLError,
    SSLSyscallError,
    SSLWantReadError,
    SSLWantWriteError,
    SSLZeroReturnError,
    UnsupportedFeatureError,
)
from ._inject import extract_from_ssl, inject_into_ssl
from ._material import DER_cert_to_PEM_cert, PEM_cert_to_DER_cert
from ._registry import (
    DEFAULT_BACKEND,
    Backend,
    BackendSpec,
    ConfigurationError,
    backends,
    get_backend,
    set_default_backend,
)
from ._socket import TLSSocket

__version__ = "0.1.0"

__all__ = [
    "BIO",
    "CERT_NONE",
    "CERT_OPTIONAL",
    "CERT_REQUIRED",
    "DEFAULT_BACKEND",
    "PROTOCOL_TLS_CLIENT",
    "PROTOCOL_TLS_SERVER",
    "AlertDescription",
    "Backend",
    "BackendError",
    "BackendNotFoundError",
    "BackendUnavailableError",
    "Capability",
    "CertificateError",
    "ConfigurationError",
    "Connection",
    "Context",
    "DER_cert_to_PEM_cert",
    "ECHRejectedError",
    "ECHStatus",
    "MemoryBIO",
    "Options",
    "PEM_cert_to_DER_cert",
    "Purpose",
    "SSLCertVerificationError",
    "SSLEOFError",
    "SSLError",
    "SSLErrorNumber",
    "SSLSyscallError",
    "SSLWantReadError",
    "SSLWantWriteError",
    "SSLZeroReturnError",
    "TLSSocket",
    "TLSVersion",
    "UnsupportedFeatureError",
    "VerifyFlags",
    "VerifyMode",
    "backends",
    "create_default_context",
    "extract_from_ssl",
    "get_backend",
    "get_server_certificate",
    "inject_into_ssl",
    "set_default_backend",
]


def create_default_context(
    purpose: ssl.Purpose = Purpose.SERVER_AUTH,
    *,
    cafile: str | None = None,
    capath: str | None = None,
    cadata: str | bytes | None = None,
    backend: BackendSpec | None = None,
) -> Context:
    """A context with secure defaults, as :func:`ssl.create_default_context` makes one.

    ``SERVER_AUTH`` gives a client context (certificate and hostname verification on), ``CLIENT_AUTH`` a
    server context. The verify flags are those of the running interpreter's ``ssl.create_default_context``
    (Python 3.13 adds ``VERIFY_X509_STRICT`` and ``VERIFY_X509_PARTIAL_CHAIN``). The given CA material is
    loaded, else the default trust store. ``SSLKEYLOGFILE`` is honoured where the backend can log keys.
    """
    if not isinstance(purpose, ssl._ASN1Object):
        raise TypeError(purpose)
    protocol = PROTOCOL_TLS_CLIENT if purpose == Purpose.SERVER_AUTH else PROTOCOL_TLS_SERVER
    context = Context(protocol, backend=backend)
    # 3.13's STRICT/PARTIAL_CHAIN defaults, except on an engine whose chain policy is its own and fixed (rustls's
    # webpki): it keeps that policy; set explicitly, the flags are still refused.
    with contextlib.suppress(UnsupportedFeatureError):
        context.verify_flags = _default_verify_flags(purpose)
    if cafile or capath or cadata:
        context.load_verify_locations(cafile, capath, cadata)
    elif context.verify_mode != CERT_NONE:
        context.load_default_certs(purpose)
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment and Capability.KEYLOG in context.backend.capabilities():
        context.keylog_filename = keylog
    return context


def _default_verify_flags(purpose: ssl.Purpose) -> ssl.VerifyFlags:
    """The ``verify_flags`` of the running interpreter's ``ssl.create_default_context(purpose)``: a new
    context's ``VERIFY_X509_TRUSTED_FIRST``, and from 3.13 ``VERIFY_X509_PARTIAL_CHAIN | VERIFY_X509_STRICT``
    for either purpose (ssl.py's own code; not called, since ``ssl`` may be redirected to tlsapi, and the
    call loads the system store). ``tests/test_fidelity.py`` compares it with the real function."""
    flags = ssl.VerifyFlags.VERIFY_X509_TRUSTED_FIRST
    if sys.version_info >= (3, 13):
        flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    return flags


def get_server_certificate(
    addr: tuple[str, int],
    ssl_version: int = PROTOCOL_TLS_CLIENT,
    ca_certs: str | None = None,
    timeout: float | None = socket.getdefaulttimeout(),
    *,
    backend: BackendSpec | None = None,
) -> str:
    """Connect to ``addr``, handshake and return the server's certificate as PEM.

    The certificate is verified (without hostname check) only when ``ca_certs`` is given, as in the stdlib.
    ``ssl_version`` is ``PROTOCOL_TLS_CLIENT`` (or the deprecated ``PROTOCOL_TLS`` / ``PROTOCOL_TLSv1_2``, with
    ``ssl``'s warning); ``PROTOCOL_TLSv1`` / ``PROTOCOL_TLSv1_1`` raise ``UnsupportedFeatureError``.
    """
    host, port = addr
    context = Context(ssl_version, backend=backend)
    context.check_hostname = False
    if ca_certs is not None:
        context.verify_mode = CERT_REQUIRED
        context.load_verify_locations(ca_certs)
    else:
        context.verify_mode = CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der: Any = tls.getpeercert(True)
    return DER_cert_to_PEM_cert(der)
