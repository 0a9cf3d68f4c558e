"""tlsapi's stdlib backend: the ``ssl`` module, with tlsapi's error classes and interface."""

from __future__ import annotations

import ssl

from tlsapi import Backend

from ._backend import StdlibContext, _capabilities

BACKEND = Backend(
    "stdlib",
    version=ssl.OPENSSL_VERSION,
    description="CPython's ssl module (OpenSSL linked into the interpreter)",
    context_class="tlsapi_stdlib._backend:StdlibContext",
    capabilities=_capabilities,
)

StdlibContext.backend = BACKEND

__all__ = ["BACKEND"]
