"""Encrypted Client Hello material for the ``ECH`` cases, made with the public ``tlsapi.ech``."""

from __future__ import annotations

from tlsapi import ech

ENCRYPTED_CLIENT_HELLO = 0xFE0D  # the ClientHello extension type (draft-ietf-tls-esni)


def ech_config_list(public_name: str, config_id: int = 7) -> bytes:
    """A one-entry ``ECHConfigList`` for a fresh X25519 key (HKDF-SHA256; AES-128-GCM and ChaCha20-Poly1305).

    A client given it encrypts its real ClientHello and names ``public_name`` in the outer one.
    """
    return ech.generate(public_name, config_id=config_id).config_list
