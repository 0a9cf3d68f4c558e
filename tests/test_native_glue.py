"""The native engine's glue modules: suites, groups, signature schemes and peer-chain verification.

Trust results are compared with the stdlib: the same certificates go through an ``ssl`` handshake over
MemoryBIOs, and ``verify_code``/``verify_message``/the alert the server receives must agree.
"""

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
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tlsapi_native import _groups, _signatures, _suites, _trust
from tlsapi_native._alerts import TLSAlert

AD = ssl.AlertDescription
NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)

# -- suites -------------------------------------------------------------------------------------------------

CIPHER_STRINGS = [
    "DEFAULT", "ALL:@STRENGTH", "HIGH:!aNULL", "ECDHE+AESGCM:ECDHE+CHACHA20", "ECDH+AESGCM:!ECDSA", "AES256",
    "CHACHA20:AESGCM:-aRSA", "AESGCM:+AES128", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM",
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDH+AESGCM:DH+AESGCM:ECDH+AES:DH+AES:RSA+AESGCM:"
    "RSA+AES:!aNULL:!eNULL:!MD5:!DSS",
]


@pytest.mark.parametrize("cipher_string", CIPHER_STRINGS)
def test_cipher_strings_select_what_openssl_selects(cipher_string: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers(cipher_string)
    expected = [entry for entry in context.get_ciphers() if entry["id"] & 0xFFFF in _suites.TLS12_SUITES]
    codes = _suites.parse_cipher_string(cipher_string)
    assert [_suites.cipher_dict(_suites.TLS12_SUITES[code]) for code in codes] == expected


def test_tls13_suites_match_get_ciphers() -> None:
    expected = [e for e in ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).get_ciphers() if e["protocol"] == "TLSv1.3"]
    assert [_suites.cipher_dict(_suites.TLS13_SUITES[c]) for c in _suites.DEFAULT_TLS13_SUITES] == expected
    assert _suites.parse_cipher_string("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") == [0x1303, 0x1301]
    suite = _suites.TLS13_SUITES[0x1302]
    assert (suite.hash_len, suite.key_len, suite.iv_len, suite.secret_bits) == (48, 32, 12, 256)


def test_no_cipher_match() -> None:
    with pytest.raises(ssl.SSLError) as info:
        _suites.parse_cipher_string("NOPE:!ALL")
    assert info.value.args == ("No cipher can be selected.",)
    assert info.value.reason == "NO_CIPHER_MATCH"
    with pytest.raises(ssl.SSLError):
        _suites.parse_cipher_string("ALL:!ALL")


# -- groups -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", _groups.SUPPORTED_GROUPS, ids=_groups.GROUP_NAMES.get)
def test_group_round_trip(group: int) -> None:
    share = _groups.generate_key_share(group)
    server_share, secret = _groups.server_key_exchange(group, share.public)
    assert share.shared_secret(server_share) == secret
    expected = {_groups.X25519MLKEM768: (1216, 1120, 64), _groups.X25519: (32, 32, 32),
                _groups.SECP256R1: (65, 65, 32), _groups.SECP384R1: (97, 97, 48), _groups.X448: (56, 56, 56),
                _groups.SECP521R1: (133, 133, 66), _groups.FFDHE2048: (256, 256, 256),
                _groups.FFDHE3072: (384, 384, 384), _groups.FFDHE4096: (512, 512, 512),
                _groups.FFDHE6144: (768, 768, 768), _groups.FFDHE8192: (1024, 1024, 1024)}[group]
    assert (len(share.public), len(server_share), len(secret)) == expected


def test_group_names() -> None:
    assert _groups.GROUPS_BY_NAME["P-256"] == _groups.GROUPS_BY_NAME["prime256v1"] == _groups.SECP256R1
    assert _groups.parse_groups("X25519MLKEM768:X25519:P-384") == [0x11EC, 0x1D, 0x18]
    assert _groups.DEFAULT_GROUPS == (0x11EC, 0x1D, 0x17, 0x18)


def test_shared_x25519_key_between_hybrid_and_x25519() -> None:
    hybrid, classic = _groups.generate_key_shares([_groups.X25519MLKEM768, _groups.X25519])
    assert hybrid.public[-32:] == classic.public
    for share in (hybrid, classic):
        server_share, secret = _groups.server_key_exchange(share.group, share.public)
        assert share.shared_secret(server_share) == secret


def _off_curve_point(size: int) -> bytes:
    return b"\x04" + b"\x01" * (size - 1)


INVALID_CLIENT_SHARES = [
    (_groups.X25519, b""), (_groups.X25519, bytes(31)), (_groups.X25519, bytes(33)),
    (_groups.X25519, bytes(32)),  # small-order point: all-zero shared secret
    (_groups.X25519, (1).to_bytes(32, "little")),
    (_groups.SECP256R1, _off_curve_point(65)), (_groups.SECP256R1, b"\x02" + bytes(32)),
    (_groups.SECP256R1, b"\x04" + bytes(64)), (_groups.SECP384R1, _off_curve_point(97)),
    (_groups.SECP384R1, _groups.generate_key_share(_groups.SECP256R1).public),
    (_groups.SECP521R1, _off_curve_point(133)), (_groups.SECP521R1, b"\x04" + bytes(132)),
    (_groups.X448, b""), (_groups.X448, bytes(55)), (_groups.X448, bytes(57)), (_groups.X448, bytes(56)),
    (_groups.X448, (1).to_bytes(56, "little")),
    (_groups.X25519MLKEM768, bytes(1215)), (_groups.X25519MLKEM768, b"\xff" * 1216),
    (_groups.X25519MLKEM768, _groups.generate_key_share(_groups.X25519MLKEM768).public[:-32] + bytes(32)),
]


@pytest.mark.parametrize(("group", "share"), INVALID_CLIENT_SHARES)
def test_invalid_client_share_rejected(group: int, share: bytes) -> None:
    with pytest.raises(TLSAlert) as info:
        _groups.server_key_exchange(group, share)
    assert info.value.description == AD.ALERT_DESCRIPTION_ILLEGAL_PARAMETER


@pytest.mark.parametrize("group", _groups.SUPPORTED_GROUPS, ids=_groups.GROUP_NAMES.get)
def test_invalid_server_share_rejected(group: int) -> None:
    share = _groups.generate_key_share(group)
    good, _ = _groups.server_key_exchange(group, share.public)
    bad = [good[:-1], good + b"\x00", b""]
    if group in (_groups.X25519, _groups.X448):
        bad.append(bytes(len(good)))
    elif group == _groups.X25519MLKEM768:
        bad.append(good[:-32] + bytes(32))
    elif group in _groups.FFDHE_GROUPS:
        bad.append(bytes(len(good)))
    else:
        bad.append(good[:1] + bytes(len(good) - 1))
    for server_share in bad:
        with pytest.raises(TLSAlert) as info:
            share.shared_secret(server_share)
        assert info.value.description == AD.ALERT_DESCRIPTION_ILLEGAL_PARAMETER


def _client_hello_key_shares(record: bytes) -> dict[int, bytes]:
    """The key_share entries of a ClientHello record (test helper; input from OpenSSL)."""
    body = record[5 + 4:]
    pos = 2 + 32
    pos += 1 + body[pos]
    pos += 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 1 + body[pos]
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    shares: dict[int, bytes] = {}
    while pos < end:
        kind, length = int.from_bytes(body[pos:pos + 2], "big"), int.from_bytes(body[pos + 2:pos + 4], "big")
        data = body[pos + 4:pos + 4 + length]
        pos += 4 + length
        if kind == 51:
            inner = 2
            while inner < len(data):
                group = int.from_bytes(data[inner:inner + 2], "big")
                size = int.from_bytes(data[inner + 2:inner + 4], "big")
                shares[group] = data[inner + 4:inner + 4 + size]
                inner += 4 + size
    return shares


def test_hybrid_share_layout_matches_openssl() -> None:
    """pyOpenSSL's OpenSSL (3.5+) offers X25519MLKEM768 by default: its share must parse as ML-KEM-768 key
    (first 1184 bytes, which passes FIPS 203's modulus check only in the right place) || X25519 key.
    pyOpenSSL cannot force a group, so a full handshake on this group is left to the engine's interop tests.
    """
    SSL = pytest.importorskip("OpenSSL.SSL")
    connection = SSL.Connection(SSL.Context(SSL.TLS_CLIENT_METHOD), None)
    connection.set_connect_state()
    with pytest.raises(SSL.WantReadError):
        connection.do_handshake()
    shares = _client_hello_key_shares(connection.bio_read(65536))
    if _groups.X25519MLKEM768 not in shares:
        pytest.skip("this OpenSSL does not offer X25519MLKEM768")
    hybrid = shares[_groups.X25519MLKEM768]
    assert len(hybrid) == 1216
    server_share, secret = _groups.server_key_exchange(_groups.X25519MLKEM768, hybrid)
    assert len(server_share) == 1120 and len(secret) == 64
    with pytest.raises(TLSAlert):  # X25519 first: the ML-KEM key check fails
        _groups.server_key_exchange(_groups.X25519MLKEM768, hybrid[1184:] + hybrid[:1184])


# -- signatures ---------------------------------------------------------------------------------------------

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_P256 = ec.generate_private_key(ec.SECP256R1())
_P384 = ec.generate_private_key(ec.SECP384R1())
_P521 = ec.generate_private_key(ec.SECP521R1())
_ED = ed25519.Ed25519PrivateKey.generate()
S = _signatures

SCHEME_KEYS: list[tuple[int, Any, bool]] = [
    (S.ECDSA_SECP256R1_SHA256, _P256, True), (S.ECDSA_SECP384R1_SHA384, _P384, True),
    (S.ECDSA_SECP521R1_SHA512, _P521, True), (S.ED25519, _ED, True),
    (S.RSA_PSS_RSAE_SHA256, _RSA, True), (S.RSA_PSS_RSAE_SHA384, _RSA, True), (S.RSA_PSS_RSAE_SHA512, _RSA, True),
    (S.RSA_PKCS1_SHA256, _RSA, False), (S.RSA_PKCS1_SHA384, _RSA, False), (S.RSA_PKCS1_SHA512, _RSA, False),
    (S.ECDSA_SECP384R1_SHA384, _P256, False),  # TLS 1.2: ECDSA schemes fix only the hash
]


@pytest.mark.parametrize(("scheme", "key", "tls13"), SCHEME_KEYS)
def test_sign_verify(scheme: int, key: Any, tls13: bool) -> None:
    data = S.tls13_certificate_verify_input(b"\x11" * 32, server=True)
    signature = S.sign(scheme, key, data)
    S.verify(scheme, key.public_key(), signature, data, tls13=tls13)
    with pytest.raises(TLSAlert) as info:
        S.verify(scheme, key.public_key(), signature, data + b"x", tls13=tls13)
    assert info.value.description == AD.ALERT_DESCRIPTION_DECRYPT_ERROR


@pytest.mark.parametrize(
    ("scheme", "key"),
    [(S.ECDSA_SECP384R1_SHA384, _P256), (S.RSA_PSS_RSAE_SHA256, _P256), (S.ED25519, _RSA),
     (S.ECDSA_SECP256R1_SHA256, _ED), (S.RSA_PKCS1_SHA256, _RSA), (S.RSA_PSS_PSS_SHA256, _RSA), (0x0201, _RSA)],
)
def test_mismatched_scheme_rejected(scheme: int, key: Any) -> None:
    with pytest.raises(TLSAlert) as info:
        S.verify(scheme, key.public_key(), b"\x00" * 64, b"data")
    assert info.value.description == AD.ALERT_DESCRIPTION_ILLEGAL_PARAMETER


def test_rsa_pss_salt_is_hash_length() -> None:
    data = b"transcript"
    signature = S.sign(S.RSA_PSS_RSAE_SHA384, _RSA, data)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
    _RSA.public_key().verify(signature, data, pss, hashes.SHA384())


# An id-RSASSA-PSS key and self-signed certificate (made with `openssl genpkey -algorithm RSA-PSS`).
_PSS_KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIIEvAIBADALBgkqhkiG9w0BAQoEggSoMIIEpAIBAAKCAQEA0QF7O/KNXLzCSXlY
zsWNAhFsoF5BJYA8JHgVfBoD+FP1WeWOlCybFnT2rdwF8d5fz0HcDX5n90McuVZQ
Qzg0RygnyrfVJ8KaK+Z8mC3FG6AOgFBBUQytxr7rUeI6wm2vTauNZ/CxASSNApED
SsiCwIK2d9A9xrxUbO13uC2eL6JK3mcwqwdydq/kCHrDWkH97jTHWAGWPG2Pego1
J4njRAGa8v0nkPQZsCC51Hrp1R7fDjOUJfLs2ZHze1oXp3ojlugdhkV/IxcEtnM/
bHh9lKgoYfnx+qjeFdegd2jGN8kvZZxy+LcWjUgGpjVk/sfYw/sjgoQvTTyGVVog
ig5RjQIDAQABAoIBABksYgDq6m7Yh1gdJv6kmaK9oYVBRPx00Qmdcw0C/yZqSltd
BErBgp52UP3IyeiDXavTZWM0reYArdV+2WT3QIivg/dtI93JmRMfjDMyFBMLOKPo
xq0x5z5QYXx30Jb5agtjVcFGorMeCWPdPnXD58ezFrIgoUguB8ck5O4IhIx8+jjz
pHBfZSLA6lqi8b5DFxIDH02QGVW2ceG3syIcQE3pihE7B39qFGrj0B8B0HsRCl8M
lTdV4VvHrqKdXWDEUgKbyHFd9YEi6XAasz4wnj/eJFN01eH3WUphbswL8VhtL8yo
f5XTSO2CAqxcCM7EBidGQBH7FKjXivPOnBk4SrECgYEA+0vUdPBpkaDl+Q4YSdEy
180Hfk1ji0yqvmZ/hDdFfdBc6e4Oz8h+a5RcJBB/QpRUJtOlCj2Mt3EzWfAb78hv
tNo/+eW8KjcQfoJAeVuCZts7pjH5SKObuRYXk36C0UYcJBHaduIaFATYDiRelaLZ
EuR1oZmlmI8RuRI/FSz+GKUCgYEA1OsAslsP2/96ZEmOnkYb9wToCIdaYI//SFrj
k0DhSaLeeCQ1VB696TuG/yyw5gdSdvkgkfxoETFERJh1b5b8uJ5nmSvNMwcXrZ/J
Qw/QgJkkPoxEAt/TIcwL97bDHMZD2DQcZYNxOAUGpIus5xsK0BRW+RKWiYNgyobJ
5zlPmMkCgYEA1QlRIJ3bcXjs3Xnkf1fZeXc4fguPcz1YlreALQ9KW0G0MyD874uy
GPOaNXzC1ie3O387L/ZEABP4i6txk5LhmHlZuTnYjhVGZ2l2zSsV3qrG47sD8V+6
GWuwKvsaXd3I5483HIfLweLlYv/UK5j12/1P9+KwryfCx5m/Xu1YsH0CgYBvJTnY
4QZXXnbikS9c2dZRTYNeqGF6VND7UU7JGK5CBT5C0wvvnJigfs2KuSai/aGDr6rb
6jnc963ebQOou9Wy/iWwZJgakhI/NVEXq9K4vriX2hrKsVKCqwR4TDRv+eOCojlM
mJ/qkV0VWkBo58nuMx/vp09j+2v0bQZKqLUvWQKBgQC4HtkHmnQUcK6GBfqxXX4r
L87ck0SpGj/Zd4kS5HMY2oqjJdLdQ+lIJXW/joWP4bQcyLcHe0kL2L5OthpYwry4
OaEPJwtlM194qmBhzhSgnVwF76md2Q5IAnZLiGNyx7Oo2dizB+RhgC5eWq8b0GI2
D2lRxUmgRT/JYAgcR+zB5Q==
-----END PRIVATE KEY-----
"""
_PSS_CERT_PEM = b"""-----BEGIN CERTIFICATE-----
MIIDdTCCAiigAwIBAgIUDf5Bflp4S64CsXexGXIvOlcT8cowQgYJKoZIhvcNAQEK
MDWgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEF
AKIEAgIA3jAVMRMwEQYDVQQDDApyc2Fzc2EtcHNzMCAXDTI2MTEyMTEzNTIwOFoY
DzIxMjYxMDI4MTM1MjA4WjAVMRMwEQYDVQQDDApyc2Fzc2EtcHNzMIIBIDALBgkq
hkiG9w0BAQoDggEPADCCAQoCggEBANEBezvyjVy8wkl5WM7FjQIRbKBeQSWAPCR4
FXwaA/hT9VnljpQsmxZ09q3cBfHeX89B3A1+Z/dDHLlWUEM4NEcoJ8q31SfCmivm
fJgtxRugDoBQQVEMrca+61HiOsJtr02rjWfwsQEkjQKRA0rIgsCCtnfQPca8VGzt
d7gtni+iSt5nMKsHcnav5Ah6w1pB/e40x1gBljxtj3oKNSeJ40QBmvL9J5D0GbAg
udR66dUe3w4zlCXy7NmR83taF6d6I5boHYZFfyMXBLZzP2x4fZSoKGH58fqo3hXX
oHdoxjfJL2Wccvi3Fo1IBqY1ZP7H2MP7I4KEL008hlVaIIoOUY0CAwEAAaNTMFEw
HQYDVR0OBBYEFGKURmyTuuu37Ek4E3rvpaL0or9jMB8GA1UdIwQYMBaAFGKURmyT
uuu37Ek4E3rvpaL0or9jMA8GA1UdEwEB/wQFMAMBAf8wQgYJKoZIhvcNAQEKMDWg
DzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEFAKIE
AgIA3gOCAQEAT8x+kV7xfda9/7uVCHSPtlWzXo4odfiq8CAcavbX960Q60FGHtk4
kENuUhd34ljUTbzAkJ6s18vOWQzRmYZNH2G27OBoWBPfFACnsqgEvxf4o7yxhJ47
bqVF3lmKiuNu2hHrRQumyG4KC4NQsF4hXATaXxIeaX/9zDBi8ekwS3jUScR2z3xG
3j6wnA7DEOwTTZeZR2dxfk5Lr9tO+qutBBRxXPt6Rl3zzhkbOprFyVw22tE+DiEJ
EtPNY1NMRBzZTY8/VsyaofYl4cyGOjpmpWWaqZp0uR6axRY/fK+iLVE00xDd1u04
EsoRNB+RnQqqvcqvrd7sL4binMEiV8Yd0A==
-----END CERTIFICATE-----
"""


def test_choose_scheme() -> None:
    everything = S.DEFAULT_TLS12_SIGNATURE_SCHEMES
    assert S.choose_scheme(_P256, everything) == S.ECDSA_SECP256R1_SHA256
    assert S.choose_scheme(_P384, everything) == S.ECDSA_SECP384R1_SHA384
    assert S.choose_scheme(_P384, [S.ECDSA_SECP256R1_SHA256]) is None
    assert S.choose_scheme(_P384, [S.ECDSA_SECP256R1_SHA256], tls13=False) == S.ECDSA_SECP256R1_SHA256
    assert S.choose_scheme(_ED, everything) == S.ED25519
    assert S.choose_scheme(_RSA, everything) == S.RSA_PSS_RSAE_SHA256
    assert S.choose_scheme(_RSA, [S.RSA_PKCS1_SHA256]) is None
    assert S.choose_scheme(_RSA, [S.RSA_PKCS1_SHA256], tls13=False) == S.RSA_PKCS1_SHA256
    assert S.choose_scheme(_RSA, [S.RSA_PSS_PSS_SHA256, S.RSA_PSS_RSAE_SHA512]) == S.RSA_PSS_RSAE_SHA512
    # cryptography loads an id-RSASSA-PSS key as a plain RSA key: the certificate tells them apart.
    pss_key = serialization.load_pem_private_key(_PSS_KEY_PEM, None)
    pss_cert = x509.load_pem_x509_certificate(_PSS_CERT_PEM)
    assert isinstance(pss_key, rsa.RSAPrivateKey)
    assert pss_cert.public_key_algorithm_oid == x509.oid.PublicKeyAlgorithmOID.RSASSA_PSS
    assert S.choose_scheme(pss_key, everything, certificate=pss_cert) == S.RSA_PSS_PSS_SHA256
    assert S.choose_scheme(pss_key, [S.RSA_PSS_RSAE_SHA256], certificate=pss_cert) is None
    signature = S.sign(S.RSA_PSS_PSS_SHA384, pss_key, b"data")
    S.verify(S.RSA_PSS_PSS_SHA384, pss_cert.public_key(), signature, b"data", certificate=pss_cert)
    with pytest.raises(TLSAlert):
        S.verify(S.RSA_PSS_RSAE_SHA384, pss_cert.public_key(), signature, b"data", certificate=pss_cert)


def test_certificate_verify_input() -> None:
    data = S.tls13_certificate_verify_input(b"H" * 32, server=False)
    assert data == b" " * 64 + b"TLS 1.3, client CertificateVerify" + b"\x00" + b"H" * 32
    assert S.DEFAULT_SIGNATURE_SCHEMES[0] == S.ECDSA_SECP256R1_SHA256
    assert not set(S.DEFAULT_SIGNATURE_SCHEMES) & {S.RSA_PKCS1_SHA256, S.RSA_PKCS1_SHA384, S.RSA_PKCS1_SHA512}
    assert S.RSA_PKCS1_SHA256 in S.DEFAULT_CERT_SIGNATURE_SCHEMES


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
