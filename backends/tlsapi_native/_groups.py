"""Key-exchange groups: X25519, X448, P-256, P-384, P-521, the X25519MLKEM768 hybrid and the RFC 7919 FFDHE groups.

Encodings follow RFC 8446 section 4.2.8.2 (X25519/X448: raw bytes; NIST curves: uncompressed points only),
section 4.2.8.1 (FFDHE: Y big-endian, left-padded with zeros to the size of p; the shared secret likewise) and
draft-ietf-tls-ecdhe-mlkem for X25519MLKEM768 (client share ``ML-KEM-768 encapsulation key (1184) || X25519
public (32)``, server share ``ML-KEM ciphertext (1088) || X25519 public (32)``, shared secret ``ML-KEM secret
(32) || X25519 secret (32)``). Every malformed or invalid peer share raises ``TLSAlert(illegal_parameter)``,
including an all-zero X25519 result (a small-order point) and an FFDHE Y outside 1 < Y < p-1 (RFC 8446
4.2.8.1, RFC 7919 5.1).

The FFDHE groups (ffdhe2048 to ffdhe8192, TLS 1.3 only) use ``cryptography``'s Diffie-Hellman over the
RFC's fixed primes, which are computed here from the RFC 7919 Appendix A formula. ``cryptography`` 50
deprecates finite-field Diffie-Hellman on attribute access of its ``dh`` module; the two classes used are
taken once at import with that warning silenced. A server accepts them after every elliptic curve (as
OpenSSL 3.0 does: only when the client shares no preferred curve); a client offers them only when
``set_groups`` names them.

``generate_key_shares`` shares one X25519 key between an X25519MLKEM768 share and an X25519 share in the
same ClientHello (as rustls does), saving a key generation per handshake.
"""

from __future__ import annotations

import functools
import ssl
import warnings
from collections.abc import Iterable

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dh, ec, mlkem, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.utils import CryptographyDeprecationWarning

from ._alerts import TLSAlert
from ._defaults import CLIENT_GROUPS, SERVER_GROUPS

__all__ = [
    "DEFAULT_GROUPS",
    "FFDHE2048",
    "FFDHE3072",
    "FFDHE4096",
    "FFDHE6144",
    "FFDHE8192",
    "FFDHE_GROUPS",
    "GROUPS_BY_NAME",
    "GROUP_NAMES",
    "SECP256R1",
    "SECP384R1",
    "SECP521R1",
    "SUPPORTED_GROUPS",
    "X448",
    "X25519",
    "X25519MLKEM768",
    "ClientKeyShare",
    "ffdhe_prime",
    "generate_key_share",
    "generate_key_shares",
    "parse_groups",
    "server_key_exchange",
]

X25519 = 0x001D
X448 = 0x001E
SECP256R1 = 0x0017
SECP384R1 = 0x0018
SECP521R1 = 0x0019
X25519MLKEM768 = 0x11EC
FFDHE2048 = 0x0100
FFDHE3072 = 0x0101
FFDHE4096 = 0x0102
FFDHE6144 = 0x0103
FFDHE8192 = 0x0104
#: RFC 7919 Appendix A: each group's prime size in bits and the offset X of its prime.
_FFDHE_PRIMES: dict[int, tuple[int, int]] = {
    FFDHE2048: (2048, 560316),
    FFDHE3072: (3072, 2625351),
    FFDHE4096: (4096, 5736041),
    FFDHE6144: (6144, 15705020),
    FFDHE8192: (8192, 10965728),
}
FFDHE_GROUPS: tuple[int, ...] = tuple(_FFDHE_PRIMES)

GROUP_NAMES: dict[int, str] = {
    X25519: "x25519",
    SECP256R1: "secp256r1",
    SECP384R1: "secp384r1",
    X25519MLKEM768: "X25519MLKEM768",
    X448: "x448",
    SECP521R1: "secp521r1",
    **{group: f"ffdhe{bits}" for group, (bits, _offset) in _FFDHE_PRIMES.items()},
}
GROUPS_BY_NAME: dict[str, int] = {
    **{name: group for group, name in GROUP_NAMES.items()},
    "X25519": X25519,
    "X448": X448,
    "prime256v1": SECP256R1,
    "P-256": SECP256R1,
    "P-384": SECP384R1,
    "P-521": SECP521R1,
}
#: What a client offers and what a server accepts, in order of preference (the policy is ``_defaults``'s).
DEFAULT_GROUPS: tuple[int, ...] = CLIENT_GROUPS
SUPPORTED_GROUPS: tuple[int, ...] = SERVER_GROUPS

_ILLEGAL_PARAMETER = ssl.AlertDescription.ALERT_DESCRIPTION_ILLEGAL_PARAMETER
_CURVES: dict[int, tuple[ec.EllipticCurve, int]] = {
    SECP256R1: (ec.SECP256R1(), 65),
    SECP384R1: (ec.SECP384R1(), 97),
    SECP521R1: (ec.SECP521R1(), 133),
}
_MLKEM_EK_LEN = 1184
_MLKEM_CT_LEN = 1088
_X25519_LEN = 32
_X448_LEN = 56

with warnings.catch_warnings():  # see the module docstring
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    _DHParameterNumbers = dh.DHParameterNumbers
    _DHPublicNumbers = dh.DHPublicNumbers


def _e_fraction_bits(bits: int) -> int:
    """floor(e * 2^bits), from the series e = sum(1/k!) in fixed point with 64 guard bits."""
    term = 1 << (bits + 64)
    total, k = 0, 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> 64


def ffdhe_prime(group: int) -> int:
    """The prime p of an RFC 7919 group: p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1 (generator 2)."""
    return _ffdhe_parameters(group).parameter_numbers().p


@functools.cache
def _ffdhe_parameters(group: int) -> dh.DHParameters:
    bits, offset = _FFDHE_PRIMES[group]
    p = (1 << bits) - (1 << (bits - 64)) + ((_e_fraction_bits(bits - 130) + offset) << 64) - 1
    return _DHParameterNumbers(p, 2, (p - 1) // 2).parameters()


def _ffdhe_public(group: int, data: bytes) -> dh.DHPublicKey:
    """The peer's FFDHE share: exactly the size of p, and 1 < Y < p-1 (RFC 8446 4.2.8.1), else
    ``illegal_parameter``."""
    numbers = _ffdhe_parameters(group).parameter_numbers()
    p = numbers.p
    if len(data) != (p.bit_length() + 7) // 8:
        raise _illegal("bad FFDHE key share length")
    y = int.from_bytes(data, "big")
    if not 1 < y < p - 1:
        raise _illegal("FFDHE key share out of range")
    return _DHPublicNumbers(y, numbers).public_key()


def _ffdhe_key(group: int) -> tuple[dh.DHPrivateKey, bytes]:
    """A fresh FFDHE key and its share (Y padded to the size of p)."""
    key = _ffdhe_parameters(group).generate_private_key()
    size = (_FFDHE_PRIMES[group][0] + 7) // 8
    return key, key.public_key().public_numbers().y.to_bytes(size, "big")


def _ffdhe_exchange(key: dh.DHPrivateKey, peer: dh.DHPublicKey) -> bytes:
    """Z, left-padded to the size of p (``cryptography`` pads; RFC 8446 7.4.1)."""
    try:
        return key.exchange(peer)
    except ValueError:
        raise _illegal("invalid FFDHE key share") from None


def _illegal(message: str) -> TLSAlert:
    return TLSAlert(_ILLEGAL_PARAMETER, message)


def _montgomery_exchange(key: x25519.X25519PrivateKey | x448.X448PrivateKey, peer: bytes, *,
                         x448_key: bool = False) -> bytes:
    """X25519 (or with ``x448_key`` X448) with ``key`` (RFC 7748): ``illegal_parameter`` for a share of the
    wrong length or a small-order point, including an all-zero result (not secret-dependent in a useful way:
    an all-zero result is public knowledge)."""
    name = "X448" if x448_key else "X25519"
    if len(peer) != (_X448_LEN if x448_key else _X25519_LEN):
        raise _illegal(f"bad {name} key share length")
    try:
        if x448_key:
            assert isinstance(key, x448.X448PrivateKey)
            secret = key.exchange(x448.X448PublicKey.from_public_bytes(peer))
        else:
            secret = key.exchange(x25519.X25519PublicKey.from_public_bytes(peer))  # type: ignore[arg-type]
    except ValueError:  # cryptography refuses small-order points
        raise _illegal(f"invalid {name} key share") from None
    if not any(secret):
        raise _illegal(f"invalid {name} key share")
    return secret


def _ec_public(group: int, data: bytes) -> ec.EllipticCurvePublicKey:
    curve, size = _CURVES[group]
    if len(data) != size or data[0] != 4:
        raise _illegal("bad ECDHE key share: expected an uncompressed point")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, data)
    except ValueError:
        raise _illegal("invalid ECDHE key share") from None


def _ec_exchange(key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey) -> bytes:
    try:
        return key.exchange(ec.ECDH(), peer)
    except ValueError:
        raise _illegal("invalid ECDHE key share") from None


class ClientKeyShare:
    """A client's ephemeral key for one group: ``public`` goes in the key_share extension."""

    __slots__ = ("_dh", "_ec", "_mlkem", "_x448", "_x25519", "group", "public")

    def __init__(
        self,
        group: int,
        *,
        x25519_key: x25519.X25519PrivateKey | None = None,
        x25519_public: bytes | None = None,
    ) -> None:
        self.group = group
        self._x25519: x25519.X25519PrivateKey | None = None
        self._ec: ec.EllipticCurvePrivateKey | None = None
        self._mlkem: mlkem.MLKEM768PrivateKey | None = None
        self._x448: x448.X448PrivateKey | None = None
        self._dh: dh.DHPrivateKey | None = None
        if group in (X25519, X25519MLKEM768):
            if x25519_key is None:
                x25519_key = x25519.X25519PrivateKey.generate()
                x25519_public = None
            self._x25519 = x25519_key
            xpub = x25519_public if x25519_public is not None else x25519_key.public_key().public_bytes_raw()
            if group == X25519:
                self.public = xpub
            else:
                self._mlkem = mlkem.MLKEM768PrivateKey.generate()
                self.public = self._mlkem.public_key().public_bytes_raw() + xpub
        elif group in _CURVES:
            self._ec = ec.generate_private_key(_CURVES[group][0])
            self.public = self._ec.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        elif group == X448:
            self._x448 = x448.X448PrivateKey.generate()
            self.public = self._x448.public_key().public_bytes_raw()
        elif group in _FFDHE_PRIMES:
            self._dh, self.public = _ffdhe_key(group)
        else:
            raise ValueError(f"unsupported group 0x{group:04x}")

    def shared_secret(self, server_share: bytes) -> bytes:
        """The shared secret from the server's key_share; ``TLSAlert(illegal_parameter)`` if it is invalid."""
        server_share = bytes(server_share)
        if self._ec is not None:
            return _ec_exchange(self._ec, _ec_public(self.group, server_share))
        if self._x448 is not None:
            return _montgomery_exchange(self._x448, server_share, x448_key=True)
        if self._dh is not None:
            return _ffdhe_exchange(self._dh, _ffdhe_public(self.group, server_share))
        if self._x25519 is None:  # unreachable: __init__ sets one key
            raise _illegal("no key for this group")
        if self._mlkem is None:
            return _montgomery_exchange(self._x25519, server_share)
        if len(server_share) != _MLKEM_CT_LEN + _X25519_LEN:
            raise _illegal("bad X25519MLKEM768 key share length")
        try:
            kem_secret = self._mlkem.decapsulate(server_share[:_MLKEM_CT_LEN])
        except ValueError:
            raise _illegal("invalid ML-KEM ciphertext") from None
        return kem_secret + _montgomery_exchange(self._x25519, server_share[_MLKEM_CT_LEN:])

    def __repr__(self) -> str:
        return f"<ClientKeyShare {GROUP_NAMES.get(self.group, hex(self.group))}>"


def generate_key_share(group: int) -> ClientKeyShare:
    """A fresh client key share for ``group`` (``ValueError`` for a group we don't implement)."""
    return ClientKeyShare(group)


def generate_key_shares(groups: Iterable[int]) -> list[ClientKeyShare]:
    """Key shares for several groups, reusing one X25519 key between X25519MLKEM768 and X25519."""
    groups = list(groups)
    key: x25519.X25519PrivateKey | None = None
    public: bytes | None = None
    if X25519 in groups and X25519MLKEM768 in groups:
        key = x25519.X25519PrivateKey.generate()
        public = key.public_key().public_bytes_raw()
    return [ClientKeyShare(group, x25519_key=key, x25519_public=public) for group in groups]


def server_key_exchange(group: int, client_share: bytes) -> tuple[bytes, bytes]:
    """The server's side: ``(server_share, shared_secret)`` for the client's ``client_share``.

    Raises ``TLSAlert(illegal_parameter)`` for an invalid share and ``ValueError`` for an unknown group
    (the caller only calls this for a group it offered).
    """
    client_share = bytes(client_share)
    if group == X25519:
        key = x25519.X25519PrivateKey.generate()
        secret = _montgomery_exchange(key, client_share)
        return key.public_key().public_bytes_raw(), secret
    if group in _CURVES:
        peer = _ec_public(group, client_share)
        ec_key = ec.generate_private_key(_CURVES[group][0])
        public = ec_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return public, _ec_exchange(ec_key, peer)
    if group == X448:
        x448_key = x448.X448PrivateKey.generate()
        return x448_key.public_key().public_bytes_raw(), _montgomery_exchange(x448_key, client_share,
                                                                              x448_key=True)
    if group in _FFDHE_PRIMES:
        peer_key = _ffdhe_public(group, client_share)
        dh_key, public = _ffdhe_key(group)
        return public, _ffdhe_exchange(dh_key, peer_key)
    if group == X25519MLKEM768:
        if len(client_share) != _MLKEM_EK_LEN + _X25519_LEN:
            raise _illegal("bad X25519MLKEM768 key share length")
        try:
            encapsulation_key = mlkem.MLKEM768PublicKey.from_public_bytes(client_share[:_MLKEM_EK_LEN])
        except (ValueError, UnsupportedAlgorithm):
            raise _illegal("invalid ML-KEM encapsulation key") from None
        kem_secret, ciphertext = encapsulation_key.encapsulate()
        key = x25519.X25519PrivateKey.generate()
        x_secret = _montgomery_exchange(key, client_share[_MLKEM_EK_LEN:])
        return ciphertext + key.public_key().public_bytes_raw(), kem_secret + x_secret
    raise ValueError(f"unsupported group 0x{group:04x}")


def parse_groups(names: str) -> list[int]:
    """Groups from an OpenSSL-style list (``"X25519:P-256"``); ``ValueError`` for an unknown name."""
    result = []
    for name in names.split(":"):
        group = GROUPS_BY_NAME.get(name.strip())
        if group is None:
            raise ValueError(f"unknown group {name!r}")
        if group not in result:
            result.append(group)
    return result
