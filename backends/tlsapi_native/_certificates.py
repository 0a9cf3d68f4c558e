"""The peer's and our certificates as DER and as ``cryptography`` objects, parsed and encoded once."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ._alerts import DECODE_ERROR, TLSAlert

# Keyed by the certificates' identities (hashing a certificate costs as much as encoding it); each entry holds
# its certificates, so the ids in its key stay theirs.
_DER: dict[tuple[int, ...], tuple[tuple[x509.Certificate, ...], tuple[bytes, ...]]] = {}
_DER_LIMIT = 64


def der_chain(certificates: Sequence[x509.Certificate] | None) -> tuple[bytes, ...]:
    """The DER encodings of ``certificates`` (cached: a server sends the same chain every handshake, and a
    client's verified chain is the same objects while its verification is remembered)."""
    if not certificates:
        return ()
    key = tuple(map(id, certificates))
    entry = _DER.get(key)
    if entry is None:
        if len(_DER) >= _DER_LIMIT:
            _DER.clear()
        kept = tuple(certificates)
        entry = _DER[key] = (kept, tuple(cert.public_bytes(Encoding.DER) for cert in kept))
    return entry[1]


_PARSED: dict[bytes, x509.Certificate] = {}
_PARSED_LIMIT = 64


def parse_certificate(der: bytes) -> x509.Certificate:
    """``der`` parsed (``ValueError`` if it cannot be), reusing the object of a recent identical DER.

    A peer sends the same chain on every handshake and a resumed session carries it again; certificates
    are immutable, so one object serves them all. The cache is emptied when it reaches its limit.
    """
    der = bytes(der)
    certificate = _PARSED.get(der)
    if certificate is None:
        certificate = x509.load_der_x509_certificate(der)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[der] = certificate
    return certificate


def load_certificate(der: bytes) -> x509.Certificate:
    """``parse_certificate`` for a certificate the peer sent: ``BAD_CERTIFICATE`` if it cannot be parsed."""
    try:
        return parse_certificate(der)
    except ValueError:
        raise TLSAlert(DECODE_ERROR, "unparseable certificate", "BAD_CERTIFICATE") from None
