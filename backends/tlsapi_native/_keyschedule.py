"""The TLS 1.3 key schedule (RFC 8446 section 7): HKDF, secrets, traffic keys and the transcript hash."""

from __future__ import annotations

import functools
import hashlib
import hmac as _hmac

# OpenSSL's HMAC as CPython's hashlib has it (the module behind ``hmac.new`` with a digest name; tlsapi
# requires ``ssl``, so OpenSSL and this module are always there): keying one costs a third of cryptography's
# ``HMAC``, and a handshake keys about fourteen.
from _hashlib import HMAC, hmac_new
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from ._suites import CipherSuite

__all__ = ["KeySchedule", "Transcript", "hkdf_expand_label", "hkdf_extract"]


def hkdf_extract(hash_cls: type[hashes.HashAlgorithm], salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869): ``HMAC-Hash(salt, IKM)``, an empty salt meaning ``Hash.length`` zeros."""
    name = _NAME[hash_cls]
    if salt:
        return hmac_new(salt, ikm, name).digest()
    mac = _constant_keyed(name, bytes(hash_cls().digest_size)).copy()
    mac.update(ikm)
    return mac.digest()


@functools.lru_cache(maxsize=8)
def _constant_keyed(name: str, constant: bytes) -> HMAC:
    """An HMAC keyed with a public ``constant`` of the key schedule (zeros, the early secret and its "derived"
    secret without a PSK), never updated: callers take copies, which cost less than keying a new one.
    Only constants come here; a connection's secrets are never cached."""
    return hmac_new(constant, b"", name)


@functools.lru_cache(maxsize=128)
def _label_prefix(label: bytes, length: int) -> bytes:
    """The constant start of an HkdfLabel: ``uint16 length || opaque label<7..255>`` ("tls13 " + label)."""
    full_label = b"tls13 " + label
    return length.to_bytes(2, "big") + len(full_label).to_bytes(1, "big") + full_label


def _expand(keyed: HMAC, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label with ``keyed``, an HMAC already keyed with the secret (copied, never consumed).

    One HMAC block suffices up to the hash length: ``T(1) = HMAC(secret, info || 0x01)``.
    """
    mac = keyed.copy()
    mac.update(b"".join((_label_prefix(label, length), len(context).to_bytes(1, "big"), context, b"\x01")))
    output = mac.digest()
    return output if length == len(output) else output[:length]


def hkdf_expand_label(
    hash_cls: type[hashes.HashAlgorithm], secret: bytes, label: bytes, context: bytes, length: int
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 section 7.1)."""
    if length <= hash_cls().digest_size:
        return _expand(hmac_new(secret, b"", _NAME[hash_cls]), label, context, length)
    info = _label_prefix(label, length) + len(context).to_bytes(1, "big") + context
    return HKDFExpand(hash_cls(), length, info).derive(secret)


# hashlib's constructor of each suite hash: a transcript is updated with every message and copied for every
# derivation, and hashlib's objects cost a third of cryptography's ``Hash`` to make, copy and finish.
# ``hmac_new`` knows each by its name, the same as cryptography's.
_NAME: dict[type[hashes.HashAlgorithm], str] = {hashes.SHA256: "sha256", hashes.SHA384: "sha384"}
_HASHLIB: dict[type[hashes.HashAlgorithm], Callable[..., Any]] = {
    hash_cls: getattr(hashlib, name) for hash_cls, name in _NAME.items()
}


@functools.lru_cache(maxsize=8)
def _empty_hash(hash_cls: type[hashes.HashAlgorithm]) -> bytes:
    return bytes(_HASHLIB[hash_cls]().digest())


@functools.lru_cache(maxsize=8)
def _zero_early_secret(hash_cls: type[hashes.HashAlgorithm]) -> bytes:
    return hkdf_extract(hash_cls, b"", bytes(hash_cls().digest_size))


@functools.lru_cache(maxsize=8)
def _zero_derived_secret(hash_cls: type[hashes.HashAlgorithm]) -> bytes:
    """``Derive-Secret(early secret, "derived", "")`` without a PSK: the handshake stage's constant salt."""
    return hkdf_expand_label(hash_cls, _zero_early_secret(hash_cls), b"derived", _empty_hash(hash_cls),
                             hash_cls().digest_size)


class Transcript:
    """The running handshake hash over the exact message bytes sent and received."""

    __slots__ = ("_hash",)

    def __init__(self, hash_cls: type[hashes.HashAlgorithm], initial: bytes = b"") -> None:
        self._hash = _HASHLIB[hash_cls](initial)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()  # type: ignore[no-any-return]

    def digest_with(self, data: bytes) -> bytes:
        """The hash as if ``data`` were appended (the transcript itself is unchanged)."""
        running = self._hash.copy()
        running.update(data)
        return running.digest()  # type: ignore[no-any-return]

    def copy(self) -> Transcript:
        clone = Transcript.__new__(Transcript)
        clone._hash = self._hash.copy()
        return clone


@functools.lru_cache(maxsize=64)
def _info(label: bytes, context: bytes, length: int) -> bytes:
    """``HkdfLabel || 0x01`` for a label with a constant context (one-block HKDF-Expand input)."""
    return _label_prefix(label, length) + len(context).to_bytes(1, "big") + context + b"\x01"


class KeySchedule:
    """Secrets of one TLS 1.3 connection with ``suite`` (without a PSK the early secret uses zeros)."""

    __slots__ = ("_empty_hash", "_finished_info", "_hash_cls", "_hash_len", "_iv_info", "_key_info", "_keyed",
                 "_name", "_rms", "_rms_keyed", "_secret", "suite")

    def __init__(self, suite: CipherSuite, psk: bytes | None = None) -> None:
        self.suite = suite
        self._hash_cls = suite.hash
        hash_len = self._hash_len = suite.hash_len
        self._name = _NAME[suite.hash]
        self._empty_hash = _empty_hash(suite.hash)
        self._key_info = _info(b"key", b"", suite.key_len)
        self._iv_info = _info(b"iv", b"", suite.iv_len)
        self._finished_info = _info(b"finished", b"", hash_len)
        self._rms = b""  # the resumption master secret that _rms_keyed is keyed with (every ticket's PSK uses it)
        self._rms_keyed: HMAC | None = None
        # The early secret (without a PSK a constant of the hash, and so its keyed HMAC).
        if psk:
            self._enter(hkdf_extract(suite.hash, b"", psk))
        else:
            secret = self._secret = _zero_early_secret(suite.hash)
            self._keyed = _constant_keyed(self._name, secret).copy()

    def _enter(self, secret: bytes) -> None:
        """Make ``secret`` the current stage secret, keeping an HMAC keyed with it for its derivations."""
        self._secret = secret
        self._keyed = hmac_new(secret, b"", self._name)

    def _hmac(self, secret: bytes) -> HMAC:
        return self._keyed if secret is self._secret else hmac_new(secret, b"", self._name)

    def expand_label(self, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
        if length > self._hash_len:
            return hkdf_expand_label(self._hash_cls, secret, label, context, length)
        return _expand(self._hmac(secret), label, context, length)

    def derive_secret(self, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
        mac = self._keyed.copy() if secret is self._secret else hmac_new(secret, b"", self._name)
        mac.update(b"".join((_label_prefix(label, self._hash_len), len(transcript_hash).to_bytes(1, "big"),
                             transcript_hash, b"\x01")))
        return mac.digest()

    def _next_stage(self, ikm: bytes) -> None:
        if self._secret is _zero_early_secret(self._hash_cls):  # the salt is a constant too
            mac = _constant_keyed(self._name, _zero_derived_secret(self._hash_cls)).copy()
            mac.update(ikm)
            self._enter(mac.digest())
            return
        mac = self._keyed  # consumed: the stage ends here
        mac.update(_info(b"derived", self._empty_hash, self._hash_len))
        self._enter(hmac_new(mac.digest(), ikm, self._name).digest())

    def handshake_secrets(self, shared_secret: bytes, transcript_hash: bytes) -> tuple[bytes, bytes]:
        """Enter the handshake stage; ``(client, server)`` handshake traffic secrets for ``Hash(CH..SH)``."""
        self._next_stage(shared_secret)
        return (self.derive_secret(self._secret, b"c hs traffic", transcript_hash),
                self.derive_secret(self._secret, b"s hs traffic", transcript_hash))

    def application_secrets(self, transcript_hash: bytes) -> tuple[bytes, bytes, bytes]:
        """Enter the master stage; ``(client, server, exporter)`` secrets for ``Hash(CH..server Finished)``."""
        self._next_stage(bytes(self._hash_len))
        return (self.derive_secret(self._secret, b"c ap traffic", transcript_hash),
                self.derive_secret(self._secret, b"s ap traffic", transcript_hash),
                self.derive_secret(self._secret, b"exp master", transcript_hash))

    def binder(self, truncated_hello_hash: bytes, *, external: bool = False) -> bytes:
        """The PSK binder (RFC 8446 4.2.11.2) of a resumption PSK (or with ``external`` of an external one),
        over ``Hash(... truncated ClientHello)``."""
        binder_key = self.derive_secret(self._secret, b"ext binder" if external else b"res binder",
                                        self._empty_hash)
        return self.finished_verify_data(binder_key, truncated_hello_hash)

    def resumption_psk(self, resumption_master_secret: bytes, ticket_nonce: bytes) -> bytes:
        """The PSK of a NewSessionTicket (RFC 8446 4.6.1); the HMAC keyed with the resumption master secret
        (which the connection keeps for later tickets anyway) serves every ticket."""
        keyed = self._rms_keyed
        if keyed is None or resumption_master_secret is not self._rms:
            keyed = self._rms_keyed = hmac_new(resumption_master_secret, b"", self._name)
            self._rms = resumption_master_secret
        return _expand(keyed, b"resumption", ticket_nonce, self._hash_len)

    def resumption_master_secret(self, transcript_hash: bytes) -> bytes:
        """``res master`` for ``Hash(CH..client Finished)`` (call after ``application_secrets``)."""
        return self.derive_secret(self._secret, b"res master", transcript_hash)

    def finished_verify_data(self, base_secret: bytes, transcript_hash: bytes) -> bytes:
        name = self._name
        finished_key = hmac_new(base_secret, self._finished_info, name).digest()
        return hmac_new(finished_key, transcript_hash, name).digest()

    def check_finished(self, base_secret: bytes, transcript_hash: bytes, verify_data: bytes) -> bool:
        return _hmac.compare_digest(self.finished_verify_data(base_secret, transcript_hash), verify_data)

    def traffic_keys(self, secret: bytes) -> tuple[bytes, bytes]:
        """``(key, iv)`` for a traffic secret."""
        suite = self.suite
        keyed = hmac_new(secret, b"", self._name)
        mac = keyed.copy()
        mac.update(self._key_info)
        keyed.update(self._iv_info)
        return mac.digest()[: suite.key_len], keyed.digest()[: suite.iv_len]

    def next_traffic_secret(self, secret: bytes) -> bytes:
        """``application_traffic_secret_N+1`` (KeyUpdate)."""
        return self.expand_label(secret, b"traffic upd", b"", self._hash_len)

    def exporter(self, exporter_secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
        """RFC 8446 section 7.5 keying material."""
        secret = self.derive_secret(exporter_secret, label, self._empty_hash)
        return self.expand_label(secret, b"exporter", _HASHLIB[self._hash_cls](context).digest(), length)
