"""The peer's and our certificates as DER and as ``cryptography`` objects, parsed and encoded once."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ._alerts import DECODE_ERROR, TLSAlert


@functools.lru_cache(maxsize=64)
def _der_chain(certificates: tuple[x509.Certificate, ...]) -> tuple[bytes, ...]:
    return tuple(cert.public_bytes(Encoding.DER) for cert in certificates)


def der_chain(certificates: Sequence[x509.Certificate] | None) -> tuple[bytes, ...]:
    """The DER encodings of ``certificates`` (cached: a server sends the same chain every handshake)."""
    return _der_chain(tuple(certificates)) if certificates else ()


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
