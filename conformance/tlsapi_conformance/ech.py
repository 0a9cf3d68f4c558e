"""Encrypted Client Hello material for the ``ECH`` cases: an ``ECHConfigList`` built from its fields."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ECH_VERSION = 0xFE0D  # the ECHConfig version of draft-ietf-tls-esni (RFC 9849)
ENCRYPTED_CLIENT_HELLO = 0xFE0D  # the ClientHello extension type
_DHKEM_X25519_HKDF_SHA256 = 0x0020
_HKDF_SHA256 = 0x0001
_AES_128_GCM = 0x0001


def ech_config_list(public_name: str, config_id: int = 7) -> bytes:
    """A one-entry ``ECHConfigList`` for a fresh X25519 key: DHKEM(X25519) / HKDF-SHA256 / AES-128-GCM.

    A client given it encrypts its real ClientHello and names ``public_name`` in the outer one.
    """
    public_key = x25519.X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = public_name.encode("ascii")
    contents = (
        struct.pack(">BHH", config_id, _DHKEM_X25519_HKDF_SHA256, len(public_key)) + public_key
        + struct.pack(">HHH", 4, _HKDF_SHA256, _AES_128_GCM)
        + struct.pack(">BB", 0, len(name)) + name  # maximum_name_length, public_name
        + struct.pack(">H", 0)  # no extensions
    )
    config = struct.pack(">HH", ECH_VERSION, len(contents)) + contents
    return struct.pack(">H", len(config)) + config
