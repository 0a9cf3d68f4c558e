"""Configuration mistakes raise the ``ssl`` error classes (core): code that catches ``ssl.SSLError`` or
``ValueError`` around ``load_cert_chain``, ``load_verify_locations`` or ``set_alpn_protocols`` keeps working.
(Version bounds, server ``verify_mode`` and verify flags are in ``test_security``; CRLs in ``test_trust_policy``.)"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

import tlsapi
from tlsapi_conformance.harness import check_error
from tlsapi_conformance.pki import PKI

Capability = tlsapi.Capability


def _encrypted_key(pki: PKI, directory: Path) -> Path:
    path = directory / "encrypted.key"
    path.write_bytes(pki.leaf().key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"the password")))
    return path


_MISTAKES: dict[str, Callable[[Any, PKI, Path], object]] = {
    "wrong-password": lambda ctx, pki, d: ctx.load_cert_chain(pki.leaf().leaf_file, _encrypted_key(pki, d), "wrong"),
    "cafile-not-pem": lambda ctx, pki, d: ctx.load_verify_locations(cafile=d / "not-pem.der"),
    "alpn-empty": lambda ctx, pki, d: ctx.set_alpn_protocols([""]),
    "alpn-not-str": lambda ctx, pki, d: ctx.set_alpn_protocols([b"h2"]),
}


@pytest.mark.parametrize("mistake", list(_MISTAKES))
def test_configuration_mistakes_raise_ssl_errors(backend: tlsapi.Backend, pki: PKI, tmp_path: Path,
                                                 mistake: str) -> None:
    """The same mistake raises what ``ssl`` raises: the class, ``errno``, ``library`` and ``reason``."""
    (tmp_path / "not-pem.der").write_bytes(bytes(range(256)))

    def raised(ctx: Any) -> BaseException:
        with pytest.raises(Exception) as info:
            _MISTAKES[mistake](ctx, pki, tmp_path)
        return info.value

    expected = raised(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    error = raised(tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend))
    expected_class = next(c for c in type(expected).__mro__ if c.__module__ in ("ssl", "builtins"))
    assert isinstance(error, expected_class), f"{error!r}: expected {expected_class.__name__} as ssl raises"
    if isinstance(expected, ssl.SSLError):
        check_error(error, type(expected).__name__)
        assert isinstance(error, ssl.SSLError)
        assert [getattr(error, name, None) for name in ("errno", "library", "reason")] == [
            getattr(expected, name, None) for name in ("errno", "library", "reason")], error
