"""The native engine's chain verification against the stdlib: the same certificates go through an ``ssl``
handshake over MemoryBIOs, and ``verify_code``/``verify_message``/the alert the server receives must agree
(OpenSSL's profile: CA rules, strict mode, partial chains, CRLs)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsapi_native import _trust
from tlsapi_native._alerts import TLSAlert

AD = ssl.AlertDescription
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)

# -- trust --------------------------------------------------------------------------------------------------

Pair = tuple[x509.Certificate, Any]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(
    cn: str,
    issuer: Pair | None = None,
    *,
    ca: bool = False,
    sans: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = (),
    eku: tuple[x509.ObjectIdentifier, ...] = (ExtendedKeyUsageOID.SERVER_AUTH,),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    basic_constraints: bool = True,
    path_length: int | None = None,
    name_constraints: x509.NameConstraints | None = None,
    key_ids: bool = True,
    bc_critical: bool = True,
    key_usage: x509.KeyUsage | bool | None = True,
    ca_sans: bool = False,
    serial: int | None = None,
    key: Any = None,
) -> Pair:
    """A certificate and its key. ``key_usage`` True is OpenSSL's usual one for the role, False none;
    ``ca_sans`` gives a CA certificate the SAN of a leaf too (a development certificate); ``key``, when
    given, is the subject's key (a cross-certificate)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    signing_key, issuer_name = (key, _name(cn)) if issuer is None else (issuer[1], issuer[0].subject)
    not_after = not_after or NOW + 30 * DAY
    builder = (
        x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer_name).public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before or min(NOW - DAY, not_after - 30 * DAY)).not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length),
                                        critical=bc_critical)
    if key_usage is True:
        key_usage = usage(digital_signature=True, key_cert_sign=ca, crl_sign=ca)
    if key_usage:
        builder = builder.add_extension(key_usage, critical=True)
    names = [x509.DNSName(s) for s in sans] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names and (ca_sans or not ca):
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if eku and not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if key_ids:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    if name_constraints is not None:
        builder = builder.add_extension(name_constraints, critical=True)
    return builder.sign(signing_key, hashes.SHA256()), key


def usage(**bits: bool) -> x509.KeyUsage:
    """A keyUsage with the named bits set."""
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: bits.get(name, False) for name in names})


def make_crl(issuer: Pair, revoked: tuple[int, ...] = (), *, last_update: datetime.datetime | None = None,
             next_update: datetime.datetime | None = None, signer: Any = None) -> x509.CertificateRevocationList:
    """A CRL from ``issuer`` revoking the serial numbers ``revoked`` (signed by ``signer``, default the issuer)."""
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer[0].subject)
               .last_update(last_update or NOW - DAY).next_update(next_update or NOW + DAY))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - DAY).build())
    return builder.sign(signer or issuer[1], hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


_TMP = tempfile.mkdtemp(prefix="tlsapi-glue-")


def _write(data: bytes) -> str:
    fd, path = tempfile.mkstemp(dir=_TMP, suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _key_pem(key: Any) -> bytes:
    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem


def stdlib_verify(
    chain: list[Pair], anchors: list[x509.Certificate], *, hostname: str | None = "localhost",
    check_hostname: bool = True, client_auth: bool = False, flags: int = ssl.VERIFY_X509_TRUSTED_FIRST,
    crls: tuple[x509.CertificateRevocationList, ...] = (),
) -> tuple[int, str, int] | None:
    """Run a stdlib handshake; (verify_code, verify_message, alert received by the peer) or None if verified.

    ``client_auth``: ``chain`` is the client's and the server verifies it. ``flags`` are the verifier's
    ``verify_flags``, ``crls`` join the anchors in its ``load_verify_locations`` cafile (cadata takes no CRLs).
    """
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    (server if client_auth else client).verify_flags = ssl.VerifyFlags(flags)
    cadata = "".join(_pem(anchor).decode() for anchor in anchors)
    cadata += "".join(crl.public_bytes(serialization.Encoding.PEM).decode() for crl in crls)
    chain_file, key_file = _write(b"".join(_pem(c) for c, _ in chain)), _write(_key_pem(chain[0][1]))
    if client_auth:
        own = make("server")
        server.load_cert_chain(_write(_pem(own[0])), _write(_key_pem(own[1])))
        server.verify_mode = ssl.CERT_REQUIRED
        server.load_verify_locations(_write(cadata.encode()))
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        client.load_cert_chain(chain_file, key_file)
    else:
        server.load_cert_chain(chain_file, key_file)
        client.check_hostname = check_hostname
        client.load_verify_locations(_write(cadata.encode()))
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    sides = [client.wrap_bio(c_in, c_out, server_hostname=hostname), server.wrap_bio(s_in, s_out, server_side=True)]
    errors: list[ssl.SSLError | None] = [None, None]
    for _ in range(6):
        for index, (obj, out, peer_in) in enumerate(((sides[0], c_out, s_in), (sides[1], s_out, c_in))):
            if errors[index] is None:
                try:
                    obj.do_handshake()
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as error:
                    errors[index] = error
            peer_in.write(out.read())
    if client_auth and errors[0] is None and errors[1] is not None:
        with pytest.raises(ssl.SSLError) as info:  # TLS 1.3: the client hears of the failure on read
            sides[0].read(1)
        errors[0] = info.value
    verifier, peer = (errors[1], errors[0]) if client_auth else (errors[0], errors[1])
    if verifier is None:
        return None
    assert isinstance(verifier, ssl.SSLCertVerificationError) and peer is not None
    alert_names = {AD(a).name.removeprefix("ALERT_DESCRIPTION_"): a for a in AD}
    alert = next(code for name, code in alert_names.items() if str(peer.reason).endswith("ALERT_" + name))
    return verifier.verify_code, verifier.verify_message, alert


def native_verify(
    chain: list[Pair], anchors: list[x509.Certificate], *, hostname: str | None = "localhost",
    check_hostname: bool = True, client_auth: bool = False, flags: int = ssl.VERIFY_X509_TRUSTED_FIRST,
    crls: tuple[x509.CertificateRevocationList, ...] = (),
) -> tuple[int, str, int] | None:
    try:
        verified = _trust.verify_peer_chain(
            [_der(c) for c, _ in chain], anchors=anchors, server_hostname=hostname,
            server_side_peer=not client_auth, check_hostname=check_hostname and not client_auth,
            flags=flags, crls=crls,
        )
    except ssl.SSLCertVerificationError as error:
        assert error.reason == "CERTIFICATE_VERIFY_FAILED"
        return error.verify_code, error.verify_message, error.alert  # type: ignore[attr-defined]
    assert verified[0] == chain[0][0]
    return None


def _trust_cases() -> dict[str, tuple[list[Pair], list[x509.Certificate], dict[str, Any]]]:
    ca = make("CA", ca=True)
    root = make("Root", ca=True)
    past = NOW - 10 * DAY
    other_key = ec.generate_private_key(ec.SECP256R1())
    not_ca = make("NotCA", root, ca=False, eku=())
    expired_inter = make("ExpiredInter", root, ca=True, not_after=past)
    expired_root = make("ExpiredRoot", ca=True, not_after=past)
    permitted = make("Permitted", root, ca=True, name_constraints=x509.NameConstraints(
        permitted_subtrees=[x509.DNSName("example.com")], excluded_subtrees=None))
    excluded = make("Excluded", root, ca=True, name_constraints=x509.NameConstraints(
        permitted_subtrees=None, excluded_subtrees=[x509.DNSName("localhost")]))
    no_bc = make("NoBC", root, ca=True, basic_constraints=False)
    pathlen0 = make("PathLen0", root, ca=True, path_length=0)
    below_pathlen0 = make("BelowPathLen0", pathlen0, ca=True)
    inter = make("Inter", root, ca=True)
    self_signed = make("selfsigned")
    leaf_ip = make("ip", ca, sans=(), ips=("127.0.0.1", "::1"))
    client_eku = (ExtendedKeyUsageOID.CLIENT_AUTH,)
    return {
        "ok": ([make("leaf", ca)], [ca[0]], {}),
        "ok-intermediate": ([make("leaf", inter), inter], [root[0]], {}),
        "intermediate-from-store": ([make("leaf", inter)], [inter[0], root[0]], {}),
        "no-key-identifiers": ([make("leaf", ca, key_ids=False)], [ca[0]], {}),
        "hostname-mismatch": ([make("leaf", ca, sans=("other.example",))], [ca[0]], {}),
        "no-san": ([make("leaf", ca, sans=())], [ca[0]], {}),
        "no-san-check-hostname-off": ([make("leaf", ca, sans=())], [ca[0]], {"check_hostname": False}),
        "mismatch-check-hostname-off": ([make("leaf", ca)], [ca[0]], {"check_hostname": False, "hostname": "x"}),
        "wrong-eku-check-hostname-off": ([make("leaf", ca, eku=client_eku)], [ca[0]], {"check_hostname": False}),
        "ip-ok": ([leaf_ip], [ca[0]], {"hostname": "127.0.0.1"}),
        "ipv6-ok": ([leaf_ip], [ca[0]], {"hostname": "::1"}),
        "ip-mismatch": ([leaf_ip], [ca[0]], {"hostname": "127.0.0.2"}),
        "expired": ([make("leaf", ca, not_after=past)], [ca[0]], {}),
        "not-yet-valid": ([make("leaf", ca, not_before=NOW + DAY)], [ca[0]], {}),
        "expired-and-mismatch": ([make("leaf", ca, not_after=past, sans=("x.example",))], [ca[0]], {}),
        "self-signed": ([self_signed], [ca[0]], {}),
        "self-signed-trusted": ([self_signed], [self_signed[0]], {}),
        "self-signed-in-chain": ([make("leaf", root), root], [ca[0]], {}),
        "unknown-issuer": ([make("leaf", make("Other", ca=True))], [ca[0]], {}),
        "missing-intermediate": ([make("leaf", inter)], [root[0]], {}),
        "intermediate-anchor": ([make("leaf", inter), inter], [inter[0]], {}),
        "invalid-ca": ([make("leaf", not_ca), not_ca], [root[0]], {}),
        "ca-without-basic-constraints": ([make("leaf", no_bc), no_bc], [root[0]], {}),
        "path-length": ([make("leaf", below_pathlen0), below_pathlen0, pathlen0], [root[0]], {}),
        "wrong-eku": ([make("leaf", ca, eku=client_eku)], [ca[0]], {}),
        "any-eku-only": ([make("leaf", ca, eku=(ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,))], [ca[0]], {}),
        "expired-intermediate": ([make("leaf", expired_inter), expired_inter], [root[0]], {}),
        "expired-root": ([make("leaf", expired_root)], [expired_root[0]], {}),
        "permitted-subtree": ([make("leaf", permitted), permitted], [root[0]], {}),
        "excluded-subtree": ([make("leaf", excluded), excluded], [root[0]], {}),
        "bad-signature": ([make("leaf", (ca[0], other_key), key_ids=False)], [ca[0]], {}),
        "client-ok": ([make("client", ca, eku=client_eku, sans=())], [ca[0]], {"client_auth": True}),
        "client-expired": ([make("client", ca, eku=client_eku, not_after=past)], [ca[0]], {"client_auth": True}),
        "client-unknown": ([make("client", make("X", ca=True), eku=client_eku)], [ca[0]], {"client_auth": True}),
        "client-server-eku": ([make("client", ca)], [ca[0]], {"client_auth": True}),
        **_profile_cases(),
        **_strict_cases(),
        **_partial_chain_cases(),
        **_crl_cases(),
        **_trusted_first_cases(),
    }


def _trusted_first_cases() -> dict[str, tuple[list[Pair], list[x509.Certificate], dict[str, Any]]]:
    """A cross-certificate from an expired root beside the valid root. Untrusted-first chain building would
    end at the expired root; OpenSSL 1.1+ builds trusted-first even with VERIFY_X509_TRUSTED_FIRST cleared
    (its default parameters, holding the flag, are ORed into every verification), and so does native."""
    new_root = make("New Root", ca=True)
    old_root = make("Old Root", ca=True, not_after=NOW - DAY)
    cross = make("New Root", old_root, ca=True, key=new_root[1])
    leaf = make("leaf", new_root)
    return {
        "trusted-first-cross-signed": ([leaf, cross], [new_root[0], old_root[0]], {}),
        "untrusted-first-cross-signed": ([leaf, cross], [new_root[0], old_root[0]], {"flags": 0}),
        "untrusted-first-no-trusted-end": ([leaf, cross], [new_root[0]], {"flags": 0}),
        "untrusted-first-plain": ([make("leaf", new_root)], [new_root[0]], {"flags": 0}),
    }


def _profile_cases() -> dict[str, tuple[list[Pair], list[x509.Certificate], dict[str, Any]]]:
    """CA certificates as private PKIs make them (OpenSSL accepts them; the web-PKI profile does not)."""
    loose_root = make("LooseRoot", ca=True, bc_critical=False, key_usage=False, key_ids=False)
    loose_inter = make("LooseInter", loose_root, ca=True, bc_critical=False, key_usage=False)
    no_certsign = make("NoCertSign", ca=True, key_usage=usage(digital_signature=True))
    dev = make("localhost", ca=True, ca_sans=True, key_usage=False)
    dev_with_usage = make("localhost", ca=True, ca_sans=True)
    ca = make("CA", ca=True)
    unknown_critical = make("leaf", ca, name_constraints=None)
    return {
        "ca-bc-not-critical-no-key-usage": ([make("leaf", loose_root)], [loose_root[0]], {}),
        "intermediate-bc-not-critical-no-key-usage": (
            [make("leaf", loose_inter), loose_inter], [loose_root[0]], {}),
        "ca-key-usage-without-certsign": ([make("leaf", no_certsign)], [no_certsign[0]], {}),
        "trusted-self-signed-ca-leaf": ([dev], [dev[0]], {}),
        "trusted-self-signed-ca-leaf-with-key-usage": ([dev_with_usage], [dev_with_usage[0]], {}),
        "untrusted-self-signed-ca-leaf": ([dev], [ca[0]], {}),
        "ca-true-leaf": ([make("localhost", ca, ca=True, ca_sans=True)], [ca[0]], {}),
        "leaf-key-usage-certsign-only": ([make("leaf", ca, key_usage=usage(key_cert_sign=True))], [ca[0]], {}),
        "leaf-key-encipherment-only": ([make("leaf", ca, key_usage=usage(key_encipherment=True))], [ca[0]], {}),
        "client-key-encipherment-only": (
            [make("client", ca, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), key_usage=usage(key_encipherment=True))],
            [ca[0]], {"client_auth": True}),
        "unhandled-critical-extension": ([_with_unknown_critical_extension(unknown_critical, ca)], [ca[0]], {}),
    }


def _with_unknown_critical_extension(pair: Pair, issuer: Pair) -> Pair:
    certificate, key = pair
    builder = (x509.CertificateBuilder().subject_name(certificate.subject).issuer_name(certificate.issuer)
               .public_key(key.public_key()).serial_number(certificate.serial_number)
               .not_valid_before(certificate.not_valid_before_utc).not_valid_after(certificate.not_valid_after_utc))
    for extension in certificate.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
    return builder.add_extension(unknown, critical=True).sign(issuer[1], hashes.SHA256()), key


STRICT = ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_STRICT


def _strict_cases() -> dict[str, tuple[list[Pair], list[x509.Certificate], dict[str, Any]]]:
    """VERIFY_X509_STRICT: OpenSSL's RFC 5280 profile checks, with its verify codes."""
    ca = make("CA", ca=True)
    loose_root = make("LooseRoot", ca=True, bc_critical=False)
    no_usage_root = make("NoUsageRoot", ca=True, key_usage=False)
    no_ski_root = make("NoSkiRoot", ca=True, key_ids=False)
    dev = make("localhost", ca=True, ca_sans=True, key_usage=False, key_ids=False)
    strict = {"flags": STRICT}
    return {
        "strict-ok": ([make("leaf", ca)], [ca[0]], strict),
        "strict-leaf-without-aki": ([make("leaf", ca, key_ids=False)], [ca[0]], strict),
        "strict-ca-bc-not-critical": ([make("leaf", loose_root)], [loose_root[0]], strict),
        "strict-ca-without-key-usage": ([make("leaf", no_usage_root)], [no_usage_root[0]], strict),
        "strict-ca-without-ski": ([make("leaf", no_ski_root)], [no_ski_root[0]], strict),
        "strict-leaf-certsign": ([make("leaf", ca, key_usage=usage(digital_signature=True, key_cert_sign=True))],
                                 [ca[0]], strict),
        "strict-trusted-self-signed-ca-leaf": ([dev], [dev[0]], strict),
        "strict-before-hostname": ([make("leaf", ca, key_ids=False, sans=("other.example",))], [ca[0]], strict),
        "strict-before-expiry": ([make("leaf", ca, key_ids=False, not_after=NOW - DAY)], [ca[0]], strict),
        "strict-hostname-only": ([make("leaf", ca, sans=("other.example",))], [ca[0]], strict),
        "strict-client-without-aki": ([make("client", ca, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), key_ids=False)],
                                      [ca[0]], {**strict, "client_auth": True}),
    }


def _partial_chain_cases() -> dict[str, tuple[list[Pair], list[x509.Certificate], dict[str, Any]]]:
    """VERIFY_X509_PARTIAL_CHAIN: any trust-store certificate, an intermediate or the leaf, is an anchor."""
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    leaf = make("leaf", inter)
    partial = {"flags": ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_PARTIAL_CHAIN}
    return {
        "partial-chain-intermediate-anchor": ([leaf, inter], [inter[0]], partial),
        "partial-chain-leaf-anchor": ([leaf], [leaf[0]], partial),
        "leaf-anchor-without-partial-chain": ([leaf], [leaf[0]], {}),
        "partial-chain-unrelated": ([leaf], [make("Other", ca=True)[0]], partial),
    }


LEAF_CRL = ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_CRL_CHECK_LEAF
CHAIN_CRL = ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_CRL_CHECK_CHAIN


def _crl_cases() -> dict[str, tuple[list[Pair], list[x509.Certificate], dict[str, Any]]]:
    """VERIFY_CRL_CHECK_LEAF/CHAIN with CRLs loaded beside the anchors."""
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    revoked = make("leaf", inter, serial=4242)
    good = make("leaf", inter, serial=4343)
    empty_crl, revoking_crl = make_crl(inter), make_crl(inter, (4242,))
    no_crl_sign = make("NoCrlSign", root, ca=True, key_usage=usage(digital_signature=True, key_cert_sign=True))
    def leaf_check(crls: tuple[x509.CertificateRevocationList, ...]) -> dict[str, Any]:
        return {"flags": LEAF_CRL, "crls": crls}
    return {
        "crl-leaf-revoked": ([revoked, inter], [root[0]], leaf_check((revoking_crl,))),
        "crl-leaf-good": ([good, inter], [root[0]], leaf_check((revoking_crl,))),
        "crl-leaf-missing": ([good, inter], [root[0]], leaf_check(())),
        "crl-leaf-expired": ([good, inter], [root[0]], leaf_check((make_crl(inter, next_update=NOW - DAY / 2,
                                                                            last_update=NOW - DAY),))),
        "crl-leaf-not-yet-valid": ([good, inter], [root[0]], leaf_check((make_crl(inter, last_update=NOW + DAY,
                                                                                  next_update=NOW + 2 * DAY),))),
        "crl-leaf-bad-signature": ([revoked, inter], [root[0]], leaf_check((make_crl(inter, (4242,),
                                                                                     signer=root[1]),))),
        "crl-issuer-without-crl-sign": ([make("leaf", no_crl_sign), no_crl_sign], [root[0]],
                                        leaf_check((make_crl(no_crl_sign),))),
        "crl-chain-missing-root-crl": ([good, inter], [root[0]], {"flags": CHAIN_CRL, "crls": (empty_crl,)}),
        "crl-chain-good": ([good, inter], [root[0]], {"flags": CHAIN_CRL, "crls": (empty_crl, make_crl(root))}),
        "crl-chain-revoked-intermediate": ([good, inter], [root[0]], {
            "flags": CHAIN_CRL, "crls": (empty_crl, make_crl(root, (inter[0].serial_number,)))}),
        "crl-client-revoked": ([make("client", inter, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), serial=4242), inter],
                               [root[0]], {"client_auth": True, **leaf_check((revoking_crl,))}),
    }


TRUST_CASES = _trust_cases()


@pytest.mark.parametrize("label", list(TRUST_CASES))
def test_trust_matches_stdlib(label: str) -> None:
    chain, anchors, options = TRUST_CASES[label]
    expected = stdlib_verify(chain, anchors, **options)
    assert native_verify(chain, anchors, **options) == expected


def test_trustme_chain() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    issued = ca.create_child_ca().issue_cert("localhost", "127.0.0.1", "::1")
    chain = [x509.load_pem_x509_certificate(blob.bytes()) for blob in issued.cert_chain_pems]
    anchors = [x509.load_pem_x509_certificate(ca.cert_pem.bytes())]
    der = [_der(c) for c in chain]
    for hostname in ("localhost", "127.0.0.1", "::1"):
        verified = _trust.verify_peer_chain(der, anchors=anchors, server_hostname=hostname,
                                            server_side_peer=True, check_hostname=True)
        assert verified == [*chain, anchors[0]]
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        _trust.verify_peer_chain(der, anchors=anchors, server_hostname="example.com",
                                 server_side_peer=True, check_hostname=True)
    assert info.value.verify_code == 62
    client = ca.issue_cert("client@example.com")  # trustme leaves carry serverAuth and clientAuth
    verified = _trust.verify_peer_chain([_der(x509.load_pem_x509_certificate(client.cert_chain_pems[0].bytes()))],
                                        anchors=anchors, server_hostname=None, server_side_peer=False,
                                        check_hostname=False)
    assert len(verified) == 2


def test_partial_chain_and_store_reuse() -> None:
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    leaf = make("leaf", inter)
    store = _trust.build_store([inter[0]])
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        _trust.verify_peer_chain([_der(leaf[0])], anchors=store, server_hostname="localhost",
                                 server_side_peer=True, check_hostname=True)
    assert info.value.verify_code == 2
    verified = _trust.verify_peer_chain([_der(leaf[0])], anchors=store, server_hostname="localhost",
                                        server_side_peer=True, check_hostname=True, flags=ssl.VERIFY_X509_PARTIAL_CHAIN)
    assert verified == [leaf[0], inter[0]]


@pytest.mark.parametrize("blob", [b"", b"\x30\x03abc", b"not DER at all"])
def test_malformed_certificate(blob: bytes) -> None:
    ca = make("CA", ca=True)
    with pytest.raises(TLSAlert) as info:
        _trust.verify_peer_chain([blob], anchors=[ca[0]], server_hostname="localhost",
                                 server_side_peer=True, check_hostname=True)
    assert info.value.description == AD.ALERT_DESCRIPTION_DECODE_ERROR
    with pytest.raises(TLSAlert):
        _trust.verify_peer_chain([], anchors=[ca[0]], server_hostname="localhost",
                                 server_side_peer=True, check_hostname=True)
