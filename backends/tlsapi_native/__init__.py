"""tlsapi's native engine: TLS 1.3 and TLS 1.2 in pure Python on ``cryptography`` primitives (sans-IO)."""

from __future__ import annotations

from tlsapi import Backend, Capability

__all__ = ["BACKEND"]
__version__ = "0.1.0"

BACKEND = Backend(
    "native",
    version=__version__,
    description="pure-Python TLS 1.3 and 1.2 engine on cryptography",
    context_class="tlsapi_native._context:NativeContext",
    capabilities=[
        Capability.TLSv1_3,
        Capability.TLSv1_2,
        Capability.ALPN,
        Capability.SNI_CALLBACK,
        Capability.CLIENT_AUTH,
        Capability.CLIENT_CERT,
        Capability.VERIFY_DIAGNOSTICS,
        Capability.KEYLOG,
        Capability.SET_CIPHERS,
        Capability.SESSION_RESUMPTION,
        Capability.POST_HANDSHAKE_AUTH,
        Capability.CHANNEL_BINDING,
        Capability.HELLO_RETRY_REQUEST,
        Capability.KEY_UPDATE,
        Capability.EXPORTER,
        Capability.ECH,
        Capability.ECH_SERVER,
        Capability.TRUSTED_CA_LEAF,
        Capability.BIO_TRAILING_DATA,
        Capability.GROUP_X25519,
        Capability.GROUP_SECP256R1,
        Capability.GROUP_SECP384R1,
        Capability.GROUP_X25519MLKEM768,
        Capability.KEY_RSA,
        Capability.KEY_RSA_PSS,
        Capability.KEY_ECDSA,
        Capability.KEY_ED25519,
    ],
    requires=["cryptography"],
)
