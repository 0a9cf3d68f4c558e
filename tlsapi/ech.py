"""Encrypted Client Hello configurations: ``ECHConfig`` / ``ECHConfigList`` and their keys.

The wire format is that of the TLS working group's ECH specification (draft-ietf-tls-esni, version 0xfe0d,
published as RFC 9849), section 4::

    struct { HpkeKdfId kdf_id; HpkeAeadId aead_id; } HpkeSymmetricCipherSuite;
    struct {
        uint8 config_id;
        HpkeKemId kem_id;
        opaque public_key<1..2^16-1>;
        HpkeSymmetricCipherSuite cipher_suites<4..2^16-4>;
    } HpkeKeyConfig;
    struct { uint16 type; opaque data<0..2^16-1>; } ECHConfigExtension;
    struct {
        HpkeKeyConfig key_config;
        uint8 maximum_name_length;
        opaque public_name<1..255>;
        ECHConfigExtension extensions<0..2^16-1>;
    } ECHConfigContents;
    struct { uint16 version; uint16 length; ECHConfigContents contents; } ECHConfig;
    ECHConfig ECHConfigList<4..2^16-1>;

An ECHConfigList is what a server publishes (base64, as the ``ech`` parameter of a DNS HTTPS record) and what a
client is configured with. :func:`generate` makes a new X25519 key and its one-entry list; the ``tlsapi ech``
command does the same from the shell. The native engine's client and server use them (``set_ech_configs`` /
``set_ech_keys`` on a native context); a rejection raises :class:`tlsapi.ECHRejectedError` with the server's
``retry_configs``.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ._errors import SSLError, make_error

__all__ = [
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
    "AEAD_CHACHA20_POLY1305",
    "DEFAULT_CIPHER_SUITES",
    "ECH_VERSION",
    "KDF_HKDF_SHA256",
    "KEM_X25519_HKDF_SHA256",
    "ECHConfig",
    "ECHConfigError",
    "ECHConfigExtension",
    "ECHKeys",
    "HpkeSymmetricCipherSuite",
    "config_list_pem",
    "encode_ech_config_list",
    "generate",
    "load_ech_pem",
    "parse_ech_config_list",
]

ECH_VERSION: Final = 0xFE0D
KEM_X25519_HKDF_SHA256: Final = 0x0020
KDF_HKDF_SHA256: Final = 0x0001
AEAD_AES_128_GCM: Final = 0x0001
AEAD_AES_256_GCM: Final = 0x0002
AEAD_CHACHA20_POLY1305: Final = 0x0003

_SUPPORTED_AEADS: Final = frozenset({AEAD_AES_128_GCM, AEAD_AES_256_GCM, AEAD_CHACHA20_POLY1305})
_X25519_KEY_LENGTH: Final = 32
_MANDATORY_EXTENSION_BIT: Final = 0x8000
_PEM_LABEL: Final = b"ECHCONFIG"
_LDH_LABEL: Final = re.compile(rb"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_NUMERIC_LABEL: Final = re.compile(rb"[0-9]+|0[xX][0-9A-Fa-f]*")


class ECHConfigError(SSLError):
    """An ``ECHConfigList`` (or one of its ``ECHConfig`` entries) is malformed, or none of it is usable."""


def _error(message: str) -> ECHConfigError:
    return make_error(ECHConfigError, message, "BAD_ECH_CONFIG")


@dataclass(frozen=True)
class HpkeSymmetricCipherSuite:
    """An HPKE KDF and AEAD pair (RFC 9180 section 7 identifiers)."""

    kdf_id: int
    aead_id: int

    @property
    def is_supported(self) -> bool:
        """Whether tlsapi's HPKE implements it: HKDF-SHA256 with AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305."""
        return self.kdf_id == KDF_HKDF_SHA256 and self.aead_id in _SUPPORTED_AEADS


#: What :func:`generate` offers: HKDF-SHA256 with AES-128-GCM, then with ChaCha20-Poly1305.
DEFAULT_CIPHER_SUITES: Final = (
    HpkeSymmetricCipherSuite(KDF_HKDF_SHA256, AEAD_AES_128_GCM),
    HpkeSymmetricCipherSuite(KDF_HKDF_SHA256, AEAD_CHACHA20_POLY1305),
)


@dataclass(frozen=True)
class ECHConfigExtension:
    """One ``ECHConfigExtension``; a type with the high bit set is mandatory (the client must understand it)."""

    type: int
    data: bytes

    @property
    def is_mandatory(self) -> bool:
        return bool(self.type & _MANDATORY_EXTENSION_BIT)


def _is_valid_public_name(name: bytes) -> bool:
    """Section 6.1.7: dot-separated LDH labels, no leading or trailing dot, last label not an IPv4-like number."""
    labels = name.split(b".")
    if not all(_LDH_LABEL.fullmatch(label) for label in labels):
        return False
    return _NUMERIC_LABEL.fullmatch(labels[-1]) is None


@dataclass(frozen=True)
class ECHConfig:
    """One version-0xfe0d ``ECHConfig``: the server's HPKE key, its cipher suites and public name.

    Construction checks the field bounds of the wire format (``ValueError``); :attr:`unusable_reason` tells
    whether a client may use the configuration.
    """

    config_id: int
    kem_id: int
    public_key: bytes
    cipher_suites: tuple[HpkeSymmetricCipherSuite, ...]
    maximum_name_length: int
    public_name: bytes
    extensions: tuple[ECHConfigExtension, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.config_id <= 0xFF or not 0 <= self.maximum_name_length <= 0xFF:
            raise ValueError("config_id and maximum_name_length are single bytes")
        if not 0 <= self.kem_id <= 0xFFFF:
            raise ValueError("kem_id is a 16-bit identifier")
        if not 1 <= len(self.public_key) <= 0xFFFF:
            raise ValueError("public_key must be 1 to 65535 bytes")
        if not 1 <= len(self.cipher_suites) <= (0xFFFF - 3) // 4:
            raise ValueError("an ECHConfig needs 1 to 16383 cipher suites")
        if any(not (0 <= s.kdf_id <= 0xFFFF and 0 <= s.aead_id <= 0xFFFF) for s in self.cipher_suites):
            raise ValueError("HPKE KDF and AEAD ids are 16-bit identifiers")
        if not 1 <= len(self.public_name) <= 0xFF:
            raise ValueError("public_name must be 1 to 255 bytes")
        types = [extension.type for extension in self.extensions]
        if len(set(types)) != len(types):
            raise ValueError("an extension type appears more than once")
        if any(not 0 <= t <= 0xFFFF or len(e.data) > 0xFFFF for t, e in zip(types, self.extensions, strict=True)):
            raise ValueError("extension types are 16-bit and their data at most 65535 bytes")

    @property
    def unusable_reason(self) -> str | None:
        """Why a client must (or, for an IPv4-like public name, should) ignore this configuration; ``None`` if
        it is usable: an unsupported KEM or key, no supported cipher suite, a mandatory extension (none is
        supported), or a public name that is not a DNS host name (sections 4, 4.2 and 6.1.7)."""
        if self.kem_id != KEM_X25519_HKDF_SHA256:
            return f"unsupported HPKE KEM 0x{self.kem_id:04x}"
        if len(self.public_key) != _X25519_KEY_LENGTH:
            return "the public key is not a 32-byte X25519 key"
        if not any(suite.is_supported for suite in self.cipher_suites):
            return "no supported HPKE cipher suite"
        mandatory = [f"0x{e.type:04x}" for e in self.extensions if e.is_mandatory]
        if mandatory:
            return f"unsupported mandatory extension {', '.join(mandatory)}"
        if not _is_valid_public_name(self.public_name):
            return "the public name is not a DNS host name"
        return None

    def encode(self) -> bytes:
        """The ``ECHConfig`` wire encoding (version, length, contents)."""
        suites = b"".join(s.kdf_id.to_bytes(2, "big") + s.aead_id.to_bytes(2, "big") for s in self.cipher_suites)
        extensions = b"".join(e.type.to_bytes(2, "big") + _vector(e.data, 2) for e in self.extensions)
        contents = b"".join((
            bytes([self.config_id]),
            self.kem_id.to_bytes(2, "big"),
            _vector(self.public_key, 2),
            _vector(suites, 2),
            bytes([self.maximum_name_length]),
            _vector(self.public_name, 1),
            _vector(extensions, 2),
        ))
        if len(contents) > 0xFFFF:
            raise ValueError("the ECHConfig is longer than 65535 bytes")
        return ECH_VERSION.to_bytes(2, "big") + _vector(contents, 2)


def _vector(data: bytes, length_size: int) -> bytes:
    return len(data).to_bytes(length_size, "big") + data


def encode_ech_config_list(configs: Iterable[ECHConfig]) -> bytes:
    """The ``ECHConfigList`` of ``configs``, in order of preference (at least one, at most 65535 bytes)."""
    body = b"".join(config.encode() for config in configs)
    if not 4 <= len(body) <= 0xFFFF:
        raise ValueError("an ECHConfigList holds 1 or more ECHConfigs in at most 65535 bytes")
    return _vector(body, 2)


class _Reader:
    """Bounded big-endian reads over one buffer; running past its end is an :class:`ECHConfigError`."""

    __slots__ = ("_data", "_offset", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        self._data, self._offset, self._what = data, 0, what

    def take(self, length: int) -> bytes:
        end = self._offset + length
        if end > len(self._data):
            raise _error(f"truncated {self._what}")
        chunk = self._data[self._offset:end]
        self._offset = end
        return chunk

    def integer(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int, minimum: int, name: str) -> bytes:
        data = self.take(self.integer(length_size))
        if len(data) < minimum:
            raise _error(f"{name} is shorter than {minimum} bytes")
        return data

    def done(self) -> bool:
        return self._offset == len(self._data)

    def finish(self) -> None:
        if not self.done():
            raise _error(f"{len(self._data) - self._offset} trailing bytes after {self._what}")


def _parse_contents(contents: bytes) -> ECHConfig:
    reader = _Reader(contents, "ECHConfigContents")
    config_id = reader.integer(1)
    kem_id = reader.integer(2)
    public_key = reader.vector(2, 1, "public_key")
    suites_data = reader.vector(2, 4, "cipher_suites")
    if len(suites_data) % 4:
        raise _error("cipher_suites is not a whole number of HpkeSymmetricCipherSuites")
    suites = tuple(
        HpkeSymmetricCipherSuite(int.from_bytes(suites_data[i:i + 2], "big"),
                                 int.from_bytes(suites_data[i + 2:i + 4], "big"))
        for i in range(0, len(suites_data), 4)
    )
    maximum_name_length = reader.integer(1)
    public_name = reader.vector(1, 1, "public_name")
    extensions_reader = _Reader(reader.vector(2, 0, "extensions"), "ECHConfigExtension")
    reader.finish()
    extensions: list[ECHConfigExtension] = []
    while not extensions_reader.done():
        extension_type = extensions_reader.integer(2)
        if any(extension.type == extension_type for extension in extensions):
            raise _error(f"ECHConfig extension 0x{extension_type:04x} appears more than once")
        extensions.append(ECHConfigExtension(extension_type, extensions_reader.vector(2, 0, "extension data")))
    return ECHConfig(config_id, kem_id, public_key, suites, maximum_name_length, public_name, tuple(extensions))


def parse_ech_config_list(data: bytes) -> tuple[ECHConfig, ...]:
    """The version-0xfe0d entries of a wire ``ECHConfigList``, in order; entries of other versions are skipped.

    Any framing error (a length running past its buffer, trailing bytes, a vector under its minimum size, a
    repeated extension type) raises :class:`ECHConfigError`. The result may be empty (only unknown versions);
    entries may still be unusable (see :attr:`ECHConfig.unusable_reason`).
    """
    if len(data) > 2 + 0xFFFF:
        raise _error("an ECHConfigList is at most 65537 bytes")
    outer = _Reader(data, "ECHConfigList")
    reader = _Reader(outer.vector(2, 4, "ECHConfigList"), "ECHConfig")
    outer.finish()
    configs: list[ECHConfig] = []
    while not reader.done():
        version = reader.integer(2)
        contents = reader.vector(2, 0, "ECHConfig contents")
        if version == ECH_VERSION:
            configs.append(_parse_contents(contents))
    return tuple(configs)


@dataclass(frozen=True)
class ECHKeys:
    """A server's ECH material: the ``ECHConfigList`` to publish and the PKCS#8 PEM of its X25519 private key."""

    config_list: bytes
    private_key_pem: bytes

    @property
    def config_list_base64(self) -> str:
        """The list as the ``ech`` parameter of a DNS HTTPS/SVCB record carries it (standard base64)."""
        return base64.b64encode(self.config_list).decode("ascii")

    def to_pem(self) -> bytes:
        """The private key followed by an ``ECHCONFIG`` PEM block of the list (the ECHConfig PEM file format
        OpenSSL's ``openssl ech`` writes)."""
        return self.private_key_pem + config_list_pem(self.config_list)


def config_list_pem(config_list: bytes) -> bytes:
    """The ``-----BEGIN ECHCONFIG-----`` PEM block of an ``ECHConfigList`` (the public part, safe to share)."""
    encoded = base64.b64encode(config_list)
    lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
    return b"\n".join([b"-----BEGIN " + _PEM_LABEL + b"-----", *lines, b"-----END " + _PEM_LABEL + b"-----", b""])


def load_ech_pem(data: bytes) -> tuple[bytes, X25519PrivateKey | None]:
    """Read an ECHConfig PEM file: ``(ECHConfigList, private key or None)``; the list is checked with
    :func:`parse_ech_config_list`, and a private key must be X25519 (``ECHConfigError`` otherwise)."""
    begin, end = b"-----BEGIN " + _PEM_LABEL + b"-----", b"-----END " + _PEM_LABEL + b"-----"
    start = data.find(begin)
    stop = data.find(end, start)
    if start < 0 or stop < 0:
        raise _error("no ECHCONFIG PEM block")
    try:
        config_list = base64.b64decode(b"".join(data[start + len(begin):stop].split()), validate=True)
    except ValueError as exc:
        raise _error("the ECHCONFIG PEM block is not base64") from exc
    parse_ech_config_list(config_list)
    key_pem = data[:start] + data[stop + len(end):]
    if b"-----BEGIN" not in key_pem:
        return config_list, None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as exc:
        raise _error("the private key in the ECH PEM file cannot be read") from exc
    if not isinstance(key, X25519PrivateKey):
        raise _error("the ECH private key is not an X25519 key")
    return config_list, key


def generate(
    public_name: str,
    *,
    config_id: int | None = None,
    maximum_name_length: int = 0,
    cipher_suites: Sequence[HpkeSymmetricCipherSuite] = DEFAULT_CIPHER_SUITES,
) -> ECHKeys:
    """A new X25519 ECH key and the one-entry ``ECHConfigList`` that publishes it.

    ``public_name`` is the client-facing server's DNS name (ASCII, A-labels for IDNs), the name outer
    ClientHellos carry and the certificate must cover for retries. ``config_id`` defaults to a random byte;
    ``maximum_name_length`` (0: unknown) is the longest inner server name, used by clients for padding.
    ``ValueError`` if any argument cannot be published (bad name, bounds, an unsupported cipher suite).
    """
    name = public_name.encode("ascii", "strict") if public_name.isascii() else b""
    if not _is_valid_public_name(name):
        raise ValueError(f"{public_name!r} is not a DNS host name usable as an ECH public name")
    unsupported = [suite for suite in cipher_suites if not suite.is_supported]
    if unsupported:
        raise ValueError(f"unsupported HPKE cipher suites: {unsupported}")
    private_key = X25519PrivateKey.generate()
    config = ECHConfig(
        config_id=secrets.randbelow(256) if config_id is None else config_id,
        kem_id=KEM_X25519_HKDF_SHA256,
        public_key=private_key.public_key().public_bytes_raw(),
        cipher_suites=tuple(cipher_suites),
        maximum_name_length=maximum_name_length,
        public_name=name,
    )
    private_key_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ECHKeys(encode_ech_config_list([config]), private_key_pem)
