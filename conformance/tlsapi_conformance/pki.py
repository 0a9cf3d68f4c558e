"""The suite's own PKI, generated with ``cryptography`` at run time and written to a directory.

One trusted root and intermediate issue the good leaves (one per key type, SANs ``localhost``,
``127.0.0.1`` and ``::1``) and a client certificate; the bad credentials each break exactly one rule, so
the verification error is predictable (:data:`BAD_CASES` holds the stdlib's reference values).

Each credential is written as ``NAME.pem`` (leaf then intermediates, with the key appended: one file for
``load_cert_chain``), ``NAME.crt`` (leaf only), ``NAME.chain.pem`` (intermediates only) and ``NAME.key``.
RSA keys are slow to make, so the suite makes two (a leaf key, reused by the RSA-PSS leaf, and the RSA
issuer that signs the RSA-PSS leaf with RSASSA-PSS) and everything else uses EC or Ed25519 keys.

``cryptography`` cannot write an ``id-RSASSA-PSS`` SubjectPublicKeyInfo, so the "RSA-PSS" leaf is an RSA
key whose certificate is signed with RSASSA-PSS; the handshake then uses ``rsa_pss_rsae_*`` signatures.
"""

from __future__ import annotations

import datetime
import ipaddress
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

#: The good leaves, by key type: the name used in test ids and :meth:`PKI.leaf`.
KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-pss", "ed25519")
#: The default server leaf.
DEFAULT_LEAF = "ecdsa-p256"
#: The hostnames and addresses every good leaf is valid for.
GOOD_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class BadCase:
    """A credential that must fail verification, and what the stdlib (OpenSSL) reports."""

    credential: str
    verify_code: int
    verify_message: str
    server_hostname: str = "localhost"


#: The verification failures a client must report, with OpenSSL's codes and messages.
BAD_CASES: dict[str, BadCase] = {
    "expired": BadCase("expired", 10, "certificate has expired"),
    "not-yet-valid": BadCase("not-yet-valid", 9, "certificate is not yet valid"),
    "wrong-host": BadCase(
        "wrong-host", 62, "Hostname mismatch, certificate is not valid for 'localhost'."
    ),
    "wrong-ip": BadCase(
        DEFAULT_LEAF, 64, "IP address mismatch, certificate is not valid for '127.0.0.2'.", "127.0.0.2"
    ),
    "wrong-ipv6": BadCase(
        DEFAULT_LEAF, 64, "IP address mismatch, certificate is not valid for '::2'.", "::2"
    ),
    "self-signed": BadCase("self-signed", 18, "self-signed certificate"),
    "untrusted-root": BadCase("untrusted-root", 20, "unable to get local issuer certificate"),
    # OpenSSL 3 renumbered X509_V_ERR_INVALID_CA from 24 to 79; the stdlib reports 79.
    "ca-false-intermediate": BadCase("ca-false-intermediate", 79, "invalid CA certificate"),
    "wrong-eku": BadCase("wrong-eku", 26, "unsuitable certificate purpose"),
    "name-constraints": BadCase("name-constraints", 47, "permitted subtree violation"),
    # A partial wildcard (``f*.example.com``) never matches: CPython sets X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS.
    "partial-wildcard": BadCase(
        "partial-wildcard", 62, "Hostname mismatch, certificate is not valid for 'foo.example.com'.",
        "foo.example.com",
    ),
}


@dataclass(frozen=True)
class Credential:
    """A certificate, its key, the intermediates sent with it, and the files they were written to."""

    name: str
    certificate: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    certfile: Path  # leaf + chain + key: what load_cert_chain(certfile) takes
    leaf_file: Path
    chain_file: Path
    keyfile: Path

    @property
    def der(self) -> bytes:
        """The leaf certificate, DER-encoded."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def chain_der(self) -> list[bytes]:
        """The leaf and its intermediates, DER-encoded, as sent on the wire."""
        return [c.public_bytes(serialization.Encoding.DER) for c in (self.certificate, *self.chain)]


@dataclass
class PKI:
    """Every credential of the suite, written under :attr:`directory`."""

    directory: Path
    root: Credential
    intermediate: Credential
    untrusted_root: Credential
    ca_file: Path  # the trusted root only
    credentials: dict[str, Credential] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Credential:
        return self.credentials[name]

    def leaf(self, key_type: str = DEFAULT_LEAF) -> Credential:
        """The good server leaf of ``key_type`` (one of :data:`KEY_TYPES`)."""
        return self.credentials[key_type]

    @property
    def client(self) -> Credential:
        """The good client certificate (``clientAuth``), issued by the trusted intermediate."""
        return self.credentials["client"]

    @property
    def root_der(self) -> bytes:
        return self.root.der


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tlsapi conformance"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _sans(
    dns: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1", "::1")
) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    return x509.SubjectAlternativeName(names)


class _Builder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        self._rsa: dict[str, rsa.RSAPrivateKey] = {}

    def rsa_key(self, label: str) -> rsa.RSAPrivateKey:
        if label not in self._rsa:
            self._rsa[label] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._rsa[label]

    def certificate(
        self,
        subject: str,
        key: PrivateKey,
        issuer: tuple[x509.Certificate, PrivateKey] | None,
        *,
        ca: bool | None = False,
        path_length: int | None = None,
        sans: x509.SubjectAlternativeName | None = None,
        eku: tuple[x509.ObjectIdentifier, ...] | None = (ExtendedKeyUsageOID.SERVER_AUTH,),
        not_before: datetime.timedelta = datetime.timedelta(days=-1),
        not_after: datetime.timedelta = datetime.timedelta(days=30),
        name_constraints: x509.NameConstraints | None = None,
        pss: bool = False,
        authority_key_id: bool = True,
    ) -> x509.Certificate:
        issuer_name = issuer[0].subject if issuer else _name(subject)
        signing_key = issuer[1] if issuer else key
        public = key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(issuer_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + not_before)
            .not_valid_after(self.now + not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        if issuer is not None and authority_key_id:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
            )
        if ca is not None:
            builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
        if sans is not None:
            builder = builder.add_extension(sans, critical=False)
        if eku is not None and not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
        if name_constraints is not None:
            builder = builder.add_extension(name_constraints, critical=True)
        ed = isinstance(signing_key, ed25519.Ed25519PrivateKey)
        algorithm: hashes.SHA256 | None = None if ed else hashes.SHA256()
        if pss:
            assert isinstance(signing_key, rsa.RSAPrivateKey)
            return builder.sign(
                signing_key, hashes.SHA256(),
                rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            )
        return builder.sign(signing_key, algorithm)

    def write(
        self, name: str, certificate: x509.Certificate, key: PrivateKey, chain: tuple[x509.Certificate, ...] = ()
    ) -> Credential:
        pem = serialization.Encoding.PEM
        leaf = certificate.public_bytes(pem)
        intermediates = b"".join(c.public_bytes(pem) for c in chain)
        key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        paths = {suffix: self.directory / f"{name}{suffix}" for suffix in (".pem", ".crt", ".chain.pem", ".key")}
        paths[".pem"].write_bytes(leaf + intermediates + key_pem)
        paths[".crt"].write_bytes(leaf)
        paths[".chain.pem"].write_bytes(intermediates)
        paths[".key"].write_bytes(key_pem)
        return Credential(
            name, certificate, key, chain, paths[".pem"], paths[".crt"], paths[".chain.pem"], paths[".key"]
        )


def generate(directory: Path) -> PKI:
    """Generate the whole PKI into ``directory`` (about 0.2 s, most of it two RSA keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    b = _Builder(directory)
    both = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)

    def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(curve or ec.SECP256R1())

    root_key = ec_key()
    root_cert = b.certificate("tlsapi conformance root CA", root_key, None, ca=True)
    root = b.write("root", root_cert, root_key)
    inter_key = ec_key()
    inter_cert = b.certificate("tlsapi conformance intermediate CA", inter_key, (root_cert, root_key),
                               ca=True, path_length=0)
    intermediate = b.write("intermediate", inter_cert, inter_key, ())
    issuer = (inter_cert, inter_key)

    untrusted_key = ec_key()
    untrusted_cert = b.certificate("tlsapi conformance untrusted root CA", untrusted_key, None, ca=True)
    untrusted = b.write("untrusted-root-ca", untrusted_cert, untrusted_key)

    pki = PKI(directory, root, intermediate, untrusted, root.leaf_file)
    creds = pki.credentials

    def leaf(name: str, key: PrivateKey, chain_issuer: tuple[x509.Certificate, PrivateKey] = issuer,
             chain: tuple[x509.Certificate, ...] = (inter_cert,), **kwargs: object) -> None:
        kwargs.setdefault("sans", _sans())
        cert = b.certificate(f"tlsapi conformance {name}", key, chain_issuer, **kwargs)  # type: ignore[arg-type]
        creds[name] = b.write(name, cert, key, chain)

    # Good leaves, one per key type; serverAuth and clientAuth, so each also serves as a client certificate.
    leaf("ecdsa-p256", ec_key(), eku=both)
    leaf("ecdsa-p384", ec_key(ec.SECP384R1()), eku=both)
    leaf("rsa-2048", b.rsa_key("leaf"), eku=both)
    leaf("ed25519", ed25519.Ed25519PrivateKey.generate(), eku=both)
    pss_ca_key = b.rsa_key("pss-issuer")
    pss_ca = b.certificate("tlsapi conformance RSA-PSS intermediate CA", pss_ca_key, (root_cert, root_key),
                           ca=True, path_length=0)
    leaf("rsa-pss", b.rsa_key("leaf"), (pss_ca, pss_ca_key), (pss_ca,), pss=True, eku=both)
    leaf("client", ec_key(), eku=(ExtendedKeyUsageOID.CLIENT_AUTH,),
         sans=_sans(("client.example",), ()))
    # A second good leaf for the SNI callback to switch to.
    leaf("alternate", ec_key(), sans=_sans(("alternate.example", "localhost"), ()))

    # Bad leaves: each breaks exactly one rule.
    day = datetime.timedelta(days=1)
    leaf("expired", ec_key(), eku=both, not_before=-60 * day, not_after=-30 * day)
    leaf("not-yet-valid", ec_key(), eku=both, not_before=30 * day, not_after=60 * day)
    leaf("wrong-host", ec_key(), eku=both, sans=_sans(("wrong.example",), ("10.0.0.1",)))
    self_key = ec_key()
    self_cert = b.certificate("localhost", self_key, None, sans=_sans(), eku=both, ca=False)
    creds["self-signed"] = b.write("self-signed", self_cert, self_key)
    u_inter_key = ec_key()
    u_inter = b.certificate("tlsapi conformance untrusted intermediate", u_inter_key,
                            (untrusted_cert, untrusted_key), ca=True, path_length=0)
    leaf("untrusted-root", ec_key(), (u_inter, u_inter_key), (u_inter,), eku=both)
    fake_key = ec_key()
    fake_inter = b.certificate("tlsapi conformance CA:FALSE intermediate", fake_key, (root_cert, root_key),
                               ca=False, eku=None, sans=None)
    leaf("ca-false-intermediate", ec_key(), (fake_inter, fake_key), (fake_inter,), eku=both)
    leaf("wrong-eku", ec_key(), eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    nc_key = ec_key()
    nc_inter = b.certificate(
        "tlsapi conformance name-constrained intermediate", nc_key, (root_cert, root_key), ca=True,
        path_length=0,
        name_constraints=x509.NameConstraints(permitted_subtrees=[x509.DNSName("allowed.example")],
                                              excluded_subtrees=None),
    )
    leaf("name-constraints", ec_key(), (nc_inter, nc_key), (nc_inter,), eku=both, sans=_sans(("localhost",), ()))
    leaf("partial-wildcard", ec_key(), eku=both, sans=_sans(("f*.example.com",), ()))
    # Valid unless VERIFY_X509_STRICT is set: RFC 5280 requires the authority key identifier.
    leaf("no-authority-key-id", ec_key(), authority_key_id=False)
    return pki


_lock = threading.Lock()
_cache: dict[Path, PKI] = {}


def get(directory: Path) -> PKI:
    """The PKI in ``directory``, generated on first use and cached for the process."""
    with _lock:
        if directory not in _cache:
            _cache[directory] = generate(directory)
        return _cache[directory]
