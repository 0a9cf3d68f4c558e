"""Trust policy as OpenSSL (the ``ssl`` module) applies it: private-PKI CA certificates, a trusted
self-signed leaf, and the verify flags, each either honoured with OpenSSL's ``verify_code`` or refused
with ``UnsupportedFeatureError`` when set (never accepted and ignored)."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import tlsapi
from tlsapi_conformance.harness import BIOPair, check_error, not_declared

Pair = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def _certificate(name: str, issuer: Pair | None = None, *, ca: bool = False, strict_ca: bool = True,
                 key_ids: bool = True, serial: int | None = None) -> Pair:
    """An EC certificate: a CA (``strict_ca`` False: basicConstraints not critical and no keyUsage, as
    ``openssl req -x509`` makes them) or a leaf for ``localhost`` (a CA can carry the SAN too)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer, issuer_name = (key, subject) if issuer is None else (issuer[1], issuer[0].subject)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(serial or x509.random_serial_number())
               .not_valid_before(NOW - DAY).not_valid_after(NOW + 30 * DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=strict_ca or not ca)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False))
    if ca and strict_ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    if key_ids:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False)
    return builder.sign(signer, hashes.SHA256()), key


def _pem(directory: Path, name: str, *items: Any) -> Path:
    blobs = [item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
             if isinstance(item, ec.EllipticCurvePrivateKey) else item.public_bytes(serialization.Encoding.PEM)
             for item in items]
    path = directory / name
    path.write_bytes(b"".join(blobs))
    return path


def _handshake(backend: tlsapi.Backend, tmp_path: Path, chain: list[Pair], trusted: list[Any],
               flags: int | None = None) -> BaseException | None:
    """A handshake of ``backend`` with itself: the server presents ``chain``, the client trusts ``trusted``
    (certificates and CRLs, one PEM file) with ``flags`` as its verify flags; the client's error or None."""
    server = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend)
    server.load_cert_chain(_pem(tmp_path, "chain.pem", *(c for c, _ in chain)), _pem(tmp_path, "key.pem", chain[0][1]))
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    client.load_verify_locations(_pem(tmp_path, "trusted.pem", *trusted))
    if flags is not None:
        try:
            client.verify_flags = ssl.VerifyFlags(flags)
        except tlsapi.UnsupportedFeatureError:
            not_declared(f"{backend.name} refuses {ssl.VerifyFlags(flags)!r} (loudly, not ignored)")
    return BIOPair(client, server, server_hostname="localhost").handshake().client_error


def _check_code(backend: tlsapi.Backend, error: BaseException | None, code: int) -> None:
    """A rejected chain (core: the class and reason); OpenSSL's ``code`` where the backend declares
    VERIFY_DIAGNOSTICS (graded: an engine with other diagnostics is still certified for core)."""
    verify_error = check_error(error, "SSLCertVerificationError")
    assert verify_error.reason == "CERTIFICATE_VERIFY_FAILED", verify_error
    if tlsapi.Capability.VERIFY_DIAGNOSTICS in backend.capabilities():
        assert verify_error.verify_code == code, (verify_error.verify_code, verify_error.verify_message)


def test_ca_as_openssl_req_makes_it(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """A CA whose basicConstraints is not critical and that has no keyUsage (CPython's test CA, the
    ``openssl req -x509`` one-liner) is a CA to OpenSSL: its leaves verify."""
    root = _certificate("Loose CA", ca=True, strict_ca=False)
    assert _handshake(backend, tmp_path, [_certificate("localhost", root)], [root[0]]) is None


@pytest.mark.capability(tlsapi.Capability.TRUSTED_CA_LEAF)
def test_trusted_self_signed_leaf(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """The development certificate (self-signed, CA:TRUE) trusted and served as the leaf connects; the
    same certificate untrusted is 18 (self-signed certificate)."""
    development = _certificate("localhost", ca=True, strict_ca=False)
    assert _handshake(backend, tmp_path, [development], [development[0]]) is None
    _check_code(backend, _handshake(backend, tmp_path, [development], [_certificate("Other", ca=True)[0]]), 18)


def test_verify_x509_strict(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """VERIFY_X509_STRICT refuses a leaf without authorityKeyIdentifier (85) that the default accepts."""
    root = _certificate("Root", ca=True)
    chain = [_certificate("localhost", root, key_ids=False)]
    assert _handshake(backend, tmp_path, chain, [root[0]]) is None
    _check_code(backend, _handshake(backend, tmp_path, chain, [root[0]],
                           ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_STRICT), 85)


def test_verify_x509_partial_chain(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """VERIFY_X509_PARTIAL_CHAIN makes a trusted intermediate an anchor (without it: 2)."""
    root = _certificate("Root", ca=True)
    intermediate = _certificate("Intermediate", root, ca=True)
    chain = [_certificate("localhost", intermediate), intermediate]
    _check_code(backend, _handshake(backend, tmp_path, chain, [intermediate[0]]), 2)
    assert _handshake(backend, tmp_path, chain, [intermediate[0]],
                      ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_PARTIAL_CHAIN) is None


def test_verify_crl_check_leaf(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """VERIFY_CRL_CHECK_LEAF with a CRL loaded beside the root: a revoked leaf is 23."""
    root = _certificate("Root", ca=True)
    revoked = _certificate("localhost", root, serial=4242)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(root[0].subject)
           .last_update(NOW - DAY).next_update(NOW + DAY)
           .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(4242)
                                    .revocation_date(NOW - DAY).build())
           .sign(root[1], hashes.SHA256()))
    assert _handshake(backend, tmp_path, [revoked], [root[0], crl]) is None
    _check_code(backend, _handshake(backend, tmp_path, [revoked], [root[0], crl],
                           ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_CRL_CHECK_LEAF), 23)
