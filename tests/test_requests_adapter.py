"""``RequestsAdapter``: requests' per-request ``verify=`` and ``cert=`` over every backend, against loopback
servers, without ever changing the adapter's shared context."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import requests
import urllib3
from cryptography.x509.oid import NameOID
from observing_server import BODY, observing_server

import tlsapi
from tlsapi.integrations import RequestsAdapter
from tlsapi_conformance.pki import PKI


@pytest.fixture(scope="module")
def urls(pki: PKI) -> Iterator[dict[str, str]]:
    """Three servers: one under the test CA, one under an untrusted CA, one requiring a client certificate."""
    with (observing_server(str(pki.leaf().certfile)) as trusted,
          observing_server(str(pki["untrusted-root"].certfile)) as other_ca,
          observing_server(str(pki.leaf().certfile), client_ca=str(pki.ca_file)) as mtls):
        yield {"trusted": trusted.url(), "other-ca": other_ca.url(), "mtls": mtls.url()}


@pytest.fixture
def shared(backend: tlsapi.Backend, pki: PKI) -> tlsapi.Context:
    return tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)


@pytest.fixture
def session(shared: tlsapi.Context) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.mount("https://", RequestsAdapter(shared))
        yield session


def _anchors(context: tlsapi.Context) -> list[bytes]:
    return [bytes(der) for der in context.get_ca_certs(binary_form=True)]


def test_per_request_bundle_never_changes_the_shared_context(
    session: requests.Session, shared: tlsapi.Context, pki: PKI, urls: dict[str, str]
) -> None:
    anchors = _anchors(shared)
    other_bundle = str(pki.untrusted_root.leaf_file)
    assert session.get(urls["trusted"], timeout=10).content == BODY
    with pytest.raises(requests.exceptions.SSLError):
        session.get(urls["other-ca"], timeout=10)
    assert session.get(urls["other-ca"], verify=other_bundle, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):  # the bundle replaces the anchors, as in requests
        session.get(urls["trusted"], verify=other_bundle, timeout=10)
    with pytest.raises(requests.exceptions.SSLError):  # and did not leak into the shared context
        session.get(urls["other-ca"], timeout=10)
    assert _anchors(shared) == anchors and shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname


def test_derived_contexts_are_cached_per_bundle(session: requests.Session, shared: tlsapi.Context, pki: PKI) -> None:
    adapter = session.get_adapter("https://localhost/")
    assert isinstance(adapter, RequestsAdapter)
    bundle = str(pki.untrusted_root.leaf_file)
    derived = adapter.context_for(bundle, None)
    assert adapter.context_for(bundle, None) is derived and derived is not shared
    assert derived.backend is shared.backend
    assert adapter.context_for(True, None) is shared and adapter.context_for(None, None) is shared
    assert adapter.context_for(False, None) is not derived


def test_verify_false_works_as_in_requests(
    session: requests.Session, shared: tlsapi.Context, urls: dict[str, str]
) -> None:
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):  # urllib3 warns, as with requests' own adapter
        assert session.get(urls["other-ca"], verify=False, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        session.get(urls["other-ca"], timeout=10)
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname


def test_client_certificate_is_presented(
    session: requests.Session, shared: tlsapi.Context, pki: PKI, urls: dict[str, str]
) -> None:
    client = pki.client
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        session.get(urls["mtls"], timeout=10)
    response = session.get(urls["mtls"], cert=(str(client.certfile), str(client.keyfile)), timeout=10)
    common_name = client.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert response.content == str(common_name).encode()  # the server saw the client's certificate
    assert session.get(urls["mtls"], cert=str(client.certfile), timeout=10).status_code == 200
    assert shared.cert_chain is None
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        session.get(urls["mtls"], timeout=10)  # the shared context still has no certificate


def test_adapter_takes_a_tlsapi_context() -> None:
    with pytest.raises(TypeError):
        RequestsAdapter(ssl.create_default_context())  # type: ignore[arg-type]
