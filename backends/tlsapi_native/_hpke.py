"""HPKE (RFC 9180) base mode with DHKEM(X25519, HKDF-SHA256) and HKDF-SHA256: what Encrypted Client Hello uses.

Encrypted Client Hello seals the inner ClientHello with an HPKE *context*: the AAD is the outer ClientHello,
and after a HelloRetryRequest the same context seals a second inner hello (sequence number 1). The one-shot
``cryptography.hazmat.primitives.hpke.Suite.encrypt``/``decrypt`` (cryptography 50) takes no AAD in its public
API (only private ``_encrypt_with_aad`` helpers), exposes no context and always draws a fresh ephemeral key, so it
can do neither; this module builds the scheme from cryptography's primitives instead (X25519, HMAC/HKDF, the
AEAD classes), following RFC 9180 sections 4, 4.1, 5.1, 5.2 and 7.1.3 step by step.

Supported: KEM 0x0020 DHKEM(X25519, HKDF-SHA256); KDF 0x0001 HKDF-SHA256; AEADs 0x0001 AES-128-GCM,
0x0002 AES-256-GCM, 0x0003 ChaCha20-Poly1305. Base mode only (no PSK, no sender authentication).

Every failure the peer can cause raises an :class:`HPKEError` subclass (:class:`DecapError` for a malformed or
invalid ``enc``, :class:`OpenError` for a ciphertext that does not authenticate); the TLS layer turns them into
a ``decrypt_error`` alert or an ECH rejection as the ECH specification says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tlsapi.ech import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AEAD_CHACHA20_POLY1305,
    KDF_HKDF_SHA256,
    KEM_X25519_HKDF_SHA256,
)

from ._keyschedule import hkdf_extract

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AEAD_CHACHA20_POLY1305",
    "KDF_HKDF_SHA256",
    "KEM_X25519_HKDF_SHA256",
    "SUPPORTED_AEADS",
    "DecapError",
    "HPKEError",
    "MessageLimitReachedError",
    "OpenError",
    "RecipientContext",
    "SenderContext",
    "Suite",
    "decapsulate",
    "derive_key_pair",
    "encapsulate",
    "key_schedule",
    "setup_base_recipient",
    "setup_base_sender",
]

_MODE_BASE: Final = 0x00
_VERSION_LABEL: Final = b"HPKE-v1"
_KEM_SUITE_ID: Final = b"KEM" + KEM_X25519_HKDF_SHA256.to_bytes(2, "big")
_NSECRET: Final = 32  # DHKEM(X25519, HKDF-SHA256): shared secret, Nenc, Npk and Nsk are all 32 bytes
_NENC: Final = 32
_NSK: Final = 32
_NN: Final = 12  # every supported AEAD: 96-bit nonces, 128-bit tags
_NT: Final = 16
_AEAD_KEY_LENGTHS: Final[dict[int, int]] = {AEAD_AES_128_GCM: 16, AEAD_AES_256_GCM: 32, AEAD_CHACHA20_POLY1305: 32}
SUPPORTED_AEADS: Final = frozenset(_AEAD_KEY_LENGTHS)

#: Bounds on caller-supplied lengths, far below RFC 9180's HKDF-SHA256 limits (section 7.2.1). ``info`` for ECH
#: is "tls ech" || 0x00 || ECHConfig, an ECHConfig being at most 4 + 0xFFFF bytes; AAD and plaintext are at most
#: a handshake message (2^24 - 1 bytes).
MAX_INFO_LENGTH: Final = 8 + 4 + 0xFFFF
MAX_MESSAGE_LENGTH: Final = (1 << 24) - 1
_SEQUENCE_LIMIT: Final = (1 << (8 * _NN)) - 1


class HPKEError(ValueError):
    """An HPKE operation failed on peer-controlled input; the TLS layer maps it to ``decrypt_error``."""


class DecapError(HPKEError):
    """The encapsulated key ``enc`` is not 32 bytes, or is a low-order X25519 point (all-zero shared secret)."""


class OpenError(HPKEError):
    """The ciphertext does not authenticate under this context's key, nonce and AAD."""


class MessageLimitReachedError(HPKEError):
    """The context's sequence number is exhausted (2^96 - 1 messages); no further nonce may be used."""


@dataclass(frozen=True)
class Suite:
    """An HPKE cipher suite: KEM, KDF and AEAD identifiers (RFC 9180 section 7). Unsupported ids raise ValueError."""

    kem_id: int = KEM_X25519_HKDF_SHA256
    kdf_id: int = KDF_HKDF_SHA256
    aead_id: int = AEAD_AES_128_GCM

    def __post_init__(self) -> None:
        if self.kem_id != KEM_X25519_HKDF_SHA256:
            raise ValueError(f"unsupported HPKE KEM 0x{self.kem_id:04x}")
        if self.kdf_id != KDF_HKDF_SHA256:
            raise ValueError(f"unsupported HPKE KDF 0x{self.kdf_id:04x}")
        if self.aead_id not in SUPPORTED_AEADS:
            raise ValueError(f"unsupported HPKE AEAD 0x{self.aead_id:04x}")

    @property
    def suite_id(self) -> bytes:
        """``"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)`` (section 5.1)."""
        return b"HPKE" + b"".join(value.to_bytes(2, "big") for value in (self.kem_id, self.kdf_id, self.aead_id))


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """LabeledExtract (section 4): ``Extract(salt, "HPKE-v1" || suite_id || label || ikm)``."""
    return hkdf_extract(hashes.SHA256, salt, _VERSION_LABEL + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """LabeledExpand (section 4): ``Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L)``."""
    labeled_info = length.to_bytes(2, "big") + _VERSION_LABEL + suite_id + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled_info).derive(prk)


def derive_key_pair(ikm: bytes) -> X25519PrivateKey:
    """DeriveKeyPair for DHKEM(X25519) (section 7.1.3): the private key ``LabeledExpand(dkp_prk, "sk", "", 32)``."""
    dkp_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"dkp_prk", ikm)
    return X25519PrivateKey.from_private_bytes(_labeled_expand(_KEM_SUITE_ID, dkp_prk, b"sk", b"", _NSK))


def _shared_secret(private_key: X25519PrivateKey, peer_public: X25519PublicKey, kem_context: bytes) -> bytes:
    """DH then ExtractAndExpand (section 4.1); a low-order peer point (all-zero DH output) is a DecapError."""
    try:
        dh = private_key.exchange(peer_public)
    except ValueError as exc:  # cryptography refuses the all-zero shared secret (section 7.1.4)
        raise DecapError("the HPKE encapsulated key is not a valid X25519 public key") from exc
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, _NSECRET)


def encapsulate(recipient_key: X25519PublicKey, ephemeral_key: X25519PrivateKey) -> tuple[bytes, bytes]:
    """Encap (section 4.1) with the given ephemeral key: ``(shared_secret, enc)``."""
    enc = ephemeral_key.public_key().public_bytes_raw()
    return _shared_secret(ephemeral_key, recipient_key, enc + recipient_key.public_bytes_raw()), enc


def decapsulate(enc: bytes, recipient_key: X25519PrivateKey) -> bytes:
    """Decap (section 4.1): the shared secret, or :class:`DecapError` for an ``enc`` that is not a usable key."""
    if len(enc) != _NENC:
        raise DecapError(f"the HPKE encapsulated key must be {_NENC} bytes, got {len(enc)}")
    kem_context = enc + recipient_key.public_key().public_bytes_raw()
    return _shared_secret(recipient_key, X25519PublicKey.from_public_bytes(enc), kem_context)


def key_schedule(suite: Suite, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """KeySchedule in base mode (section 5.1): the AEAD ``(key, base_nonce)`` (no exporter: ECH uses none)."""
    if len(info) > MAX_INFO_LENGTH:
        raise HPKEError(f"HPKE info is limited to {MAX_INFO_LENGTH} bytes here")
    suite_id = suite.suite_id
    psk_id_hash = _labeled_extract(suite_id, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite_id, b"", b"info_hash", info)
    key_schedule_context = bytes([_MODE_BASE]) + psk_id_hash + info_hash
    secret = _labeled_extract(suite_id, shared_secret, b"secret", b"")
    key = _labeled_expand(suite_id, secret, b"key", key_schedule_context, _AEAD_KEY_LENGTHS[suite.aead_id])
    return key, _labeled_expand(suite_id, secret, b"base_nonce", key_schedule_context, _NN)


class _Context:
    """The AEAD key, base nonce and sequence number of one HPKE context (section 5.2)."""

    __slots__ = ("_aead", "_base_nonce", "_sequence")

    def __init__(self, suite: Suite, shared_secret: bytes, info: bytes) -> None:
        key, self._base_nonce = key_schedule(suite, shared_secret, info)
        self._aead: AESGCM | ChaCha20Poly1305 = (
            ChaCha20Poly1305(key) if suite.aead_id == AEAD_CHACHA20_POLY1305 else AESGCM(key)
        )
        self._sequence = 0

    @property
    def sequence(self) -> int:
        """The sequence number the next seal/open uses (0 for the first message)."""
        return self._sequence

    def _nonce(self) -> bytes:
        """ComputeNonce: ``xor(base_nonce, I2OSP(seq, Nn))``; refuses once the sequence space is exhausted."""
        if self._sequence >= _SEQUENCE_LIMIT:
            raise MessageLimitReachedError("the HPKE context's sequence number is exhausted")
        counter = int.from_bytes(self._base_nonce, "big") ^ self._sequence
        return counter.to_bytes(_NN, "big")


def _check_message(aad: bytes, data: bytes) -> None:
    if len(aad) > MAX_MESSAGE_LENGTH or len(data) > MAX_MESSAGE_LENGTH:
        raise HPKEError(f"HPKE AAD and messages are limited to {MAX_MESSAGE_LENGTH} bytes here")


class SenderContext(_Context):
    """The sender side of an HPKE context: each :meth:`seal` uses the next sequence number."""

    __slots__ = ()

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        """ContextS.Seal: encrypt ``plaintext`` bound to ``aad``; returns ciphertext || 16-byte tag."""
        _check_message(aad, plaintext)
        ciphertext = self._aead.encrypt(self._nonce(), plaintext, aad)
        self._sequence += 1
        return ciphertext


class RecipientContext(_Context):
    """The recipient side of an HPKE context: each successful :meth:`open` advances the sequence number."""

    __slots__ = ()

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        """ContextR.Open: the plaintext, or :class:`OpenError` (sequence number unchanged) if it does not verify."""
        _check_message(aad, ciphertext)
        if len(ciphertext) < _NT:
            raise OpenError("the HPKE ciphertext is shorter than its authentication tag")
        try:
            plaintext = self._aead.decrypt(self._nonce(), ciphertext, aad)
        except InvalidTag as exc:
            raise OpenError("the HPKE ciphertext does not authenticate") from exc
        self._sequence += 1
        return plaintext


def setup_base_sender(
    suite: Suite, recipient_key: X25519PublicKey, info: bytes, *, ephemeral_key: X25519PrivateKey | None = None
) -> tuple[bytes, SenderContext]:
    """SetupBaseS (section 5.1.1): ``(enc, context)`` for sealing to ``recipient_key``.

    ``ephemeral_key`` defaults to a fresh X25519 key (the KEM's GenerateKeyPair); pass one only to reproduce
    known-answer vectors.
    """
    ephemeral = ephemeral_key if ephemeral_key is not None else X25519PrivateKey.generate()
    shared_secret, enc = encapsulate(recipient_key, ephemeral)
    return enc, SenderContext(suite, shared_secret, info)


def setup_base_recipient(suite: Suite, enc: bytes, recipient_key: X25519PrivateKey, info: bytes) -> RecipientContext:
    """SetupBaseR (section 5.1.1): the context for opening what was sealed to ``recipient_key`` with ``enc``.

    Raises :class:`DecapError` if ``enc`` is not a 32-byte X25519 public key giving a non-zero shared secret.
    """
    return RecipientContext(suite, decapsulate(enc, recipient_key), info)
