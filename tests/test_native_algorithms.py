"""The native engine's algorithms: cipher suites and cipher strings (as OpenSSL selects them), key-exchange
groups (round trips, invalid shares, the hybrid share's layout) and signature schemes."""

from __future__ import annotations

import datetime
import ssl
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tlsapi_native import _groups, _signatures, _suites
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


# -- the policy ----------------------------------------------------------------------------------------------


def test_the_policy_names_only_implemented_algorithms() -> None:
    """``_defaults`` holds the engine's orders of preference as code points: each must be implemented, and the
    algorithm modules take their defaults from it."""
    from tlsapi_native import _defaults

    assert set(_defaults.TLS13_SUITES) <= set(_suites.TLS13_SUITES)
    assert set(_defaults.TLS12_SUITES) <= set(_suites.TLS12_SUITES)
    assert set(_defaults.SERVER_GROUPS) <= set(_groups.GROUP_NAMES)
    assert set(_defaults.CLIENT_GROUPS) <= set(_defaults.SERVER_GROUPS)
    assert set(_defaults.TLS12_GROUPS) <= set(_defaults.SERVER_GROUPS) - set(_groups.FFDHE_GROUPS)
    assert set(_defaults.TLS12_SIGNATURE_SCHEMES) <= set(_signatures.SCHEME_NAMES)
    assert _defaults.TLS12_SIGNATURE_SCHEMES[: len(_defaults.SIGNATURE_SCHEMES)] == _defaults.SIGNATURE_SCHEMES
    assert (_groups.DEFAULT_GROUPS, _groups.SUPPORTED_GROUPS) == (_defaults.CLIENT_GROUPS, _defaults.SERVER_GROUPS)
    assert (_suites.DEFAULT_TLS13_SUITES, _suites.DEFAULT_TLS12_SUITES) == (_defaults.TLS13_SUITES,
                                                                           _defaults.TLS12_SUITES)
    assert _signatures.DEFAULT_SIGNATURE_SCHEMES == _defaults.SIGNATURE_SCHEMES
