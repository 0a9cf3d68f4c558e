"""Peer certificate verification on ``cryptography.x509.verification``, with OpenSSL's error codes.

cryptography decides whether a chain is valid: path building, signatures, validity periods, name
constraints and hostname/IP matching are all its own. When it rejects a chain, this module works out the
``verify_code``/``verify_message`` OpenSSL (the stdlib) reports for the same chain, and the alert OpenSSL
sends, from cryptography's message plus cheap re-checks (again with cryptography) in OpenSSL's order of
checks: chain building (18, 19, 20, 2), CA and purpose checks (79, 25, 26), hostname (62, 64), signatures
and validity (7, 9, 10), name constraints (47, 48).

Policy decisions (cryptography's web-PKI profile, tuned to accept what OpenSSL accepts):

* subjectAltName may be critical beside a non-empty subject (trustme issues such certificates; RFC 5280
  only says SHOULD). Server verification still requires a SAN: tlsapi never matches the subject CN
  (``hostname_checks_common_name`` is False), so a leaf without SAN is a hostname mismatch (62), as in the
  stdlib.
* authorityKeyIdentifier and subjectKeyIdentifier are optional (OpenSSL never requires them; self-signed
  test certificates and older CAs often lack them).
* extendedKeyUsage is checked by our validator with OpenSSL's rule: when present, on the leaf or on a CA,
  it must list serverAuth (verifying a server) or clientAuth (verifying a client); anyExtendedKeyUsage alone
  is refused, as OpenSSL refuses it.
* Kept from cryptography, deliberately: CA certificates need basicConstraints cA=TRUE and, if they carry
  keyUsage, keyCertSign (OpenSSL agrees); RSA keys of at least 2048 bits and no SHA-1 signatures (OpenSSL's
  default security level 2 agrees); a maximum chain depth of 8 certificates beyond the leaf.
* Trust anchors: by default only self-issued certificates of the trust store are anchors, and the other
  store certificates serve as intermediates, which is OpenSSL's behaviour without
  ``VERIFY_X509_PARTIAL_CHAIN`` (a chain ending at a trusted intermediate fails with 2 or 20). With
  ``partial_chain=True`` every store certificate is an anchor.
* With ``check_hostname`` False (client side) a ``ClientVerifier`` performs path validation with the
  serverAuth EKU validator above: cryptography's ``ServerVerifier`` always matches a subject, and this
  keeps the full path and EKU checks without one.

Building a ``Store`` is the costly part: ``build_store`` makes a reusable :class:`TrustStore`, and
``verify_peer_chain`` caches one per anchor set when given a plain sequence.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import ssl
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    ServerVerifier,
    Store,
    VerificationError,
)

from tlsapi.spi import VERIFY_MESSAGES, SSLCertVerificationError, verification_error

from ._alerts import TLSAlert
from ._handshake import parse_certificate
from ._limits import MAX_CHAIN_LENGTH

__all__ = ["TrustStore", "build_store", "verify_peer_chain"]

_AD = ssl.AlertDescription

# OpenSSL 3's verify codes (their messages: tlsapi.spi.VERIFY_MESSAGES).
UNSPECIFIED = 1
UNABLE_TO_GET_ISSUER_CERT = 2
CERT_SIGNATURE_FAILURE = 7
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
CERT_CHAIN_TOO_LONG = 22
PATH_LENGTH_EXCEEDED = 25
INVALID_PURPOSE = 26
CERT_REJECTED = 28
PERMITTED_VIOLATION = 47
EXCLUDED_VIOLATION = 48
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64
EE_KEY_TOO_SMALL = 66
CA_MD_TOO_WEAK = 68
INVALID_CA = 79

# The alert OpenSSL sends for each code (ssl_verify_alarm_type); certificate_unknown otherwise.
_ALERTS: dict[int, int] = {
    UNSPECIFIED: _AD.ALERT_DESCRIPTION_INTERNAL_ERROR,
    UNABLE_TO_GET_ISSUER_CERT: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    CERT_SIGNATURE_FAILURE: _AD.ALERT_DESCRIPTION_DECRYPT_ERROR,
    CERT_NOT_YET_VALID: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    CERT_HAS_EXPIRED: _AD.ALERT_DESCRIPTION_CERTIFICATE_EXPIRED,
    DEPTH_ZERO_SELF_SIGNED_CERT: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    SELF_SIGNED_CERT_IN_CHAIN: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    PATH_LENGTH_EXCEEDED: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    CERT_CHAIN_TOO_LONG: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    INVALID_CA: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    INVALID_PURPOSE: _AD.ALERT_DESCRIPTION_UNSUPPORTED_CERTIFICATE,
    CERT_REJECTED: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    HOSTNAME_MISMATCH: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    IP_ADDRESS_MISMATCH: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    EE_KEY_TOO_SMALL: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    CA_MD_TOO_WEAK: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
}

_EKU_MARKER = "unsuitable certificate purpose"


def _eku_validator(
    purpose: x509.ObjectIdentifier,
) -> Callable[[Policy, x509.Certificate, x509.ExtendedKeyUsage | None], None]:
    """OpenSSL's purpose rule: an extendedKeyUsage, when present, must list ``purpose``."""

    def validate(policy: Policy, certificate: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is not None and purpose not in eku:
            raise ValueError(_EKU_MARKER)

    return validate


def _policies(purpose: x509.ObjectIdentifier, *, need_san: bool) -> tuple[ExtensionPolicy, ExtensionPolicy]:
    eku = _eku_validator(purpose)
    ca = (
        ExtensionPolicy.webpki_defaults_ca()
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.SubjectKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, eku)
    )
    ee = (
        ExtensionPolicy.webpki_defaults_ee()
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.SubjectKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, eku)
    )
    if need_san:  # ServerVerifier matches the subject against it
        ee = ee.require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    else:
        ee = ee.may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    return ca, ee


_SERVER_NAMED = _policies(ExtendedKeyUsageOID.SERVER_AUTH, need_san=True)
_SERVER_UNNAMED = _policies(ExtendedKeyUsageOID.SERVER_AUTH, need_san=False)
_CLIENT = _policies(ExtendedKeyUsageOID.CLIENT_AUTH, need_san=False)


def _self_issued(certificate: x509.Certificate) -> bool:
    """OpenSSL's test for a possible trust-anchor/self-signed certificate: issuer == subject (no signature check)."""
    return certificate.issuer == certificate.subject


@dataclass(frozen=True, eq=False)
class TrustStore:
    """A trust store built once for a set of anchors (keep it on the context; it is immutable)."""

    anchors: tuple[x509.Certificate, ...]
    store: Store | None  # self-issued anchors (None when there are none)
    store_partial: Store | None  # every anchor (VERIFY_X509_PARTIAL_CHAIN)
    intermediates: tuple[x509.Certificate, ...]  # non-self-issued anchors: usable as chain elements


def build_store(anchors: Sequence[x509.Certificate]) -> TrustStore:
    """The :class:`TrustStore` for ``anchors`` (the trust store's certificates)."""
    anchors = tuple(anchors)
    roots = [certificate for certificate in anchors if _self_issued(certificate)]
    others = tuple(certificate for certificate in anchors if not _self_issued(certificate))
    return TrustStore(
        anchors=anchors,
        store=Store(roots) if roots else None,
        store_partial=Store(list(anchors)) if anchors else None,
        intermediates=others,
    )


_CACHE: OrderedDict[tuple[int, ...], TrustStore] = OrderedDict()
_CACHE_SIZE = 16


def _cached_store(anchors: Sequence[x509.Certificate]) -> TrustStore:
    # Keyed on object identity: the cached TrustStore holds the certificates, so the ids stay valid.
    key = tuple(map(id, anchors))
    trust = _CACHE.get(key)
    if trust is None:
        trust = _CACHE[key] = build_store(anchors)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return trust


@functools.lru_cache(maxsize=256)
def _subject(hostname: str) -> x509.DNSName | x509.IPAddress:
    """The name to match (cached: general names are immutable, and parsing a host name as an IP address
    costs a raised exception)."""
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname)


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


@dataclass
class _Request:
    leaf: x509.Certificate
    intermediates: list[x509.Certificate]
    store: Store | None
    server_side_peer: bool
    hostname: str | None  # set when the hostname is checked


def _run(request: _Request, hostname: str | None, time: datetime.datetime | None) -> list[x509.Certificate]:
    """One cryptography verification (raises VerificationError, or ValueError for an unusable subject)."""
    if request.store is None:
        raise VerificationError("candidates exhausted: all candidates exhausted with no interior errors")
    builder = PolicyBuilder().store(request.store)
    if time is not None:
        builder = builder.time(time)
    if request.server_side_peer and hostname is not None:
        try:
            subject = _subject(hostname)
        except ValueError:  # not a name cryptography can match: nothing in a certificate matches it
            raise VerificationError("leaf certificate has no matching subjectAltName") from None
        ca, ee = _SERVER_NAMED
        server: ServerVerifier = builder.extension_policies(ca_policy=ca, ee_policy=ee).build_server_verifier(
            subject
        )
        return server.verify(request.leaf, request.intermediates)
    ca, ee = _SERVER_UNNAMED if request.server_side_peer else _CLIENT
    client: ClientVerifier = builder.extension_policies(ca_policy=ca, ee_policy=ee).build_client_verifier()
    return client.verify(request.leaf, request.intermediates).chain


# Categories of cryptography's failure messages.
_NAME, _TIME, _CHAIN = -1, -2, -3


def _classify(message: str) -> int:
    """A verify code, or _NAME/_TIME/_CHAIN, for one of cryptography's VerificationError messages."""
    text = message.lower()
    rules: tuple[tuple[tuple[str, ...], int], ...] = (
        (("no matching subjectaltname", "has no subjectaltname", "2.5.29.17"), _NAME),
        (("not valid at validation time",), _TIME),
        ((_EKU_MARKER, "eku", "2.5.29.37"), INVALID_PURPOSE),
        (("path length",), PATH_LENGTH_EXCEEDED),
        (("excluded name constraint",), EXCLUDED_VIOLATION),
        (("name constraint",), PERMITTED_VIOLATION),
        (("basicconstraints", "2.5.29.19", "keycertsign", "ca certificate"), INVALID_CA),
        (("signature does not match",), CERT_SIGNATURE_FAILURE),
        (("forbidden signature algorithm", "signature algorithm"), CA_MD_TOO_WEAK),
        (("rsa key", "key is too small", "forbidden public key", "public key"), EE_KEY_TOO_SMALL),
        (("no interior errors", "exceeds max depth", "candidates exhausted"), _CHAIN),
    )
    for needles, code in rules:
        if any(needle in text for needle in needles):
            return code
    return CERT_REJECTED


def _chain_code(request: _Request, extra: Sequence[x509.Certificate]) -> int:
    """18, 19 or 20: how OpenSSL's chain building fails (following issuer names only, for the code)."""
    if _self_issued(request.leaf):
        return DEPTH_ZERO_SELF_SIGNED_CERT
    pool = [*request.intermediates, *extra]
    current = request.leaf
    for _ in range(len(pool)):
        issuer = next((c for c in pool if c.subject == current.issuer and c is not current), None)
        if issuer is None:
            break
        if _self_issued(issuer):
            return SELF_SIGNED_CERT_IN_CHAIN
        current = issuer
    # A chain that reaches a trusted but not self-issued certificate (without partial-chain mode): 2.
    if current is not request.leaf and current in extra:
        return UNABLE_TO_GET_ISSUER_CERT
    return UNABLE_TO_GET_ISSUER_CERT_LOCALLY


def _time_code(certificates: Sequence[x509.Certificate], now: datetime.datetime) -> int | None:
    """9 or 10 for the first certificate (OpenSSL checks top-down) outside its validity period."""
    for certificate in reversed(certificates):
        if certificate.not_valid_before_utc > now:
            return CERT_NOT_YET_VALID
        if certificate.not_valid_after_utc < now:
            return CERT_HAS_EXPIRED
    return None


def _diagnose(request: _Request, trust: TrustStore, message: str, now: datetime.datetime) -> int:
    """OpenSSL's verify code for a chain cryptography rejected with ``message``."""
    code = _classify(message)
    involved = [request.leaf, *request.intermediates]
    issuers = {certificate.issuer for certificate in involved}
    involved += [anchor for anchor in trust.anchors if anchor.subject in issuers]
    if code == _TIME:
        # OpenSSL reports chain, CA, purpose and hostname errors before validity: look for one at a time
        # when every certificate involved is valid.
        time_code = _time_code(involved, now) or CERT_HAS_EXPIRED
        start = max(certificate.not_valid_before_utc for certificate in involved)
        probe = request
        if start > min(certificate.not_valid_after_utc for certificate in involved):
            # No such time: check at least the leaf's name and purpose, trusting the leaf alone.
            probe = _Request(request.leaf, [], Store([request.leaf]), request.server_side_peer, request.hostname)
            start = request.leaf.not_valid_before_utc
        try:
            _run(probe, request.hostname, start)
        except (VerificationError, ValueError) as error:
            other = _classify(str(error))
            if other in (_NAME, _CHAIN, INVALID_CA, PATH_LENGTH_EXCEEDED, INVALID_PURPOSE, CERT_SIGNATURE_FAILURE):
                code = other
            else:
                return time_code
        else:
            return time_code
    if code == _NAME:
        # Chain, CA and purpose errors come before the hostname check in OpenSSL.
        try:
            _run(request, None, None)
        except (VerificationError, ValueError) as error:
            other = _classify(str(error))
            if other in (_CHAIN, INVALID_CA, PATH_LENGTH_EXCEEDED, INVALID_PURPOSE):
                code = other
        if code == _NAME:
            return IP_ADDRESS_MISMATCH if request.hostname and _is_ip(request.hostname) else HOSTNAME_MISMATCH
    if code == _CHAIN:
        return _chain_code(request, trust.anchors)
    return code


def _load(chain: Sequence[bytes]) -> list[x509.Certificate]:
    if not chain:
        raise TLSAlert(_AD.ALERT_DESCRIPTION_DECODE_ERROR, "empty certificate chain")
    certificates = []
    for der in chain:
        try:
            certificates.append(parse_certificate(der))
        except ValueError:
            raise TLSAlert(_AD.ALERT_DESCRIPTION_DECODE_ERROR, "malformed certificate") from None
    return certificates


def verify_peer_chain(
    chain: Sequence[bytes],
    *,
    anchors: Sequence[x509.Certificate] | TrustStore,
    server_hostname: str | None,
    server_side_peer: bool,
    check_hostname: bool,
    partial_chain: bool = False,
) -> list[x509.Certificate]:
    """Verify the peer's certificate chain (DER, leaf first) and return the verified chain, leaf first.

    ``server_side_peer`` is True on a client verifying a server (serverAuth; the name is matched when
    ``check_hostname`` and ``server_hostname`` are set), False on a server verifying a client (clientAuth).
    ``anchors`` is the trust store, or a :class:`TrustStore` from :func:`build_store`. Raises
    :class:`tlsapi.SSLCertVerificationError` with OpenSSL's ``verify_code``/``verify_message`` and an
    ``alert`` attribute (the alert description to send), or ``TLSAlert(decode_error)`` for undecodable DER.
    A chain of more than ``MAX_CHAIN_LENGTH`` certificates fails with ``CERT_CHAIN_TOO_LONG`` before any
    is parsed.
    """
    if len(chain) > MAX_CHAIN_LENGTH:
        raise _error(CERT_CHAIN_TOO_LONG, "")
    certificates = _load(chain)
    trust = anchors if isinstance(anchors, TrustStore) else _cached_store(anchors)
    hostname = server_hostname if server_side_peer and check_hostname else None
    request = _Request(
        leaf=certificates[0],
        intermediates=certificates[1:] if partial_chain else [*certificates[1:], *trust.intermediates],
        store=trust.store_partial if partial_chain else trust.store,
        server_side_peer=server_side_peer,
        hostname=hostname,
    )
    now = datetime.datetime.now(datetime.UTC)
    try:
        return _run(request, hostname, now)
    except (VerificationError, ValueError) as error:
        code = _diagnose(request, trust, str(error), now)
    raise _error(code, hostname or "")


def _error(code: int, hostname: str) -> SSLCertVerificationError:
    message = VERIFY_MESSAGES[code]
    if code in (HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH):
        message = message.format(hostname)
    error = verification_error(code, message, origin="native")
    error.alert = _ALERTS.get(code, _AD.ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN)  # type: ignore[attr-defined]
    return error
