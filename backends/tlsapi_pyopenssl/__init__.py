"""tlsapi's pyOpenSSL backend: ``OpenSSL.SSL`` in memory-BIO mode, on the OpenSSL that ``cryptography`` bundles.

Importing this package never imports pyOpenSSL: the registry imports ``tlsapi_pyopenssl._backend`` on first
use, and reports the backend unavailable when pyOpenSSL (the ``tlsapi[pyopenssl]`` extra) is missing.
"""

from __future__ import annotations

import importlib.metadata
from typing import TYPE_CHECKING

from tlsapi import Backend

if TYPE_CHECKING:
    from tlsapi import Capability


def _version() -> str:
    try:
        return importlib.metadata.version("pyOpenSSL")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _capabilities() -> list[Capability]:
    try:
        from ._backend import capabilities
    except ImportError:
        return []
    return capabilities()


BACKEND = Backend(
    "pyopenssl",
    version=_version(),
    description="pyOpenSSL over the OpenSSL that cryptography bundles",
    context_class="tlsapi_pyopenssl._backend:PyOpenSSLContext",
    capabilities=_capabilities,
    requires=["OpenSSL", "service_identity"],
)

__all__ = ["BACKEND"]
