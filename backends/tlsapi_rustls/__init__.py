"""tlsapi backend ``rustls``: the rustls engine shipped by the ``rtls`` package (``pip install "tlsapi[rustls]"``).

Built only on ``tlsapi`` and ``tlsapi.spi``. The engine is driven through rtls's sans-IO connection types
(``rtls._rustls``), not its ``SSLObject``; the tested rtls range is :data:`RTLS_TESTED`, and an rtls outside it
(or none at all, e.g. no wheel for this interpreter) makes the backend report itself unavailable with the
reason.
"""

from __future__ import annotations

import importlib.metadata

from tlsapi import Backend, Capability

#: The rtls releases this adapter is tested with (the ``rustls`` extra pins the same range).
RTLS_TESTED = ">=2026.9,<2027"


def _rtls_version() -> str:
    try:
        return importlib.metadata.version("rtls")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def capabilities() -> list[Capability]:
    """What rustls does through rtls here: a client presents certificates, but the server never requests
    them (no CLIENT_AUTH); no resumption, exporter or PHA.

    The SNI callback and the stdlib's ALPN choice run on tlsapi's ClientHello peek before the server is
    configured. Encrypted Client Hello needs rtls built on aws-lc-rs.
    """
    declared = [
        Capability.TLSv1_2, Capability.TLSv1_3, Capability.ALPN, Capability.SNI_CALLBACK,
        Capability.KEY_RSA, Capability.KEY_ECDSA, Capability.KEY_ED25519, Capability.CLIENT_CERT,
    ]
    try:
        from rtls import _rustls
    except ImportError:
        return declared
    if _rustls.crypto_provider() == "aws-lc-rs":
        declared.append(Capability.ECH)
    return declared


BACKEND = Backend(
    "rustls",
    version=f"rtls {_rtls_version()}",
    description="rustls (the rtls package's engine), driven sans-IO",
    context_class="tlsapi_rustls._backend:RustlsContext",
    capabilities=capabilities,
    requires=["rtls._rustls"],
)
