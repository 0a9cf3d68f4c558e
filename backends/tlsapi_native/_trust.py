"""Peer certificate verification on ``cryptography.x509.verification``, with OpenSSL's error codes.

cryptography decides whether a chain is valid: path building, signatures, validity periods, name
constraints and hostname/IP matching are all its own. When it rejects a chain, this module works out the
``verify_code``/``verify_message`` OpenSSL (the stdlib) reports for the same chain, and the alert OpenSSL
sends, from cryptography's message plus cheap re-checks (again with cryptography) in OpenSSL's order of
checks: chain building (18, 19, 20, 2), CA and purpose checks (79, 25, 26, 34), hostname (62, 64),
signatures and validity (7, 9, 10), name constraints (47, 48).

Policy decisions (OpenSSL's certificate profile on cryptography's path builder, not its web-PKI profile):

* CA certificates: basicConstraints with cA=TRUE is required (critical or not), path lengths and name
  constraints hold, and a keyUsage, when present, must allow keyCertSign (OpenSSL's ``X509_check_ca``).
  keyUsage itself, and the key identifiers, are optional: CPython's test CA and ``openssl req -x509`` CAs
  have neither a critical basicConstraints nor a keyUsage, and OpenSSL accepts them.
* The leaf may say CA:TRUE (the usual development certificate, trusted as its own anchor); its keyUsage,
  when present, must allow what TLS needs (OpenSSL's ``ku_reject``). subjectAltName may be critical.
  Server verification still requires a SAN: tlsapi never matches the subject CN
  (``hostname_checks_common_name`` is False), so a leaf without SAN is a hostname mismatch (62), as in the
  stdlib.
* extendedKeyUsage is checked by our validator with OpenSSL's rule: when present, on the leaf or on a CA,
  it must list serverAuth (verifying a server) or clientAuth (verifying a client); anyExtendedKeyUsage alone
  is refused, as OpenSSL refuses it.
* Unknown critical extensions are refused (34); RSA keys of at least 2048 bits and no SHA-1 signatures
  (OpenSSL's default security level 2 agrees); a maximum chain depth of 8 certificates beyond the leaf.
* ``VERIFY_X509_STRICT`` adds OpenSSL's strict checks (:func:`strict_violation`: critical basicConstraints
  and keyUsage on CAs, key identifiers, non-empty names, ...) with OpenSSL's codes (80-93), to a verified
  chain of more than one certificate.
* ``VERIFY_CRL_CHECK_LEAF``/``VERIFY_CRL_CHECK_CHAIN`` check the verified chain against the loaded CRLs
  (:func:`revocation_code`): issuer's CRL present (3), issuer allowed to sign CRLs (35), CRL current
  (11, 12), signed by the issuer (8), serial not listed (23).
* Trust anchors: by default only self-issued certificates of the trust store are anchors, and the other
  store certificates serve as intermediates, which is OpenSSL's behaviour without
  ``VERIFY_X509_PARTIAL_CHAIN`` (a chain ending at a trusted intermediate fails with 2 or 20). With
  the flag every store certificate (an intermediate, or the leaf itself) is an anchor.
* With ``check_hostname`` False (client side) a ``ClientVerifier`` performs path validation with the
  serverAuth EKU validator above: cryptography's ``ServerVerifier`` always matches a subject, and this
  keeps the full path and EKU checks without one.

Building a ``Store`` is the costly part: ``build_store`` makes a reusable :class:`TrustStore`, and
``verify_peer_chain`` caches one per anchor set when given a plain sequence.

Verified chains are remembered per :class:`TrustStore` (issue 19: path building was ~14 % of a native
handshake): keyed by the peer's exact chain bytes, the name matched, the peer's role and
``VERIFY_X509_PARTIAL_CHAIN``, and used only while every certificate of the verified chain is within its
validity period. A failure is never remembered, a changed trust store is a new ``TrustStore`` (nothing
remembered), and the checks that depend on more than that (``VERIFY_X509_STRICT``, CRLs) run every time, as
do the handshake's CertificateVerify and Finished checks.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

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

from tlsapi.spi import VERIFY_MESSAGES, SSLCertVerificationError, is_ip_address, verification_error

from ._alerts import TLSAlert
from ._certificates import parse_certificate
from ._limits import MAX_CHAIN_LENGTH

__all__ = ["TrustStore", "build_store", "verify_peer_chain"]

_AD = ssl.AlertDescription
_E = TypeVar("_E", bound=x509.ExtensionType)

# OpenSSL 3's verify codes (their messages: tlsapi.spi.VERIFY_MESSAGES).
UNSPECIFIED = 1
UNABLE_TO_GET_ISSUER_CERT = 2
UNABLE_TO_GET_CRL = 3
CERT_SIGNATURE_FAILURE = 7
CRL_SIGNATURE_FAILURE = 8
CERT_NOT_YET_VALID = 9
CERT_HAS_EXPIRED = 10
CRL_NOT_YET_VALID = 11
CRL_HAS_EXPIRED = 12
DEPTH_ZERO_SELF_SIGNED_CERT = 18
SELF_SIGNED_CERT_IN_CHAIN = 19
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
CERT_CHAIN_TOO_LONG = 22
CERT_REVOKED = 23
PATH_LENGTH_EXCEEDED = 25
INVALID_PURPOSE = 26
CERT_REJECTED = 28
UNHANDLED_CRITICAL_EXTENSION = 34
KEYUSAGE_NO_CRL_SIGN = 35
PERMITTED_VIOLATION = 47
EXCLUDED_VIOLATION = 48
HOSTNAME_MISMATCH = 62
IP_ADDRESS_MISMATCH = 64
EE_KEY_TOO_SMALL = 66
CA_MD_TOO_WEAK = 68
INVALID_CA = 79
PATHLEN_INVALID_FOR_NON_CA = 80
PATHLEN_WITHOUT_KU_KEY_CERT_SIGN = 81
KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA = 82
ISSUER_NAME_EMPTY = 83
SUBJECT_NAME_EMPTY = 84
MISSING_AUTHORITY_KEY_IDENTIFIER = 85
MISSING_SUBJECT_KEY_IDENTIFIER = 86
EMPTY_SUBJECT_ALT_NAME = 87
EMPTY_SUBJECT_SAN_NOT_CRITICAL = 88
CA_BCONS_NOT_CRITICAL = 89
AUTHORITY_KEY_IDENTIFIER_CRITICAL = 90
SUBJECT_KEY_IDENTIFIER_CRITICAL = 91
CA_CERT_MISSING_KEY_USAGE = 92
EXTENSIONS_REQUIRE_VERSION_3 = 93

# The alert OpenSSL sends for each code (ssl_verify_alarm_type); certificate_unknown otherwise.
_ALERTS: dict[int, int] = {
    UNSPECIFIED: _AD.ALERT_DESCRIPTION_INTERNAL_ERROR,
    UNABLE_TO_GET_ISSUER_CERT: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    UNABLE_TO_GET_CRL: _AD.ALERT_DESCRIPTION_UNKNOWN_CA,
    CERT_SIGNATURE_FAILURE: _AD.ALERT_DESCRIPTION_DECRYPT_ERROR,
    CERT_NOT_YET_VALID: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    CERT_HAS_EXPIRED: _AD.ALERT_DESCRIPTION_CERTIFICATE_EXPIRED,
    CRL_SIGNATURE_FAILURE: _AD.ALERT_DESCRIPTION_DECRYPT_ERROR,
    CRL_NOT_YET_VALID: _AD.ALERT_DESCRIPTION_BAD_CERTIFICATE,
    CRL_HAS_EXPIRED: _AD.ALERT_DESCRIPTION_CERTIFICATE_EXPIRED,
    CERT_REVOKED: _AD.ALERT_DESCRIPTION_CERTIFICATE_REVOKED,
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


def _ca_key_usage(policy: Policy, certificate: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    """OpenSSL's ``X509_check_ca``: a CA's keyUsage, when present, must allow keyCertSign."""
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("CA certificate keyUsage lacks keyCertSign")


def _leaf_key_usage(server: bool) -> Callable[[Policy, x509.Certificate, x509.KeyUsage | None], None]:
    """OpenSSL's purpose rule for keyUsage (``ku_reject``): when present on the leaf it must allow
    digitalSignature or keyAgreement, or keyEncipherment for a server."""

    def validate(policy: Policy, certificate: x509.Certificate, usage: x509.KeyUsage | None) -> None:
        if usage is None or usage.digital_signature or usage.key_agreement:
            return
        if not (server and usage.key_encipherment):
            raise ValueError(_EKU_MARKER)

    return validate


def _policies(purpose: x509.ObjectIdentifier, *, need_san: bool) -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """OpenSSL's certificate profile: cryptography checks basicConstraints cA (and path lengths, name
    constraints, unknown critical extensions), the validators add OpenSSL's keyUsage and purpose rules."""
    eku = _eku_validator(purpose)
    ca = (
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, eku)
    )
    ee = (
        ExtensionPolicy.permit_all()
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC,
                        _leaf_key_usage(purpose == ExtendedKeyUsageOID.SERVER_AUTH))
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, eku)
    )
    if need_san:  # ServerVerifier matches the subject against it
        ee = ee.require_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    return ca, ee


_SERVER_NAMED = _policies(ExtendedKeyUsageOID.SERVER_AUTH, need_san=True)
_SERVER_UNNAMED = _policies(ExtendedKeyUsageOID.SERVER_AUTH, need_san=False)
_CLIENT = _policies(ExtendedKeyUsageOID.CLIENT_AUTH, need_san=False)


def _self_issued(certificate: x509.Certificate) -> bool:
    """OpenSSL's test for a possible trust-anchor/self-signed certificate: issuer == subject (no signature check)."""
    return certificate.issuer == certificate.subject


#: What a verification's outcome depends on besides the store and the time: the peer's exact chain (DER, leaf
#: first), the name matched (``None``: none), whether the peer is a server (serverAuth) or a client, and
#: ``VERIFY_X509_PARTIAL_CHAIN``.
_VerifiedKey = tuple[tuple[bytes, ...], str | None, bool, bool]


@dataclass(frozen=True)
class _Verified:
    """A chain cryptography verified, and the period in which every certificate of it is valid: within it the
    same verification succeeds again (nothing else it checks depends on the time)."""

    chain: tuple[x509.Certificate, ...]
    valid_from: datetime.datetime
    valid_until: datetime.datetime


_VERIFIED_PER_STORE = 64


@dataclass(frozen=True, eq=False)
class TrustStore:
    """A trust store built once for a set of anchors (keep it on the context; its anchors are immutable).

    ``verified`` remembers successful verifications against this store (:func:`verify_peer_chain`), keyed by
    everything else they depend on; a changed trust store is a new ``TrustStore`` with none.
    """

    anchors: tuple[x509.Certificate, ...]
    store: Store | None  # self-issued anchors (None when there are none)
    store_partial: Store | None  # every anchor (VERIFY_X509_PARTIAL_CHAIN)
    intermediates: tuple[x509.Certificate, ...]  # non-self-issued anchors: usable as chain elements
    verified: OrderedDict[_VerifiedKey, _Verified] = field(default_factory=OrderedDict, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def recall(self, key: _VerifiedKey, now: datetime.datetime) -> list[x509.Certificate] | None:
        """The verified chain remembered for ``key`` if ``now`` is within its validity period, else ``None``."""
        with self.lock:
            found = self.verified.get(key)
            if found is None:
                return None
            if not found.valid_from <= now <= found.valid_until:
                del self.verified[key]
                return None
            self.verified.move_to_end(key)
        return list(found.chain)

    def remember(self, key: _VerifiedKey, chain: Sequence[x509.Certificate]) -> None:
        """Remember that ``chain`` verified for ``key`` (the least recently used of ``_VERIFIED_PER_STORE``
        go first)."""
        verified = _Verified(tuple(chain), max(c.not_valid_before_utc for c in chain),
                             min(c.not_valid_after_utc for c in chain))
        with self.lock:
            self.verified[key] = verified
            self.verified.move_to_end(key)
            if len(self.verified) > _VERIFIED_PER_STORE:
                self.verified.popitem(last=False)


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
        (("unaccounted-for critical extension",), UNHANDLED_CRITICAL_EXTENSION),
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
            return IP_ADDRESS_MISMATCH if request.hostname and is_ip_address(request.hostname) else HOSTNAME_MISMATCH
    if code == _CHAIN:
        return _chain_code(request, trust.anchors)
    return code


_PARTIAL_CHAIN = int(ssl.VERIFY_X509_PARTIAL_CHAIN)
_STRICT = int(ssl.VERIFY_X509_STRICT)
_CRL_CHECK_LEAF = int(ssl.VERIFY_CRL_CHECK_LEAF)
_CRL_CHECK_CHAIN = int(ssl.VERIFY_CRL_CHECK_CHAIN)


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
    flags: int = ssl.VERIFY_X509_TRUSTED_FIRST,
    crls: Sequence[x509.CertificateRevocationList] = (),
) -> list[x509.Certificate]:
    """Verify the peer's certificate chain (DER, leaf first) and return the verified chain, leaf first.

    ``server_side_peer`` is True on a client verifying a server (serverAuth; the name is matched when
    ``check_hostname`` and ``server_hostname`` are set), False on a server verifying a client (clientAuth).
    ``anchors`` is the trust store, or a :class:`TrustStore` from :func:`build_store`. ``flags`` are the
    context's ``verify_flags``: ``VERIFY_X509_PARTIAL_CHAIN`` makes every store certificate an anchor,
    trust-store certificates are always tried first, with or without ``VERIFY_X509_TRUSTED_FIRST`` (OpenSSL
    ORs its default parameters, which hold that flag, into every verification, so clearing it changes
    nothing there either),
    ``VERIFY_X509_STRICT`` adds OpenSSL's strict profile checks (:func:`strict_violation`), and
    ``VERIFY_CRL_CHECK_LEAF``/``VERIFY_CRL_CHECK_CHAIN`` check the leaf (or every certificate) against
    ``crls`` (:func:`revocation_code`). Raises :class:`tlsapi.SSLCertVerificationError` with OpenSSL's
    ``verify_code``/``verify_message`` and an ``alert`` attribute (the alert description to send), or
    ``TLSAlert(decode_error)`` for undecodable DER. A chain of more than ``MAX_CHAIN_LENGTH`` certificates
    fails with ``CERT_CHAIN_TOO_LONG`` before any is parsed.
    """
    if len(chain) > MAX_CHAIN_LENGTH:
        raise _error(CERT_CHAIN_TOO_LONG, "")
    trust = anchors if isinstance(anchors, TrustStore) else _cached_store(anchors)
    hostname = server_hostname if server_side_peer and check_hostname else None
    flags = int(flags)  # a plain int: each bit test of a VerifyFlags goes through the enum machinery
    partial_chain = bool(flags & _PARTIAL_CHAIN)
    now = _now()
    key = (tuple(map(bytes, chain)), hostname, server_side_peer, partial_chain)
    verified = trust.recall(key, now)
    if verified is None:
        verified = _verify(_load(chain), trust, hostname, server_side_peer, partial_chain, flags, now)
        trust.remember(key, verified)
    code = strict_violation(verified) if flags & _STRICT else None
    if code is None and flags & _CRL_CHECK_LEAF:
        whole_chain = (flags & _CRL_CHECK_CHAIN) == _CRL_CHECK_CHAIN
        code = revocation_code(verified, crls, now, whole_chain=whole_chain)
    if code is not None:
        raise _error(code, hostname or "")
    return verified


def _now() -> datetime.datetime:
    """The time certificates are checked at (a function, so that tests can move it)."""
    return datetime.datetime.now(datetime.UTC)


def _verify(
    certificates: list[x509.Certificate],
    trust: TrustStore,
    hostname: str | None,
    server_side_peer: bool,
    partial_chain: bool,
    flags: int,
    now: datetime.datetime,
) -> list[x509.Certificate]:
    """cryptography's verification of ``certificates`` (leaf first) at ``now``: the verified chain, or
    ``SSLCertVerificationError`` with OpenSSL's code for the reason."""
    request = _Request(
        leaf=certificates[0],
        intermediates=certificates[1:] if partial_chain else [*certificates[1:], *trust.intermediates],
        store=trust.store_partial if partial_chain else trust.store,
        server_side_peer=server_side_peer,
        hostname=hostname,
    )
    try:
        return _run(request, hostname, now)
    except (VerificationError, ValueError) as error:
        failure = _diagnose(request, trust, str(error), now)
        if flags & ssl.VERIFY_X509_STRICT and failure in _CHECKED_AFTER_EXTENSIONS:
            failure = strict_violation(_issuer_chain(request, trust)) or failure
        raise _error(failure, hostname or "") from None


def _extension(certificate: x509.Certificate, kind: type[_E]) -> x509.Extension[_E] | None:
    try:
        return certificate.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


# OpenSSL checks the chain's extensions (the strict profile among them) before these.
_CHECKED_AFTER_EXTENSIONS = frozenset({HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH, PERMITTED_VIOLATION,
                                       EXCLUDED_VIOLATION, CERT_SIGNATURE_FAILURE, CERT_NOT_YET_VALID,
                                       CERT_HAS_EXPIRED})


def _issuer_chain(request: _Request, trust: TrustStore) -> list[x509.Certificate]:
    """The chain OpenSSL builds by issuer names, trusted certificates first, up to a self-issued one (for
    the strict checks of a chain cryptography refused for a later reason)."""
    pool = [*trust.anchors, *request.intermediates]
    chain = [request.leaf]
    while not _self_issued(chain[-1]) and len(chain) <= MAX_CHAIN_LENGTH:
        issuer = next((c for c in pool if c.subject == chain[-1].issuer and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
    return chain


def strict_violation(chain: Sequence[x509.Certificate]) -> int | None:
    """The verify code of OpenSSL's ``X509_V_FLAG_X509_STRICT`` checks (RFC 5280 profile rules) for a
    verified ``chain`` (leaf first, anchor last), certificate by certificate from the leaf, or ``None``.

    As in OpenSSL, a chain of one certificate (a trusted self-signed leaf) is exempt (RFC 6818).
    """
    if len(chain) < 2:
        return None
    for index, certificate in enumerate(chain):
        code = _strict_code(certificate, is_anchor=index == len(chain) - 1)
        if code is not None:
            return code
    return None


def _strict_code(certificate: x509.Certificate, *, is_anchor: bool) -> int | None:
    """OpenSSL's strict checks for one certificate, in ``check_extensions``' order."""
    constraints = _extension(certificate, x509.BasicConstraints)
    usage_extension = _extension(certificate, x509.KeyUsage)
    usage = usage_extension.value if usage_extension is not None else None
    is_ca = constraints is not None and constraints.value.ca
    can_sign_certificates = usage is not None and usage.key_cert_sign
    san = _extension(certificate, x509.SubjectAlternativeName)
    aki = _extension(certificate, x509.AuthorityKeyIdentifier)
    ski = _extension(certificate, x509.SubjectKeyIdentifier)
    checks: tuple[tuple[bool, int], ...] = (
        (constraints is not None and constraints.value.path_length is not None and not is_ca,
         PATHLEN_INVALID_FOR_NON_CA),
        (constraints is not None and constraints.value.path_length is not None and not can_sign_certificates,
         PATHLEN_WITHOUT_KU_KEY_CERT_SIGN),
        (is_ca and constraints is not None and not constraints.critical, CA_BCONS_NOT_CRITICAL),
        (is_ca and usage is None, CA_CERT_MISSING_KEY_USAGE),
        (not is_ca and can_sign_certificates, KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA),
        (len(certificate.issuer) == 0, ISSUER_NAME_EMPTY),
        ((is_ca or (usage is not None and usage.crl_sign) or san is None) and len(certificate.subject) == 0,
         SUBJECT_NAME_EMPTY),
        (len(certificate.subject) == 0 and san is not None and not san.critical, EMPTY_SUBJECT_SAN_NOT_CRITICAL),
        (san is not None and len(san.value) == 0, EMPTY_SUBJECT_ALT_NAME),
        (aki is not None and aki.critical, AUTHORITY_KEY_IDENTIFIER_CRITICAL),
        (ski is not None and ski.critical, SUBJECT_KEY_IDENTIFIER_CRITICAL),
    )
    if certificate.version == x509.Version.v3:
        checks += (
            (not is_anchor and (aki is None or aki.value.key_identifier is None), MISSING_AUTHORITY_KEY_IDENTIFIER),
            (is_ca and ski is None, MISSING_SUBJECT_KEY_IDENTIFIER),
        )
    else:
        checks += ((len(certificate.extensions) > 0, EXTENSIONS_REQUIRE_VERSION_3),)
    return next((code for failed, code in checks if failed), None)


def revocation_code(
    chain: Sequence[x509.Certificate],
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime.datetime,
    *,
    whole_chain: bool,
) -> int | None:
    """OpenSSL's CRL check of a verified ``chain`` (leaf first, anchor last): the leaf only, or with
    ``whole_chain`` every certificate, the anchor included (its CRL is its own). ``None`` when none is
    revoked; else 3 (no CRL from the issuer), 35, 11/12 (CRL not in its validity period), 8 (CRL not
    signed by the issuer) or 23 (revoked)."""
    for index in range(len(chain) if whole_chain else 1):
        issuer = chain[index + 1] if index + 1 < len(chain) else chain[index]
        code = _crl_code(chain[index], issuer, crls, now)
        if code is not None:
            return code
    return None


def _crl_current(crl: x509.CertificateRevocationList, now: datetime.datetime) -> bool:
    next_update = crl.next_update_utc
    return crl.last_update_utc <= now and (next_update is None or next_update >= now)


def _crl_code(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    crls: Sequence[x509.CertificateRevocationList],
    now: datetime.datetime,
) -> int | None:
    """The check of one certificate, in OpenSSL's order (``get_crl_sk``, ``check_crl``, ``cert_crl``):
    among the CRLs named for its issuer a current one is preferred."""
    candidates = [crl for crl in crls if crl.issuer == certificate.issuer]
    if not candidates:
        return UNABLE_TO_GET_CRL
    crl = max(candidates, key=lambda candidate: _crl_current(candidate, now))
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.value.crl_sign:
        return KEYUSAGE_NO_CRL_SIGN
    if crl.last_update_utc > now:
        return CRL_NOT_YET_VALID
    if not _crl_current(crl, now):
        return CRL_HAS_EXPIRED
    if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        return CRL_SIGNATURE_FAILURE
    if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
        return CERT_REVOKED
    return None


def _error(code: int, hostname: str) -> SSLCertVerificationError:
    message = VERIFY_MESSAGES[code]
    if code in (HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH):
        message = message.format(hostname)
    error = verification_error(code, message, origin="native")
    error.alert = _ALERTS.get(code, _AD.ALERT_DESCRIPTION_CERTIFICATE_UNKNOWN)  # type: ignore[attr-defined]
    return error
