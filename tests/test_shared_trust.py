"""Contexts share the parsed trust store (issue 19): a second context does not parse ~150 roots again.

The backends that parse CA material in Python (native, pyopenssl) go through ``tlsapi._material``, which
remembers parsed certificates by the exact bytes read. These tests count the parser's calls, check that a
changed file is parsed again (even with its old modification time put back), and that every context built
from the shared store still verifies, and still rejects, real servers over loopback sockets.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import available_backends
from cryptography import x509
from native_pki import Identity, ca, leaf
from test_native_trust import outcome

import tlsapi
from tlsapi import _material

PYTHON_PARSING = [name for name in ("native", "pyopenssl") if name in available_backends()]
UNKNOWN_ISSUER = (20, "unable to get local issuer certificate")


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The inputs the certificate parser really parses (the shared results start empty)."""
    _material.PARSED.clear()
    calls: list[bytes] = []
    real = _material._parse_certificates

    def counting(data: bytes) -> list[x509.Certificate]:
        calls.append(data)
        return real(data)

    monkeypatch.setattr(_material, "_parse_certificates", counting)
    return calls


@pytest.fixture
def system_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A system trust store file (``SSL_CERT_FILE``) holding the CA ``shared-a``."""
    store = tmp_path / "store.pem"
    store.write_bytes(Path(ca("shared-a").cert_path).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(store))
    return store


def server_of(identity: Identity) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(identity.cert_path, identity.key_path)
    return context


def default_client(backend: str) -> Callable[[], ssl.SSLContext]:
    return lambda: tlsapi.create_default_context(backend=backend)


@pytest.mark.parametrize("backend", PYTHON_PARSING)
def test_second_default_context_does_not_parse_the_system_store_again(
    backend: str, parsed: list[bytes], system_store: Path
) -> None:
    first = tlsapi.create_default_context(backend=backend)
    assert parsed == [system_store.read_bytes()]
    second = tlsapi.create_default_context(backend=backend)
    assert len(parsed) == 1
    assert len(second.trust_anchors) == 1
    assert second.trust_anchors[0] is first.trust_anchors[0]
    # Shared, and still verifying: the store's CA is trusted, another CA is not.
    assert outcome(default_client(backend), server_of(leaf(issuer="shared-a"))) == "ok"
    assert outcome(default_client(backend), server_of(leaf(issuer="shared-b"))) == UNKNOWN_ISSUER
    assert len(parsed) == 1


@pytest.mark.parametrize("backend", PYTHON_PARSING)
def test_a_changed_store_file_is_parsed_again(backend: str, parsed: list[bytes], system_store: Path) -> None:
    assert outcome(default_client(backend), server_of(leaf(issuer="shared-a"))) == "ok"
    before = system_store.stat()
    system_store.write_bytes(Path(ca("shared-b").cert_path).read_bytes())
    os.utime(system_store, ns=(before.st_atime_ns, before.st_mtime_ns))  # the content decides, not the metadata
    assert outcome(default_client(backend), server_of(leaf(issuer="shared-a"))) == UNKNOWN_ISSUER
    assert outcome(default_client(backend), server_of(leaf(issuer="shared-b"))) == "ok"
    assert len(parsed) == 2


@pytest.mark.parametrize("backend", PYTHON_PARSING)
def test_cadata_is_parsed_once_per_exact_bytes(backend: str, parsed: list[bytes]) -> None:
    der = ca("shared-a").der
    for _ in range(2):
        tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend).load_verify_locations(cadata=der)
    assert parsed == [der]
    tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend).load_verify_locations(cadata=ca("shared-b").der)
    assert parsed == [der, ca("shared-b").der]


@pytest.mark.skipif("native" not in PYTHON_PARSING, reason="the native backend is not installed")
def test_native_contexts_share_one_built_trust_store(system_store: Path) -> None:
    from tlsapi_native import _trust

    first, second = (tlsapi.create_default_context(backend="native") for _ in range(2))
    assert _trust._cached_store(first.trust_anchors) is _trust._cached_store(second.trust_anchors)


@pytest.mark.skipif("pyopenssl" not in PYTHON_PARSING, reason="the pyopenssl backend is not installed")
def test_pyopenssl_contexts_convert_each_anchor_once(
    system_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from OpenSSL import crypto

    from tlsapi_pyopenssl import _backend

    _backend._openssl_certificate.cache_clear()
    converted: list[x509.Certificate] = []
    real = crypto.X509.from_cryptography

    def counting(certificate: x509.Certificate) -> crypto.X509:
        converted.append(certificate)
        return real(certificate)

    monkeypatch.setattr(crypto.X509, "from_cryptography", staticmethod(counting))
    for _ in range(2):
        assert outcome(default_client("pyopenssl"), server_of(leaf(issuer="shared-a"))) == "ok"
    assert converted == [ca("shared-a").certificate]
