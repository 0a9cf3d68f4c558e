"""``tlsapi.inject_into_ssl``: unmodified clients run on the injected backend, and the peer sees it.

Each client is used as an application uses it, with the trust store given the usual way
(``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``), against :class:`ObservingServer`, which records the engine
fingerprint of every ClientHello; it must equal the fingerprint of the injected backend.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator

import aiohttp
import httpx
import pytest
import requests
import urllib3
import urllib3.util.ssl_
from observing_server import BODY, EngineFingerprint, ObservingServer

import tlsapi
from tlsapi import _inject, _registry
from tlsapi_conformance.pki import PKI

ORIGINAL = ssl.SSLContext


@pytest.fixture
def trust_test_ca(monkeypatch: pytest.MonkeyPatch, pki: PKI) -> None:
    """Trust the test CA through the environment, as an operator would, and nothing else."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_file))
    monkeypatch.delenv("SSLKEYLOGFILE", raising=False)
    monkeypatch.delenv("TLSAPI_BACKEND", raising=False)


@pytest.fixture(autouse=True)
def always_extract() -> Iterator[None]:
    yield
    tlsapi.extract_from_ssl()
    assert ssl.SSLContext is ORIGINAL
    # Each case is a process that injects at start-up: from Python 3.12 on, urlopen's first call builds an
    # opener whose HTTPS handler makes its context then, and keeps both for the process; forget it, as a
    # new process would not have it.
    urllib.request.install_opener(None)


def test_backends_are_distinguishable_on_the_wire(backend_fingerprints: dict[str, EngineFingerprint]) -> None:
    """The observation means something: no two installed backends send the same engine fingerprint."""
    assert len(set(backend_fingerprints.values())) == len(backend_fingerprints)


def _requests(observer: ObservingServer) -> bytes:
    return requests.get(observer.url("/requests"), timeout=10).content


def _httpx(observer: ObservingServer) -> bytes:
    return httpx.get(observer.url("/httpx"), timeout=10).content


def _urllib3(observer: ObservingServer) -> bytes:
    with urllib3.PoolManager() as pool:
        return pool.request("GET", observer.url("/urllib3"), timeout=10).data


def _urllib_request(observer: ObservingServer) -> bytes:
    with urllib.request.urlopen(observer.url("/urllib"), timeout=10) as response:
        body: bytes = response.read()
        return body


def _aiohttp(observer: ObservingServer) -> bytes:
    # aiohttp made its default contexts at import, before the test set SSL_CERT_FILE: pass one, as apps do
    # for a private CA (its import-time contexts are checked in test_injection_replaces_every_construction_path).
    async def main() -> bytes:
        context = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
        async with aiohttp.ClientSession() as session, session.get(observer.url("/aiohttp"), ssl=context) as response:
            return await response.read()

    return asyncio.run(main())


def _asyncio(observer: ObservingServer) -> bytes:
    async def main() -> bytes:
        reader, writer = await asyncio.open_connection("localhost", observer.port, ssl=True)
        writer.write(b"GET /asyncio HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        response = await reader.read()
        writer.close()
        return response.partition(b"\r\n\r\n")[2]

    return asyncio.run(main())


CLIENTS: dict[str, Callable[[ObservingServer], bytes]] = {
    "requests": _requests,
    "httpx": _httpx,
    "urllib3": _urllib3,
    "urllib.request": _urllib_request,
    "aiohttp": _aiohttp,
    "asyncio": _asyncio,
}


def _refuses_default_verify_flags(backend: tlsapi.Backend) -> bool:
    """Whether the running interpreter's default contexts ask ``backend`` for verify flags it cannot honour:
    from Python 3.13 ``ssl.create_default_context`` (and urllib3) set ``VERIFY_X509_STRICT``, which rustls's
    webpki has no mode for."""
    strict_default = sys.version_info >= (3, 13)
    honoured = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend).honoured_verify_flags
    return strict_default and not honoured & ssl.VERIFY_X509_STRICT


def _assert_injection_refused(backend: tlsapi.Backend) -> None:
    """Injection fails loudly, with nothing left changed: aiohttp's import-time default context, remade for the
    backend, asks for ``VERIFY_X509_STRICT``."""
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="VERIFY_X509_STRICT"):
        tlsapi.inject_into_ssl(backend.name)
    assert ssl.SSLContext is ORIGINAL and _inject.injected_backend() is None


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.usefixtures("trust_test_ca")
def test_unmodified_client_runs_on_injected_backend(
    client: str, backend: tlsapi.Backend, observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint]
) -> None:
    if _refuses_default_verify_flags(backend):
        _assert_injection_refused(backend)
        return
    assert tlsapi.inject_into_ssl(backend.name) is backend
    assert CLIENTS[client](observer) == BODY
    assert observer.fingerprints[-1] == backend_fingerprints[backend.name]


@pytest.mark.usefixtures("trust_test_ca")
def test_extraction_restores_the_stdlib_engine(
    observer: ObservingServer, backend_fingerprints: dict[str, EngineFingerprint]
) -> None:
    others = [name for name in backend_fingerprints
              if name != "stdlib" and not _refuses_default_verify_flags(tlsapi.get_backend(name))]
    for name in others:
        tlsapi.inject_into_ssl(name)
        tlsapi.extract_from_ssl()
    for client in CLIENTS.values():
        assert client(observer) == BODY
        assert observer.fingerprints[-1] == backend_fingerprints["stdlib"]


def test_injection_replaces_every_construction_path(backend: tlsapi.Backend) -> None:
    import aiohttp.connector
    import pip._vendor.urllib3.util.ssl_ as pip_urllib3_ssl  # imported before injection, like urllib3

    if _refuses_default_verify_flags(backend):
        _assert_injection_refused(backend)
        return
    tlsapi.inject_into_ssl(backend)
    made = [
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),
        ssl.create_default_context(),
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH),
        ssl._create_default_https_context(),
        ssl._create_unverified_context(),
        urllib3.util.ssl_.create_urllib3_context(),
        aiohttp.connector._SSL_CONTEXT_VERIFIED,
        aiohttp.connector._SSL_CONTEXT_UNVERIFIED,
    ]
    # pip's older urllib3 sets its own cipher list: a backend that cannot select ciphers refuses it loudly.
    if tlsapi.Capability.SET_CIPHERS in backend.capabilities() or backend.name == "stdlib":
        made.append(pip_urllib3_ssl.create_urllib3_context())
    else:
        with pytest.raises(tlsapi.UnsupportedFeatureError, match="set_ciphers"):
            pip_urllib3_ssl.create_urllib3_context()
    for context in made:
        assert isinstance(context, ssl.SSLContext)
        if backend.name == "stdlib":
            assert type(context) is ORIGINAL  # stdlib: ssl is left alone
        else:
            assert isinstance(context, tlsapi.Context) and context.backend is backend
    assert tlsapi.get_backend() is backend and tlsapi.Context().backend is backend


def test_extraction_restores_ssl_exactly() -> None:
    import aiohttp.connector
    import pip._vendor.urllib3.util.ssl_ as pip_urllib3_ssl

    before = {
        "ssl": dict(vars(ssl)),
        "urllib3": urllib3.util.ssl_.SSLContext,
        "pip": pip_urllib3_ssl.SSLContext,
        "aiohttp": (aiohttp.connector._SSL_CONTEXT_VERIFIED, aiohttp.connector._SSL_CONTEXT_UNVERIFIED),
    }
    tlsapi.set_default_backend("stdlib")
    try:
        tlsapi.inject_into_ssl("native")
        assert ssl.SSLContext is not ORIGINAL and urllib3.util.ssl_.SSLContext is not ORIGINAL
        tlsapi.extract_from_ssl()
        tlsapi.extract_from_ssl()  # a second extraction does nothing
        assert dict(vars(ssl)) == before["ssl"]
        assert urllib3.util.ssl_.SSLContext is before["urllib3"]
        assert pip_urllib3_ssl.SSLContext is before["pip"]
        assert before["aiohttp"] == (aiohttp.connector._SSL_CONTEXT_VERIFIED, aiohttp.connector._SSL_CONTEXT_UNVERIFIED)
        assert _registry.current_default() == "stdlib"  # the previous selection is back
        assert type(ssl.create_default_context()) is ORIGINAL
    finally:
        tlsapi.set_default_backend(None)


def test_injection_is_idempotent_and_switches() -> None:
    import aiohttp.connector

    native = tlsapi.inject_into_ssl("native")
    stand_in, prebuilt = ssl.SSLContext, aiohttp.connector._SSL_CONTEXT_VERIFIED
    assert tlsapi.inject_into_ssl("NATIVE") is native and ssl.SSLContext is stand_in
    assert aiohttp.connector._SSL_CONTEXT_VERIFIED is prebuilt  # the second call rebuilt nothing
    pyopenssl = tlsapi.inject_into_ssl("pyopenssl")
    assert ssl.create_default_context().backend is pyopenssl
    tlsapi.inject_into_ssl("stdlib")  # switching to stdlib undoes the patching, keeps the selection
    assert ssl.SSLContext is ORIGINAL and tlsapi.get_backend().name == "stdlib"
    tlsapi.extract_from_ssl()
    assert _registry.current_default() is None


def test_bad_name_changes_nothing() -> None:
    with pytest.raises(tlsapi.BackendNotFoundError, match="no-such-engine"):
        tlsapi.inject_into_ssl("no-such-engine")
    assert ssl.SSLContext is ORIGINAL and _inject.injected_backend() is None


def test_contexts_made_before_injection_keep_working() -> None:
    """The ssl module's own setters call super(SSLContext, SSLContext): they must still reach OpenSSL."""
    before = ssl.create_default_context()
    tlsapi.inject_into_ssl("native")
    assert isinstance(before, ssl.SSLContext)
    before.options |= ssl.OP_NO_TICKET
    before.verify_flags |= ssl.VERIFY_X509_STRICT
    before.minimum_version = ssl.TLSVersion.TLSv1_3
    before.verify_mode = ssl.CERT_REQUIRED
    assert before.options & ssl.OP_NO_TICKET and before.minimum_version == ssl.TLSVersion.TLSv1_3


def test_subclass_defined_while_injected_is_a_stdlib_context() -> None:
    tlsapi.inject_into_ssl("native")

    class Custom(ssl.SSLContext):
        marker = "custom"

    context = Custom(ssl.PROTOCOL_TLS_CLIENT)
    assert issubclass(Custom, ORIGINAL) and context.marker == "custom"
    context.options |= ssl.OP_NO_TICKET
    assert ssl.SSLContext.wrap_socket is ORIGINAL.wrap_socket


def test_concurrent_injection_is_consistent() -> None:
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def inject_and_build() -> None:
        try:
            barrier.wait(10)
            tlsapi.inject_into_ssl("native")
            assert ssl.create_default_context().backend.name == "native"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=inject_and_build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    tlsapi.extract_from_ssl()
    assert ssl.SSLContext is ORIGINAL and _registry.current_default() is None
