"""ECHConfig / ECHConfigList (draft-ietf-tls-esni 0xfe0d): encoding, bounded parsing, generation, ``tlsapi ech``."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

import tlsapi
from tlsapi import ech
from tlsapi_native._hpke import SUPPORTED_AEADS, Suite, setup_base_recipient, setup_base_sender

# Cloudflare's published ECHConfigList (the "ech" value of its HTTPS record), an encoding made by another
# implementation: config_id 0xac, X25519, HKDF-SHA256/AES-128-GCM, public name cloudflare-ech.com.
CLOUDFLARE = base64.b64decode(
    "AEX+DQBBrAAgACCInfIgdvp+4xqPkMYvPt1Rv7zxtllWm3SjIjWxBoEgfAAEAAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA="
)


def _config(**changes: object) -> ech.ECHConfig:
    base = ech.ECHConfig(
        config_id=7,
        kem_id=ech.KEM_X25519_HKDF_SHA256,
        public_key=bytes(range(32)),
        cipher_suites=ech.DEFAULT_CIPHER_SUITES,
        maximum_name_length=42,
        public_name=b"public.example.com",
        extensions=(ech.ECHConfigExtension(0x1234, b"opaque"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _wrap(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return len(body).to_bytes(2, "big") + body


def _entry(version: int, contents: bytes) -> bytes:
    return version.to_bytes(2, "big") + len(contents).to_bytes(2, "big") + contents


def test_parses_an_independently_encoded_config_list() -> None:
    (config,) = ech.parse_ech_config_list(CLOUDFLARE)
    assert config.config_id == 0xAC and config.kem_id == ech.KEM_X25519_HKDF_SHA256
    assert config.public_key.hex() == "889df22076fa7ee31a8f90c62f3edd51bfbcf1b659569b74a32235b10681207c"
    assert config.cipher_suites == (ech.HpkeSymmetricCipherSuite(ech.KDF_HKDF_SHA256, ech.AEAD_AES_128_GCM),)
    assert (config.maximum_name_length, config.public_name, config.extensions) == (0, b"cloudflare-ech.com", ())
    assert config.unusable_reason is None
    assert ech.encode_ech_config_list([config]) == CLOUDFLARE


def test_round_trip_with_extensions_and_several_entries() -> None:
    first, second = _config(), _config(config_id=8, extensions=(), public_name=b"b.example")
    encoded = ech.encode_ech_config_list([first, second])
    assert ech.parse_ech_config_list(encoded) == (first, second)


def test_unknown_versions_are_skipped_in_order() -> None:
    known = _config().encode()
    data = _wrap(_entry(0xFE0C, b"\xff" * 9), known, _entry(0xFF01, b""))
    assert ech.parse_ech_config_list(data) == (_config(),)
    assert ech.parse_ech_config_list(_wrap(_entry(0xFE0C, b"anything"))) == ()


def _contents() -> bytes:
    return _config().encode()[4:]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x00\x00",  # ECHConfigList<4..2^16-1> is never empty
        b"\x00\x03\xfe\x0d\x00",
        _wrap(_entry(0xFE0D, _contents()))[:-1],  # truncated contents
        _wrap(_entry(0xFE0D, _contents())) + b"\x00",  # trailing byte after the list
        _wrap(_entry(0xFE0D, _contents() + b"\x00")),  # trailing byte inside the contents
        _wrap(_entry(0xFE0D, _contents()[:-1])),  # a length inside the contents overruns
        _wrap(_entry(0xFE0D, b"")),  # empty contents
        _wrap(_entry(0xFE0C, b"abc"))[:-1],  # an unknown version still has to be framed right
        bytes(2 + 0x10000),  # longer than any ECHConfigList can be
    ],
    ids=["empty", "one-byte", "empty-list", "short-entry", "truncated", "trailing-list", "trailing-contents",
         "overrun", "empty-contents", "unknown-truncated", "oversized"],
)
def test_malformed_framing_is_an_ssl_error(data: bytes) -> None:
    with pytest.raises(ech.ECHConfigError) as caught:
        ech.parse_ech_config_list(data)
    assert isinstance(caught.value, tlsapi.SSLError) and caught.value.reason == "BAD_ECH_CONFIG"


def _contents_with(*, public_key: bytes = bytes(32), suites: bytes = b"\x00\x01\x00\x01", name: bytes = b"a.example",
                   extensions: bytes = b"") -> bytes:
    return b"".join((
        b"\x01\x00\x20", len(public_key).to_bytes(2, "big"), public_key, len(suites).to_bytes(2, "big"), suites,
        b"\x00", len(name).to_bytes(1, "big"), name, len(extensions).to_bytes(2, "big"), extensions,
    ))


@pytest.mark.parametrize(
    "contents",
    [
        _contents_with(public_key=b""),
        _contents_with(suites=b""),
        _contents_with(suites=b"\x00\x01\x00\x01\x00"),
        _contents_with(name=b""),
        _contents_with(extensions=b"\x00\x01\x00\x00\x00\x01\x00\x00"),  # the same type twice
        _contents_with(extensions=b"\x00\x01\x00\x05ab"),
    ],
    ids=["empty-key", "no-suites", "partial-suite", "empty-name", "duplicate-extension", "extension-overrun"],
)
def test_malformed_contents_are_an_ssl_error(contents: bytes) -> None:
    assert ech.parse_ech_config_list(_wrap(_entry(0xFE0D, _contents_with())))  # the well-formed base parses
    with pytest.raises(ech.ECHConfigError):
        ech.parse_ech_config_list(_wrap(_entry(0xFE0D, contents)))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"extensions": (ech.ECHConfigExtension(0x8001, b""),)}, "unsupported mandatory extension 0x8001"),
        ({"kem_id": 0x0010}, "unsupported HPKE KEM 0x0010"),
        ({"public_key": bytes(31)}, "the public key is not a 32-byte X25519 key"),
        ({"cipher_suites": (ech.HpkeSymmetricCipherSuite(2, 1), ech.HpkeSymmetricCipherSuite(1, 0xFFFF))},
         "no supported HPKE cipher suite"),
        ({"public_name": b"192.0.2.1"}, "the public name is not a DNS host name"),
        ({"public_name": b"example.0x1f"}, "the public name is not a DNS host name"),
        ({"public_name": b".example.com"}, "the public name is not a DNS host name"),
        ({"public_name": b"example.com."}, "the public name is not a DNS host name"),
        ({"public_name": b"-bad.example"}, "the public name is not a DNS host name"),
        ({"public_name": "bücher.example".encode()}, "the public name is not a DNS host name"),
    ],
    ids=["mandatory-extension", "kem", "key-length", "suites", "ipv4", "hex-label", "leading-dot",
         "trailing-dot", "hyphen", "non-ascii"],
)
def test_configs_a_client_must_ignore_say_why(changes: dict[str, object], reason: str) -> None:
    config = _config(**changes)
    assert ech.parse_ech_config_list(ech.encode_ech_config_list([config])) == (config,)  # well-formed...
    assert config.unusable_reason == reason  # ...but not usable
    assert _config().unusable_reason is None  # an optional (high bit clear) unknown extension is fine


def test_supported_cipher_suites_are_what_the_native_hpke_implements() -> None:
    for kdf_id in range(4):
        for aead_id in [*range(5), 0xFFFF]:
            supported = kdf_id == ech.KDF_HKDF_SHA256 and aead_id in SUPPORTED_AEADS
            assert ech.HpkeSymmetricCipherSuite(kdf_id, aead_id).is_supported == supported


def test_config_fields_are_bounded() -> None:
    with pytest.raises(ValueError):
        _config(config_id=256)
    with pytest.raises(ValueError):
        _config(public_name=b"a" * 256)
    with pytest.raises(ValueError):
        _config(cipher_suites=())
    with pytest.raises(ValueError):
        _config(extensions=(ech.ECHConfigExtension(1, b""), ech.ECHConfigExtension(1, b"")))
    with pytest.raises(ValueError):
        ech.encode_ech_config_list([])


def test_generate_publishes_a_usable_key_that_hpke_can_seal_to() -> None:
    keys = ech.generate("public.example.com", config_id=9, maximum_name_length=64)
    (config,) = ech.parse_ech_config_list(keys.config_list)
    assert (config.config_id, config.public_name, config.maximum_name_length) == (9, b"public.example.com", 64)
    assert config.cipher_suites == ech.DEFAULT_CIPHER_SUITES and config.unusable_reason is None
    assert base64.b64decode(keys.config_list_base64) == keys.config_list
    config_list, private_key = ech.load_ech_pem(keys.to_pem())
    assert config_list == keys.config_list and isinstance(private_key, X25519PrivateKey)
    assert private_key.public_key().public_bytes_raw() == config.public_key
    # The published key is the private key's: what a client seals, the server opens (ECH's info string).
    info = b"tls ech\x00" + config.encode()
    public_key = X25519PublicKey.from_public_bytes(config.public_key)
    enc, sender = setup_base_sender(Suite(aead_id=ech.AEAD_CHACHA20_POLY1305), public_key, info)
    sealed = sender.seal(b"outer", b"inner")
    assert setup_base_recipient(Suite(aead_id=ech.AEAD_CHACHA20_POLY1305), enc, private_key, info).open(
        b"outer", sealed) == b"inner"


def test_generate_draws_fresh_keys_and_ids() -> None:
    lists = {ech.generate("public.example.com").config_list for _ in range(3)}
    assert len(lists) == 3


@pytest.mark.parametrize("name", ["", "1.2.3.4", "under_score.example", "bücher.example", "a..b"])
def test_generate_refuses_names_clients_would_ignore(name: str) -> None:
    with pytest.raises(ValueError, match="not a DNS host name"):
        ech.generate(name)


def test_load_ech_pem_rejects_bad_files() -> None:
    keys = ech.generate("public.example.com")
    assert ech.load_ech_pem(ech.config_list_pem(keys.config_list)) == (keys.config_list, None)
    with pytest.raises(ech.ECHConfigError, match="no ECHCONFIG"):
        ech.load_ech_pem(keys.private_key_pem)
    with pytest.raises(ech.ECHConfigError, match="not base64"):
        ech.load_ech_pem(b"-----BEGIN ECHCONFIG-----\n!!!!\n-----END ECHCONFIG-----\n")
    with pytest.raises(ech.ECHConfigError, match="truncated"):
        ech.load_ech_pem(ech.config_list_pem(keys.config_list[:-2]))
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ech.ECHConfigError, match="not an X25519 key"):
        ech.load_ech_pem(other + ech.config_list_pem(keys.config_list))


def _tlsapi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlsapi", "ech", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_prints_the_dns_value_and_writes_the_pem_files(tmp_path: Path) -> None:
    out, config_out = tmp_path / "ech.pem", tmp_path / "ech-config.pem"
    result = _tlsapi("--public-name", "public.example.com", "--config-id", "3", "--max-name-length", "32",
                     "--aead", "chacha20-poly1305", "--out", str(out), "--config-out", str(config_out))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    config_list = base64.b64decode(result.stdout.strip(), validate=True)
    (config,) = ech.parse_ech_config_list(config_list)
    assert (config.config_id, config.maximum_name_length, config.public_name) == (3, 32, b"public.example.com")
    assert config.cipher_suites == (ech.HpkeSymmetricCipherSuite(ech.KDF_HKDF_SHA256, ech.AEAD_CHACHA20_POLY1305),)
    loaded_list, private_key = ech.load_ech_pem(out.read_bytes())
    assert loaded_list == config_list and private_key is not None
    assert private_key.public_key().public_bytes_raw() == config.public_key
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert ech.load_ech_pem(config_out.read_bytes()) == (config_list, None)
    assert b"PRIVATE KEY" not in config_out.read_bytes()


def test_cli_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    existing = tmp_path / "ech.pem"
    existing.write_bytes(b"keep me")
    fresh = tmp_path / "config.pem"
    result = _tlsapi("--public-name", "public.example.com", "--config-out", str(fresh), "--out", str(existing))
    assert result.returncode == 2 and "exists; not overwriting it" in result.stderr and result.stdout == ""
    assert existing.read_bytes() == b"keep me" and not fresh.exists()
    result = _tlsapi("--public-name", "192.0.2.1")
    assert result.returncode == 2 and "not a DNS host name" in result.stderr
    result = _tlsapi("--public-name", "public.example.com", "--config-id", "300")
    assert result.returncode == 2 and "single bytes" in result.stderr


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400), st.binary(max_size=4))
def test_parsing_arbitrary_or_mutated_lists_only_raises_ech_config_error(
    data: bytes, position: int, splice: bytes
) -> None:
    valid = ech.encode_ech_config_list([_config(), _config(config_id=9, extensions=())])
    for candidate in (data, valid[:position] + splice + valid[position + len(splice):]):
        try:
            configs = ech.parse_ech_config_list(candidate)
        except ech.ECHConfigError:
            continue
        assert all(isinstance(config, ech.ECHConfig) for config in configs)
