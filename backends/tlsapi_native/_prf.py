"""The TLS 1.2 PRF (RFC 5246 section 5) and the secrets derived with it.

``P_hash`` is built from ``cryptography``'s HMAC only. The master secret is the extended master secret
(RFC 7627); the legacy one is derived only by a server for a client that does not offer the extension.
A ``Prf`` is keyed once with its secret: the master secret's derives the key block, both Finished and any
exported keying material.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

__all__ = ["Prf", "extended_master_secret", "legacy_master_secret", "prf"]

MASTER_SECRET_LEN = 48
VERIFY_DATA_LEN = 12


class Prf:
    """``PRF(secret, label, seed)`` for one secret: P_<hash> with the HMAC keyed once."""

    __slots__ = ("_keyed",)

    def __init__(self, hash_cls: type[hashes.HashAlgorithm], secret: bytes) -> None:
        self._keyed = HMAC(secret, hash_cls())

    def __call__(self, label: bytes, seed: bytes, length: int) -> bytes:
        """``PRF(secret, label, seed)`` truncated to ``length`` bytes."""
        keyed = self._keyed
        seed = label + seed
        output = b""
        a = seed
        while len(output) < length:
            mac = keyed.copy()
            mac.update(a)
            a = mac.finalize()
            mac = keyed.copy()
            mac.update(a + seed)
            output += mac.finalize()
        return output[:length]

    def key_block(self, client_random: bytes, server_random: bytes, length: int) -> bytes:
        """The key block (RFC 5246 section 6.3), from the master secret's PRF: the server random comes first."""
        return self(b"key expansion", server_random + client_random, length)

    def verify_data(self, server: bool, transcript_hash: bytes) -> bytes:
        """Finished.verify_data (RFC 5246 section 7.4.9), from the master secret's PRF."""
        return self(b"server finished" if server else b"client finished", transcript_hash, VERIFY_DATA_LEN)

    def exporter(self, client_random: bytes, server_random: bytes, label: bytes, context: bytes | None,
                 length: int) -> bytes:
        """RFC 5705 keying material, from the master secret's PRF (``context=None`` means no context, unlike an
        empty one)."""
        seed = client_random + server_random
        if context is not None:
            seed += len(context).to_bytes(2, "big") + context
        return self(label, seed, length)


def prf(hash_cls: type[hashes.HashAlgorithm], secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """``PRF(secret, label, seed)`` truncated to ``length`` bytes: P_<hash>(secret, label + seed)."""
    return Prf(hash_cls, secret)(label, seed, length)


def extended_master_secret(hash_cls: type[hashes.HashAlgorithm], premaster: bytes, session_hash: bytes) -> bytes:
    """RFC 7627: ``PRF(pre_master_secret, "extended master secret", session_hash)[0..47]``."""
    return prf(hash_cls, premaster, b"extended master secret", session_hash, MASTER_SECRET_LEN)


def legacy_master_secret(
    hash_cls: type[hashes.HashAlgorithm], premaster: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    """RFC 5246 section 8.1, for clients without the extended master secret (``"master secret"`` over the
    randoms only: the session is not bound to its handshake, see RFC 7627)."""
    return prf(hash_cls, premaster, b"master secret", client_random + server_random, MASTER_SECRET_LEN)
