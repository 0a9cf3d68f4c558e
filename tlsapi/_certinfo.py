"""``certificate_dict``: a certificate as the dict ``ssl.SSLSocket.getpeercert()`` returns.

The result equals what the stdlib's ``_ssl._test_decode_cert`` (OpenSSL 3) gives for the same certificate:
names as tuples of RDN tuples with OpenSSL's long attribute names, the serial number in uppercase hex as
``i2a_ASN1_INTEGER`` prints it, dates as ``ASN1_TIME_print`` does (``'Jan  1 00:00:00 2000 GMT'``),
IPv6 addresses as eight uncompressed uppercase groups, and the AIA/CRL URIs as tuples.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

__all__ = ["certificate_dict", "name_tuple"]

# OpenSSL's long names (OBJ_nid2ln) for the attribute types cryptography knows; others print as dotted OIDs.
_LONG_NAMES: dict[str, str] = {
    "2.5.4.3": "commonName",
    "2.5.4.4": "surname",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "countryName",
    "2.5.4.7": "localityName",
    "2.5.4.8": "stateOrProvinceName",
    "2.5.4.9": "streetAddress",
    "2.5.4.10": "organizationName",
    "2.5.4.11": "organizationalUnitName",
    "2.5.4.12": "title",
    "2.5.4.13": "description",
    "2.5.4.15": "businessCategory",
    "2.5.4.16": "postalAddress",
    "2.5.4.17": "postalCode",
    "2.5.4.41": "name",
    "2.5.4.42": "givenName",
    "2.5.4.43": "initials",
    "2.5.4.44": "generationQualifier",
    "2.5.4.45": "x500UniqueIdentifier",
    "2.5.4.46": "dnQualifier",
    "2.5.4.65": "pseudonym",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "userId",
    "0.9.2342.19200300.100.1.25": "domainComponent",
    "1.2.840.113549.1.9.1": "emailAddress",
    "1.2.840.113549.1.9.2": "unstructuredName",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionLocalityName",
    "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionStateOrProvinceName",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionCountryName",
    "1.2.643.3.131.1.1": "INN",
    "1.2.643.100.1": "OGRN",
    "1.2.643.100.3": "SNILS",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _attribute_value(attribute: x509.NameAttribute[Any]) -> str:
    value = attribute.value
    return value if isinstance(value, str) else value.decode("latin-1")


def name_tuple(name: x509.Name) -> tuple[tuple[tuple[str, str], ...], ...]:
    """``name`` as the stdlib's tuple of RDNs, each a tuple of ``(long name, value)`` pairs."""
    return tuple(
        tuple(
            (_LONG_NAMES.get(attribute.oid.dotted_string, attribute.oid.dotted_string), _attribute_value(attribute))
            for attribute in rdn
        )
        for rdn in name.rdns
    )


def _time(value: datetime.datetime) -> str:
    """OpenSSL's ``ASN1_TIME_print``: ``'Mon DD HH:MM:SS YYYY GMT'`` with a space-padded day."""
    return (
        f"{_MONTHS[value.month - 1]} {value.day:2d} {value.hour:02d}:{value.minute:02d}:{value.second:02d} "
        f"{value.year} GMT"
    )


def _serial(number: int) -> str:
    """``i2a_ASN1_INTEGER``: the magnitude's bytes in uppercase hex (at least one byte), ``-`` if negative."""
    magnitude = abs(number)
    text = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "big").hex().upper()
    return f"-{text}" if number < 0 else text


def _ip(address: ipaddress.IPv4Address | ipaddress.IPv6Address | Any) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        packed = address.packed
        return ":".join(f"{int.from_bytes(packed[i:i + 2], 'big'):X}" for i in range(0, 16, 2))
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return "<invalid>"  # a network (name constraints syntax) in a SAN: OpenSSL's output for a bad length


def _general_name(name: x509.GeneralName) -> tuple[str, Any]:
    if isinstance(name, x509.DNSName):
        return ("DNS", name.value)
    if isinstance(name, x509.IPAddress):
        return ("IP Address", _ip(name.value))
    if isinstance(name, x509.RFC822Name):
        return ("email", name.value)
    if isinstance(name, x509.UniformResourceIdentifier):
        return ("URI", name.value)
    if isinstance(name, x509.DirectoryName):
        return ("DirName", name_tuple(name.value))
    if isinstance(name, x509.RegisteredID):
        return ("Registered ID", _LONG_NAMES.get(name.value.dotted_string, name.value.dotted_string))
    return ("othername", "<unsupported>")


def _uris(descriptions: x509.AuthorityInformationAccess, method: x509.ObjectIdentifier) -> tuple[str, ...]:
    return tuple(
        d.access_location.value
        for d in descriptions
        if d.access_method == method and isinstance(d.access_location, x509.UniformResourceIdentifier)
    )


def certificate_dict(cert: x509.Certificate) -> dict[str, Any]:
    """The ``getpeercert()`` dict for ``cert`` (identical to ``ssl._ssl._test_decode_cert``'s)."""
    result: dict[str, Any] = {
        "subject": name_tuple(cert.subject),
        "issuer": name_tuple(cert.issuer),
        "version": cert.version.value + 1,
        "serialNumber": _serial(cert.serial_number),
        "notBefore": _time(cert.not_valid_before_utc),
        "notAfter": _time(cert.not_valid_after_utc),
    }
    extensions = cert.extensions
    try:
        san = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        result["subjectAltName"] = tuple(_general_name(name) for name in san)
    try:
        aia = extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        pass
    else:
        ocsp = _uris(aia, AuthorityInformationAccessOID.OCSP)
        ca_issuers = _uris(aia, AuthorityInformationAccessOID.CA_ISSUERS)
        if ocsp:
            result["OCSP"] = ocsp
        if ca_issuers:
            result["caIssuers"] = ca_issuers
    try:
        cdp = extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        pass
    else:
        uris = tuple(
            name.value
            for point in cdp
            for name in (point.full_name or ())
            if isinstance(name, x509.UniformResourceIdentifier)
        )
        if uris:
            result["crlDistributionPoints"] = uris
    return result
