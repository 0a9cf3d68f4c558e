"""The TLS 1.2 PRF (RFC 5246 section 5) and the secrets derived with it.

``P_hash`` is built from ``cryptography``'s HMAC only. The master secret is the extended master secret
(RFC 7627); the legacy one is derived only by a server for a client that does not offer the extension.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

__all__ = ["exporter", "extended_master_secret", "key_block", "legacy_master_secret", "prf", "verify_data"]

MASTER_SECRET_LEN = 48
VERIFY_DATA_LEN = 12


def prf(hash_cls: type[hashes.HashAlgorithm], secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """``PRF(secret, label, seed)`` truncated to ``length`` bytes: P_<hash>(secret, label + seed)."""
    algorithm = hash_cls()
    seed = label + seed
    base = HMAC(secret, algorithm)
    output = bytearray()
    a = seed
    while len(output) < length:
        mac = base.copy()
        mac.update(a)
        a = mac.finalize()
        mac = base.copy()
        mac.update(a + seed)
        output += mac.finalize()
    return bytes(output[:length])


def extended_master_secret(hash_cls: type[hashes.HashAlgorithm], premaster: bytes, session_hash: bytes) -> bytes:
    """RFC 7627: ``PRF(pre_master_secret, "extended master secret", session_hash)[0..47]``."""
    return prf(hash_cls, premaster, b"extended master secret", session_hash, MASTER_SECRET_LEN)


def legacy_master_secret(
    hash_cls: type[hashes.HashAlgorithm], premaster: bytes, client_random: bytes, server_random: bytes
) -> bytes:
    """RFC 5246 section 8.1, for clients without the extended master secret (``"master secret"`` over the
    randoms only: the session is not bound to its handshake, see RFC 7627)."""
    return prf(hash_cls, premaster, b"master secret", client_random + server_random, MASTER_SECRET_LEN)


def key_block(
    hash_cls: type[hashes.HashAlgorithm], master: bytes, client_random: bytes, server_random: bytes, length: int
) -> bytes:
    """The key block (RFC 5246 section 6.3): note the server random comes first."""
    return prf(hash_cls, master, b"key expansion", server_random + client_random, length)


def verify_data(hash_cls: type[hashes.HashAlgorithm], master: bytes, server: bool, transcript_hash: bytes) -> bytes:
    """Finished.verify_data (RFC 5246 section 7.4.9)."""
    label = b"server finished" if server else b"client finished"
    return prf(hash_cls, master, label, transcript_hash, VERIFY_DATA_LEN)


def exporter(
    hash_cls: type[hashes.HashAlgorithm], master: bytes, client_random: bytes, server_random: bytes,
    label: bytes, context: bytes | None, length: int,
) -> bytes:
    """RFC 5705 keying material (``context=None`` means no context, unlike an empty one)."""
    seed = client_random + server_random
    if context is not None:
        seed += len(context).to_bytes(2, "big") + context
    return prf(hash_cls, master, label, seed, length)
