"""``tlsapi._certinfo.certificate_dict`` against the stdlib's ``_ssl._test_decode_cert`` for the same files."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tlsapi._certinfo import certificate_dict

_KEY = ec.generate_private_key(ec.SECP256R1())
UTC = datetime.UTC


def _stdlib_dict(cert: x509.Certificate) -> dict[str, Any]:
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        return ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined,no-any-return]
    finally:
        os.unlink(path)


def _build(
    subject: x509.Name,
    *,
    serial: int = 0x1234,
    not_before: datetime.datetime = datetime.datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC),
    not_after: datetime.datetime = datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
    extensions: tuple[x509.ExtensionType, ...] = (),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuer CA")]))
        .public_key(_KEY.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(_KEY, hashes.SHA256())


def _cases() -> Iterator[tuple[str, x509.Certificate]]:
    simple = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")])
    every_attribute = x509.Name(
        [
            x509.NameAttribute(oid, value)
            for oid, value in (
                (NameOID.COUNTRY_NAME, "DE"),
                (NameOID.STATE_OR_PROVINCE_NAME, "Bayern"),
                (NameOID.LOCALITY_NAME, "München"),
                (NameOID.ORGANIZATION_NAME, "Ünïcode Ltd"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "R&D"),
                (NameOID.COMMON_NAME, "*.example.org"),
                (NameOID.EMAIL_ADDRESS, "admin@example.org"),
                (NameOID.SERIAL_NUMBER, "42"),
                (NameOID.SURNAME, "Doe"),
                (NameOID.GIVEN_NAME, "Jane"),
                (NameOID.TITLE, "Dr"),
                (NameOID.DOMAIN_COMPONENT, "org"),
                (NameOID.USER_ID, "jdoe"),
                (NameOID.BUSINESS_CATEGORY, "Private Organization"),
                (NameOID.POSTAL_CODE, "80331"),
                (NameOID.STREET_ADDRESS, "Marienplatz 1"),
                (NameOID.JURISDICTION_COUNTRY_NAME, "DE"),
                (NameOID.PSEUDONYM, "jd"),
                (NameOID.ORGANIZATION_IDENTIFIER, "VATDE-123"),
                (x509.ObjectIdentifier("1.2.3.4.5"), "private attribute"),
            )
        ]
    )
    multi_valued = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "multi"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "unit"),
                ]
            ),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]),
        ]
    )
    yield "simple", _build(simple)
    yield "every-attribute", _build(every_attribute)
    yield "multi-valued-rdn", _build(multi_valued)
    yield "empty-subject", _build(
        x509.Name([]), extensions=(x509.SubjectAlternativeName([x509.DNSName("only.san")]),)
    )
    for serial in (1, 0x0F, 0x80, 0xFF, 0x0100, 0x00ABCDEF, 2**159 - 1, 2**127 + 5):
        yield f"serial-{serial:x}", _build(simple, serial=serial)
    yield "dates-two-digit-day", _build(
        simple,
        not_before=datetime.datetime(1999, 11, 23, 1, 2, 3, tzinfo=UTC),
        not_after=datetime.datetime(2051, 1, 9, 0, 0, 0, tzinfo=UTC),  # GeneralizedTime after 2049
    )
    yield "san-everything", _build(
        simple,
        extensions=(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("example.com"),
                    x509.DNSName("*.example.com"),
                    x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.IPAddress(ipaddress.ip_address("2001:db8::abcd:1")),
                    x509.IPAddress(ipaddress.ip_address("fe80::")),
                    x509.RFC822Name("user@example.com"),
                    x509.UniformResourceIdentifier("https://example.com/path?q=1"),
                    x509.DirectoryName(multi_valued),
                    x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),
                ]
            ),
        ),
    )
    yield "aia-and-crl", _build(
        simple,
        extensions=(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp.example")
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp2.example")
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://ca.example/ca.der"),
                    ),
                ]
            ),
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [
                            x509.UniformResourceIdentifier("http://crl.example/a.crl"),
                            x509.UniformResourceIdentifier("http://crl.example/b.crl"),
                        ],
                        None,
                        None,
                        None,
                    ),
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://crl2.example/c.crl")], None, None, None
                    ),
                ]
            ),
        ),
    )
    yield "ocsp-only", _build(
        simple,
        extensions=(
            x509.AuthorityInformationAccess(
                [x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://o"))]
            ),
        ),
    )


@pytest.mark.parametrize(("label", "cert"), list(_cases()), ids=lambda value: value if isinstance(value, str) else "")
def test_matches_stdlib(label: str, cert: x509.Certificate) -> None:
    expected = _stdlib_dict(cert)
    actual = certificate_dict(cert)
    assert sorted(actual) == sorted(expected)
    for key, value in expected.items():
        assert actual[key] == value, key


def test_trustme_certificates() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1", "::1", "user@example.com")
    for pem in (ca.cert_pem.bytes(), issued.cert_chain_pems[0].bytes()):
        cert = x509.load_pem_x509_certificate(pem)
        assert certificate_dict(cert) == _stdlib_dict(cert)


def test_certifi_roots() -> None:
    certifi = pytest.importorskip("certifi")
    with open(certifi.where(), "rb") as handle:
        roots = x509.load_pem_x509_certificates(handle.read())
    for cert in roots:
        assert certificate_dict(cert) == _stdlib_dict(cert), cert.subject.rfc4514_string()
