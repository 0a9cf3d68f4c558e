"""Cipher suites: the TLS 1.3 AEAD suites, the TLS 1.2 ECDHE+AEAD suites, and OpenSSL-style cipher strings.

TLS_AES_128_CCM_SHA256 exists but, as in OpenSSL, is not enabled by default: it is selected by its full name
(``set_ciphers``, whose TLS 1.3 names act as OpenSSL's ``set_ciphersuites``). TLS_AES_128_CCM_8_SHA256 is
not implemented (RFC 8446 9.1 does not ask for it; its 8-byte tag does not fit the record layer's fixed
16-byte tag; ``ssl`` offers no way to enable it either).

Only AEAD suites exist here (no CBC, no RSA key exchange, no finite-field DHE; see engines.md section 4).
``parse_cipher_string`` understands the subset of OpenSSL's cipher-list language that consumers actually
pass to ``set_ciphers`` (suite names, ``+``-joined keywords such as ``ECDHE+AESGCM``, the ``!``/``-``/``+``
prefixes, ``DEFAULT``/``ALL``/``HIGH``, ``@STRENGTH`` and ``@SECLEVEL=n``). As in OpenSSL, keywords select
only TLS 1.2 suites; TLS 1.3 suites are selected by their full names.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

__all__ = [
    "DEFAULT_TLS12_SUITES",
    "DEFAULT_TLS13_SUITES",
    "EXTERNAL_PSK_SUITE",
    "TLS12_SUITES",
    "TLS13_SUITES",
    "CipherSuite",
    "cipher_dict",
    "is_tls13_suite",
    "parse_cipher_string",
]


@dataclass(frozen=True)
class CipherSuite:
    """One cipher suite.

    ``hash`` is the HKDF (1.3) or PRF (1.2) hash; ``key_len`` the AEAD key size; ``iv_len`` the per-record
    nonce base (12 in 1.3; the 4-byte implicit salt for 1.2 AES-GCM, 12 for 1.2 ChaCha20); ``aead`` the
    ``cryptography`` AEAD class; ``secret_bits`` the cipher strength reported by ``SSLSocket.cipher()``.
    """

    code: int
    name: str
    hash: type[hashes.HashAlgorithm]
    hash_len: int
    key_len: int
    iv_len: int
    aead: type[AESGCM] | type[ChaCha20Poly1305] | type[AESCCM]
    secret_bits: int
    protocol: str = "TLSv1.3"
    kx: str = "any"  # OpenSSL's Kx= / kea: "any" (1.3) or "ECDH"
    auth: str = "any"  # OpenSSL's Au= / auth: "any" (1.3), "RSA" or "ECDSA"
    tags: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def symmetric(self) -> str:
        """OpenSSL's lowercase cipher name, as in ``get_ciphers()['symmetric']``."""
        if self.aead is ChaCha20Poly1305:
            return "chacha20-poly1305"
        return f"aes-{self.key_len * 8}-{'ccm' if self.aead is AESCCM else 'gcm'}"


def _tls13(code: int, name: str, hash: type[hashes.HashAlgorithm], key_len: int, aead: Any) -> CipherSuite:
    return CipherSuite(code, name, hash, hash().digest_size, key_len, 12, aead, key_len * 8)


def _tls12(code: int, name: str, hash: type[hashes.HashAlgorithm], key_len: int, aead: Any) -> CipherSuite:
    auth = "ECDSA" if "-ECDSA-" in name else "RSA"
    chacha = aead is ChaCha20Poly1305
    cipher_tags = {"CHACHA20"} if chacha else {"AES", "AESGCM", f"AES{key_len * 8}"}
    tags = {
        "ALL", "DEFAULT", "HIGH", "TLSv1.2", "AEAD", "ECDHE", "EECDH", "ECDH", "kECDHE", "kEECDH", "kECDH",
        auth, f"a{auth}", "SHA384" if hash is hashes.SHA384 else "SHA256", *cipher_tags,
    }
    if auth == "ECDSA":
        tags.add("ECDSA")
    return CipherSuite(
        code, name, hash, hash().digest_size, key_len, 12 if chacha else 4, aead, key_len * 8,
        protocol="TLSv1.2", kx="ECDH", auth=auth, tags=frozenset(tags),
    )


TLS13_SUITES: dict[int, CipherSuite] = {
    s.code: s
    for s in (
        _tls13(0x1301, "TLS_AES_128_GCM_SHA256", hashes.SHA256, 16, AESGCM),
        _tls13(0x1302, "TLS_AES_256_GCM_SHA384", hashes.SHA384, 32, AESGCM),
        _tls13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", hashes.SHA256, 32, ChaCha20Poly1305),
        _tls13(0x1304, "TLS_AES_128_CCM_SHA256", hashes.SHA256, 16, AESCCM),  # 16-byte tag (AESCCM's default)
    )
}

#: OpenSSL's suite for PSKs from the PSK callbacks in TLS 1.3 (TLS_AES_128_GCM_SHA256: they are SHA-256 PSKs).
EXTERNAL_PSK_SUITE = 0x1301
#: OpenSSL's default TLS 1.3 suites, in its order (no CCM).
DEFAULT_TLS13_SUITES: tuple[int, ...] = (0x1302, 0x1303, 0x1301)

TLS12_SUITES: dict[int, CipherSuite] = {
    s.code: s
    for s in (
        _tls12(0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256", hashes.SHA256, 16, AESGCM),
        _tls12(0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384", hashes.SHA384, 32, AESGCM),
        _tls12(0xC02F, "ECDHE-RSA-AES128-GCM-SHA256", hashes.SHA256, 16, AESGCM),
        _tls12(0xC030, "ECDHE-RSA-AES256-GCM-SHA384", hashes.SHA384, 32, AESGCM),
        _tls12(0xCCA9, "ECDHE-ECDSA-CHACHA20-POLY1305", hashes.SHA256, 32, ChaCha20Poly1305),
        _tls12(0xCCA8, "ECDHE-RSA-CHACHA20-POLY1305", hashes.SHA256, 32, ChaCha20Poly1305),
    )
}

# OpenSSL 3's DEFAULT order for these suites (ECDSA before RSA, AES-256 before ChaCha20 before AES-128).
DEFAULT_TLS12_SUITES: tuple[int, ...] = (0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC02B, 0xC02F)

_ALL_SUITES: dict[int, CipherSuite] = {**TLS13_SUITES, **TLS12_SUITES}
_BY_NAME: dict[str, CipherSuite] = {s.name: s for s in _ALL_SUITES.values()}
# IANA spellings of the TLS 1.2 suites are accepted too.
_BY_NAME.update(
    {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": TLS12_SUITES[0xC02B],
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": TLS12_SUITES[0xC02C],
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": TLS12_SUITES[0xC02F],
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": TLS12_SUITES[0xC030],
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": TLS12_SUITES[0xCCA9],
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": TLS12_SUITES[0xCCA8],
    }
)


def is_tls13_suite(code: int) -> bool:
    """True for a TLS 1.3 suite code (0x13xx)."""
    return code in TLS13_SUITES


def _no_cipher_match() -> ssl.SSLError:
    # The stdlib raises ssl.SSLError("No cipher can be selected.") with that single argument; we keep its
    # args and str() and add OpenSSL's library/reason.
    from tlsapi import SSLError

    error = SSLError("No cipher can be selected.")
    error.library = "SSL"
    error.reason = "NO_CIPHER_MATCH"
    return error


def _select(element: str) -> list[CipherSuite]:
    """The suites one cipher-string element (``NAME`` or ``TAG+TAG...``) selects, in default order."""
    suite = _BY_NAME.get(element)
    if suite is not None:
        return [suite]
    wanted = set(element.split("+"))
    return [TLS12_SUITES[c] for c in DEFAULT_TLS12_SUITES if wanted <= TLS12_SUITES[c].tags]


def parse_cipher_string(s: str) -> list[int]:
    """The suite codes an OpenSSL cipher string selects, in preference order.

    Elements are separated by ``:`` (also ``,`` or spaces). ``!X`` removes X for good, ``-X`` removes it,
    ``+X`` moves it to the end; unknown names select nothing (as in OpenSSL). Raises ``tlsapi.SSLError``
    (reason ``NO_CIPHER_MATCH``, message ``"No cipher can be selected."``) when nothing is selected.
    """
    if not isinstance(s, str):
        raise TypeError("cipher string must be str")
    selected: list[CipherSuite] = []
    banned: set[int] = set()
    for element in s.replace(",", ":").replace(" ", ":").split(":"):
        if not element:
            continue
        if element.startswith("@"):
            if element == "@STRENGTH":
                selected.sort(key=lambda suite: -suite.secret_bits)
            continue  # @SECLEVEL=n: every suite here meets level 3
        prefix, body = (element[0], element[1:]) if element[0] in "!-+" else ("", element)
        suites = _select(body)
        if prefix == "!":
            banned.update(suite.code for suite in suites)
            selected = [suite for suite in selected if suite.code not in banned]
        elif prefix == "-":
            selected = [suite for suite in selected if suite not in suites]
        elif prefix == "+":
            moved = [suite for suite in selected if suite in suites]
            selected = [suite for suite in selected if suite not in suites] + moved
        else:
            selected += [suite for suite in suites if suite.code not in banned and suite not in selected]
    if not selected:
        raise _no_cipher_match()
    return [suite.code for suite in selected]


def cipher_dict(suite: CipherSuite) -> dict[str, Any]:
    """``suite`` as an entry of ``ssl.SSLContext.get_ciphers()`` (same keys, values and description text)."""
    tls13 = suite.protocol == "TLSv1.3"
    if suite.aead is ChaCha20Poly1305:
        enc = "CHACHA20/POLY1305(256)"
    else:
        enc = f"{'AESCCM' if suite.aead is AESCCM else 'AESGCM'}({suite.key_len * 8})"
    description = (
        f"{suite.name:<30} {suite.protocol:<7} Kx={suite.kx:<8} Au={suite.auth:<5} Enc={enc:<22} Mac=AEAD"
    )
    return {
        "id": 0x03000000 | suite.code,
        "name": suite.name,
        "protocol": suite.protocol,
        "description": description,
        "strength_bits": suite.secret_bits,
        "alg_bits": suite.secret_bits,
        "aead": True,
        "symmetric": suite.symmetric,
        "digest": None,
        "kea": "kx-any" if tls13 else "kx-ecdhe",
        "auth": "auth-any" if tls13 else f"auth-{suite.auth.lower()}",
    }
