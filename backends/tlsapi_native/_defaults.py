"""The native engine's policy, in one place: the versions, cipher suites, groups and signature schemes it
offers and accepts, each in order of preference, and what the context's version settings mean on the wire.

Every list is a default that a context narrows (``set_ciphers``, ``set_groups``, ``minimum_version`` /
``maximum_version``), never widens. This module imports nothing from the engine: the code points are the
IANA registry's, named in the comments (and in ``_suites``, ``_groups``, ``_signatures``, which implement the
algorithms and take their orders from here). The limits against hostile peers are in ``_limits``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Final

#: The wire codes of the protocol versions the engine speaks, newest first.
TLS13: Final = 0x0304
TLS12: Final = 0x0303

#: TLS 1.3 suites, OpenSSL's default order (no CCM): TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
#: TLS_AES_128_GCM_SHA256.
TLS13_SUITES: Final = (0x1302, 0x1303, 0x1301)
#: TLS 1.2 suites, OpenSSL 3's DEFAULT order (ECDSA before RSA, AES-256 before ChaCha20 before AES-128):
#: ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-GCM-SHA384, ECDHE-ECDSA-CHACHA20-POLY1305,
#: ECDHE-RSA-CHACHA20-POLY1305, ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256.
TLS12_SUITES: Final = (0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC02B, 0xC02F)

#: What a client offers (key shares for the first one or two): X25519MLKEM768, x25519, secp256r1, secp384r1.
CLIENT_GROUPS: Final = (0x11EC, 0x001D, 0x0017, 0x0018)
#: What a server accepts, in its order of preference among the client's key shares: the groups OpenSSL 3.0
#: accepts (X25519MLKEM768, x25519, secp256r1, secp384r1, x448, secp521r1), then ffdhe2048 to ffdhe8192
#: (chosen only when the client shares no curve).
SERVER_GROUPS: Final = (0x11EC, 0x001D, 0x0017, 0x0018, 0x001E, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104)
#: ECDHE groups usable in TLS 1.2 (RFC 8422, RFC 7748): x25519, secp256r1, secp384r1, x448, secp521r1.
TLS12_GROUPS: Final = (0x001D, 0x0017, 0x0018, 0x001E, 0x0019)

#: signature_algorithms for TLS 1.3, OpenSSL's order minus SHA-1 and Ed448: ecdsa_secp256r1_sha256,
#: ecdsa_secp384r1_sha384, ecdsa_secp521r1_sha512, ed25519, rsa_pss_rsae_sha256/384/512, rsa_pss_pss_sha256/384/512.
SIGNATURE_SCHEMES: Final = (0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B)
#: signature_algorithms when TLS 1.2 may be negotiated, and signature_algorithms_cert: rsa_pkcs1_sha256/384/512
#: too (certificates are still signed with PKCS#1 v1.5).
TLS12_SIGNATURE_SCHEMES: Final = (*SIGNATURE_SCHEMES, 0x0401, 0x0501, 0x0601)
CERT_SIGNATURE_SCHEMES: Final = TLS12_SIGNATURE_SCHEMES

_CODES = {ssl.TLSVersion.TLSv1_3: TLS13, ssl.TLSVersion.TLSv1_2: TLS12}


def wire_versions(versions: Iterable[ssl.TLSVersion]) -> tuple[int, ...]:
    """The wire codes of ``versions`` (a context's enabled versions, newest first) that the engine speaks."""
    return tuple(_CODES[version] for version in versions if version in _CODES)
