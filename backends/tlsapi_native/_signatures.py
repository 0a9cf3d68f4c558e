"""Signature schemes (RFC 8446 section 4.2.3): choosing, signing and verifying.

RSA-PSS always uses MGF1 with the scheme's hash and a salt as long as the hash (RFC 8446). In TLS 1.3 an
ECDSA scheme is bound to its curve and RSASSA-PKCS1-v1_5 is not allowed for handshake signatures; in TLS 1.2
(``tls13=False``) ECDSA schemes only fix the hash and PKCS#1 v1.5 is allowed. SHA-1 schemes are not offered.

``rsa_pss_pss_*`` schemes need a certificate whose key is an id-RSASSA-PSS key, ``rsa_pss_rsae_*`` an
rsaEncryption key. ``cryptography`` loads both as ``RSAPrivateKey``/``RSAPublicKey`` (dropping any PSS
parameters), so the certificate's ``public_key_algorithm_oid`` tells them apart: pass ``certificate``.
"""

from __future__ import annotations

import ssl
from collections.abc import Collection, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import PublicKeyAlgorithmOID

from ._alerts import TLSAlert
from ._defaults import CERT_SIGNATURE_SCHEMES, SIGNATURE_SCHEMES, TLS12_SIGNATURE_SCHEMES

__all__ = [
    "DEFAULT_CERT_SIGNATURE_SCHEMES",
    "DEFAULT_SIGNATURE_SCHEMES",
    "DEFAULT_TLS12_SIGNATURE_SCHEMES",
    "SCHEME_NAMES",
    "choose_scheme",
    "scheme_matches_key",
    "sign",
    "tls13_certificate_verify_input",
    "verify",
    "verify_offered",
]

ECDSA_SECP256R1_SHA256 = 0x0403
ECDSA_SECP384R1_SHA384 = 0x0503
ECDSA_SECP521R1_SHA512 = 0x0603
RSA_PSS_RSAE_SHA256 = 0x0804
RSA_PSS_RSAE_SHA384 = 0x0805
RSA_PSS_RSAE_SHA512 = 0x0806
ED25519 = 0x0807
RSA_PSS_PSS_SHA256 = 0x0809
RSA_PSS_PSS_SHA384 = 0x080A
RSA_PSS_PSS_SHA512 = 0x080B
RSA_PKCS1_SHA256 = 0x0401
RSA_PKCS1_SHA384 = 0x0501
RSA_PKCS1_SHA512 = 0x0601

SCHEME_NAMES: dict[int, str] = {
    ECDSA_SECP256R1_SHA256: "ecdsa_secp256r1_sha256",
    ECDSA_SECP384R1_SHA384: "ecdsa_secp384r1_sha384",
    ECDSA_SECP521R1_SHA512: "ecdsa_secp521r1_sha512",
    RSA_PSS_RSAE_SHA256: "rsa_pss_rsae_sha256",
    RSA_PSS_RSAE_SHA384: "rsa_pss_rsae_sha384",
    RSA_PSS_RSAE_SHA512: "rsa_pss_rsae_sha512",
    ED25519: "ed25519",
    RSA_PSS_PSS_SHA256: "rsa_pss_pss_sha256",
    RSA_PSS_PSS_SHA384: "rsa_pss_pss_sha384",
    RSA_PSS_PSS_SHA512: "rsa_pss_pss_sha512",
    RSA_PKCS1_SHA256: "rsa_pkcs1_sha256",
    RSA_PKCS1_SHA384: "rsa_pkcs1_sha384",
    RSA_PKCS1_SHA512: "rsa_pkcs1_sha512",
}

# Our signature_algorithms in preference order: TLS 1.3, TLS 1.2 (and signature_algorithms_cert), from
# ``_defaults``, the engine's policy.
DEFAULT_SIGNATURE_SCHEMES: tuple[int, ...] = SIGNATURE_SCHEMES
DEFAULT_TLS12_SIGNATURE_SCHEMES: tuple[int, ...] = TLS12_SIGNATURE_SCHEMES
DEFAULT_CERT_SIGNATURE_SCHEMES: tuple[int, ...] = CERT_SIGNATURE_SCHEMES

_HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    ECDSA_SECP256R1_SHA256: hashes.SHA256, ECDSA_SECP384R1_SHA384: hashes.SHA384,
    ECDSA_SECP521R1_SHA512: hashes.SHA512,
    RSA_PSS_RSAE_SHA256: hashes.SHA256, RSA_PSS_RSAE_SHA384: hashes.SHA384, RSA_PSS_RSAE_SHA512: hashes.SHA512,
    RSA_PSS_PSS_SHA256: hashes.SHA256, RSA_PSS_PSS_SHA384: hashes.SHA384, RSA_PSS_PSS_SHA512: hashes.SHA512,
    RSA_PKCS1_SHA256: hashes.SHA256, RSA_PKCS1_SHA384: hashes.SHA384, RSA_PKCS1_SHA512: hashes.SHA512,
}
_ECDSA_CURVES: dict[int, str] = {
    ECDSA_SECP256R1_SHA256: "secp256r1", ECDSA_SECP384R1_SHA384: "secp384r1",
    ECDSA_SECP521R1_SHA512: "secp521r1",
}
_RSAE = (RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384, RSA_PSS_RSAE_SHA512)
_PSS = (RSA_PSS_PSS_SHA256, RSA_PSS_PSS_SHA384, RSA_PSS_PSS_SHA512)
_PKCS1 = (RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512)

# The algorithm objects of each scheme, made once: they are immutable values, and making them (with
# cryptography's ABC checks of the hash) cost more than a tenth of an ECDSA signature.
_HASH_OBJECTS: dict[int, hashes.HashAlgorithm] = {scheme: hash_class() for scheme, hash_class in _HASHES.items()}
_ECDSA: dict[int, ec.ECDSA] = {scheme: ec.ECDSA(_HASH_OBJECTS[scheme]) for scheme in _ECDSA_CURVES}
_RSA_PADDINGS: dict[int, padding.AsymmetricPadding] = {
    scheme: padding.PKCS1v15() if scheme in _PKCS1 else padding.PSS(
        mgf=padding.MGF1(_HASH_OBJECTS[scheme]), salt_length=_HASH_OBJECTS[scheme].digest_size)
    for scheme in (*_RSAE, *_PSS, *_PKCS1)
}

_EC, _RSA, _ED25519, _UNKNOWN = "EC", "RSA", "Ed25519", "unknown"
_KINDS: dict[type, tuple[str, bool]] = {}


def _kind(key: Any) -> tuple[str, bool]:
    """The family of ``key`` and whether it is a private key, remembered per class of key: ``isinstance``
    against cryptography's abstract key classes goes through ``ABCMeta`` on every call."""
    cls = type(key)
    kind = _KINDS.get(cls)
    if kind is None:
        if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            kind = (_EC, isinstance(key, ec.EllipticCurvePrivateKey))
        elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            kind = (_RSA, isinstance(key, rsa.RSAPrivateKey))
        elif isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
            kind = (_ED25519, isinstance(key, ed25519.Ed25519PrivateKey))
        else:
            kind = (_UNKNOWN, False)
        _KINDS[cls] = kind
    return kind

_DECRYPT_ERROR = ssl.AlertDescription.ALERT_DESCRIPTION_DECRYPT_ERROR
_ILLEGAL_PARAMETER = ssl.AlertDescription.ALERT_DESCRIPTION_ILLEGAL_PARAMETER

_PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


def _is_pss_certificate(certificate: x509.Certificate | None) -> bool:
    return certificate is not None and certificate.public_key_algorithm_oid == PublicKeyAlgorithmOID.RSASSA_PSS


def scheme_matches_key(
    scheme: int, key: Any, *, tls13: bool = True, certificate: x509.Certificate | None = None
) -> bool:
    """Whether ``scheme`` can be used with ``key`` (a private or public key) in this TLS version.

    Without ``certificate``, an RSA key is taken to be an rsaEncryption key (``rsa_pss_rsae_*``).
    """
    family = _kind(key)[0]
    if family == _EC:
        if scheme not in _ECDSA_CURVES:
            return False
        return not tls13 or key.curve.name == _ECDSA_CURVES[scheme]
    if family == _RSA:
        if scheme in _RSAE or scheme in _PSS:
            # A PSS signature needs room for the hash and an equally long salt: 2 * hash + 2 bytes.
            if key.key_size < 8 * (2 * _HASH_OBJECTS[scheme].digest_size + 2):
                return False
            return (scheme in _PSS) == _is_pss_certificate(certificate)
        return not tls13 and scheme in _PKCS1 and not _is_pss_certificate(certificate)
    if family == _ED25519:
        return scheme == ED25519
    return False


def choose_scheme(
    private_key: Any,
    peer_schemes: Sequence[int],
    *,
    tls13: bool = True,
    certificate: x509.Certificate | None = None,
) -> int | None:
    """The scheme to sign with: the first of our preferences that the peer offered and the key supports.

    ``certificate`` (ours) tells an RSASSA-PSS key from an rsaEncryption one. ``None`` if there is none
    (the caller sends handshake_failure).
    """
    offered = set(peer_schemes)
    ours = DEFAULT_SIGNATURE_SCHEMES if tls13 else DEFAULT_TLS12_SIGNATURE_SCHEMES
    for scheme in ours:
        if scheme in offered and scheme_matches_key(scheme, private_key, tls13=tls13, certificate=certificate):
            return scheme
    return None


def sign(scheme: int, private_key: Any, data: bytes) -> bytes:
    """Sign ``data`` with ``scheme`` (``ValueError`` if the key cannot: choose with ``choose_scheme``)."""
    family, private = _kind(private_key)
    if private:
        if family == _ED25519 and scheme == ED25519:
            return private_key.sign(data)  # type: ignore[no-any-return]
        if family == _EC and scheme in _ECDSA:
            return private_key.sign(data, _ECDSA[scheme])  # type: ignore[no-any-return]
        if family == _RSA and scheme in _RSA_PADDINGS:
            return private_key.sign(data, _RSA_PADDINGS[scheme], _HASH_OBJECTS[scheme])  # type: ignore[no-any-return]
    raise ValueError(f"cannot sign with scheme 0x{scheme:04x} and {type(private_key).__name__}")


def verify(
    scheme: int,
    public_key: Any,
    signature: bytes,
    data: bytes,
    *,
    tls13: bool = True,
    certificate: x509.Certificate | None = None,
) -> None:
    """Check the peer's signature over ``data``.

    Raises ``TLSAlert(illegal_parameter)`` if ``scheme`` does not fit the key type/curve (or an RSA-PSS
    certificate when ``certificate`` is given), ``TLSAlert(decrypt_error)`` if the signature is bad.
    Whether we offered ``scheme`` is the caller's check.
    """
    if not scheme_matches_key(scheme, public_key, tls13=tls13, certificate=certificate):
        raise TLSAlert(_ILLEGAL_PARAMETER, f"signature scheme 0x{scheme:04x} does not match the peer's key")
    try:
        family, private = _kind(public_key)
        if private:  # unreachable: the peer's key comes from its certificate
            raise TLSAlert(_ILLEGAL_PARAMETER, "not a public key")
        if family == _ED25519:
            public_key.verify(signature, data)
        elif family == _EC:
            public_key.verify(signature, data, _ECDSA[scheme])
        elif family == _RSA:
            public_key.verify(signature, data, _RSA_PADDINGS[scheme], _HASH_OBJECTS[scheme])
        else:  # unreachable: scheme_matches_key refuses other key types
            raise TLSAlert(_ILLEGAL_PARAMETER, "unsupported key type")
    except InvalidSignature:
        raise TLSAlert(_DECRYPT_ERROR, "bad signature") from None


def verify_offered(
    scheme: int,
    offered: Collection[int],
    certificate: x509.Certificate,
    signature: bytes,
    data: bytes,
    *,
    tls13: bool = True,
) -> None:
    """``verify`` a peer's signature with ``certificate``'s key, by a ``scheme`` that must be one we offered."""
    if scheme not in offered:
        raise TLSAlert(_ILLEGAL_PARAMETER, "signature scheme not offered", "WRONG_SIGNATURE_TYPE")
    verify(scheme, certificate.public_key(), signature, data, tls13=tls13, certificate=certificate)


_SERVER_CONTEXT = b" " * 64 + b"TLS 1.3, server CertificateVerify\x00"
_CLIENT_CONTEXT = b" " * 64 + b"TLS 1.3, client CertificateVerify\x00"


def tls13_certificate_verify_input(transcript_hash: bytes, server: bool) -> bytes:
    """The content a TLS 1.3 CertificateVerify signs (RFC 8446 section 4.4.3)."""
    return (_SERVER_CONTEXT if server else _CLIENT_CONTEXT) + transcript_hash
