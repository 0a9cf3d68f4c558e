"""Certificate verification: every bad certificate, hostname and IP checks, CERT_* modes, mutual TLS."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import (
    VERSIONS,
    BIOPair,
    ThreadedServer,
    check_error,
    check_reference_error,
    client_context,
    recv_exactly,
    reference_client_context,
    reference_server_context,
    server_context,
    tls_client,
)
from tlsapi_conformance.pki import BAD_CASES, GOOD_NAMES, PKI, BadCase

Capability = tlsapi.Capability
_BAD_CLIENT_CERTS = ["expired", "untrusted-root", "self-signed"]


def _check_verify_error(exc: BaseException | None, case: BadCase) -> Any:
    """What code branches on (core): the class, ``reason``, ``library``, ``errno`` and the message prefix."""
    error = check_error(exc, "SSLCertVerificationError")
    assert isinstance(exc, ValueError), "SSLCertVerificationError is also a ValueError"
    assert error.reason == "CERTIFICATE_VERIFY_FAILED", error
    assert error.library == "SSL", error
    assert error.errno == ssl.SSL_ERROR_SSL, error
    assert "certificate verify failed" in str(error), str(error)
    return error


def _check_verify_diagnostics(exc: BaseException | None, case: BadCase) -> None:
    """OpenSSL's own ``verify_code`` and ``verify_message`` (the VERIFY_DIAGNOSTICS capability)."""
    error = check_error(exc, "SSLCertVerificationError")
    assert error.verify_code == case.verify_code, (
        f"verify_code {error.verify_code} ({error.verify_message!r}), expected {case.verify_code} "
        f"({case.verify_message!r})"
    )
    assert error.verify_message == case.verify_message, error.verify_message
    assert f"certificate verify failed: {case.verify_message}" in str(error), str(error)


def _bad_server_handshake(backend: tlsapi.Backend, pki: PKI, case: BadCase) -> Any:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki, leaf=case.credential),
                   server_hostname=case.server_hostname)
    return pair.handshake()


@pytest.mark.parametrize("case", list(BAD_CASES.values()), ids=list(BAD_CASES))
def test_bad_server_certificate(backend: tlsapi.Backend, pki: PKI, case: BadCase) -> None:
    result = _bad_server_handshake(backend, pki, case)
    _check_verify_error(result.client_error, case)
    # The server learns of it from the client's alert: an SSLError, never a verification error.
    server_error = check_error(result.server_error, "SSLError")
    assert not isinstance(server_error, ssl.SSLCertVerificationError), server_error
    assert str(server_error.reason).startswith(("SSLV3_ALERT_", "TLSV1_ALERT_")), server_error


@pytest.mark.capability(Capability.VERIFY_DIAGNOSTICS)
@pytest.mark.parametrize("case", list(BAD_CASES.values()), ids=list(BAD_CASES))
def test_bad_server_certificate_diagnostics(backend: tlsapi.Backend, pki: PKI, case: BadCase) -> None:
    _check_verify_diagnostics(_bad_server_handshake(backend, pki, case).client_error, case)


@pytest.mark.parametrize("case", [BAD_CASES["expired"], BAD_CASES["wrong-host"]], ids=["expired", "wrong-host"])
def test_bad_server_certificate_socket(backend: tlsapi.Backend, pki: PKI, case: BadCase) -> None:
    with ThreadedServer(lambda tls: None, server_context(backend, pki, leaf=case.credential)) as server:
        with pytest.raises(ssl.SSLError) as info, tls_client(server, client_context(backend, pki)):
            pass
        _check_verify_error(info.value, case)
        check_error(server.error(), "SSLError")


@pytest.mark.parametrize("hostname", [*GOOD_NAMES, "LocalHost"])
def test_good_hostnames(backend: tlsapi.Backend, pki: PKI, hostname: str) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki), server_hostname=hostname)
    pair.connect()
    assert pair.client.server_hostname == hostname


def test_check_hostname_off_still_verifies_chain(backend: tlsapi.Backend, pki: PKI) -> None:
    client = client_context(backend, pki)
    client.check_hostname = False
    assert client.verify_mode == ssl.CERT_REQUIRED
    BIOPair(client, server_context(backend, pki, leaf="wrong-host")).connect()
    result = BIOPair(client, server_context(backend, pki, leaf="expired")).handshake()
    _check_verify_error(result.client_error, BAD_CASES["expired"])


@pytest.mark.parametrize("leaf", ["self-signed", "expired", "untrusted-root"])
def test_client_cert_none_accepts_anything(backend: tlsapi.Backend, pki: PKI, leaf: str) -> None:
    client = client_context(backend, pki)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    pair = BIOPair(client, server_context(backend, pki, leaf=leaf), server_hostname="localhost").connect()
    assert pair.client.getpeercert() == {}, "an unverified certificate is reported as an empty dict"
    assert pair.client.getpeercert(binary_form=True) == pki[leaf].der


def test_default_client_context_rejects_unknown_root(backend: tlsapi.Backend, pki: PKI) -> None:
    """A client context that trusts nothing (no load_verify_locations) rejects the suite's chain."""
    client = client_context(backend)
    result = BIOPair(client, server_context(backend, pki)).handshake()
    _check_verify_error(result.client_error, BAD_CASES["untrusted-root"])


def test_cadata_trust(backend: tlsapi.Backend, pki: PKI) -> None:
    for cadata in (pki.root.der, pki.root.leaf_file.read_text("ascii")):
        client = client_context(backend)
        client.load_verify_locations(cadata=cadata)
        BIOPair(client, server_context(backend, pki)).connect()


# -- the server side: CERT_NONE / CERT_OPTIONAL / CERT_REQUIRED and mutual TLS ---------------------------
# CLIENT_AUTH (the server requests and verifies) is certified against the stdlib ``ssl`` as the client, and
# CLIENT_CERT (the client presents) against the stdlib as the server, so each side is judged on its own.


def test_server_cert_none_ignores_client_cert(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(reference_client_context(pki, cert="client"), server_context(backend, pki)).connect()
    assert pair.server.getpeercert() is None
    pair.exchange()


@pytest.mark.capability(Capability.CLIENT_AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_server_verifies_client_certificate(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    server = server_context(backend, pki, verify_mode=ssl.CERT_REQUIRED)
    pair = BIOPair(reference_client_context(pki, cert="client", version=version), server).connect()
    pair.exchange()
    peer = pair.server.getpeercert()
    assert dict(x[0] for x in peer["subject"])["commonName"] == "tlsapi conformance client"
    assert peer["subjectAltName"] == (("DNS", "client.example"),)
    assert pair.server.getpeercert(binary_form=True) == pki.client.der


@pytest.mark.capability(Capability.CLIENT_CERT)
@pytest.mark.parametrize("version", VERSIONS)
def test_client_presents_certificate(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    server = reference_server_context(pki, verify_mode=ssl.CERT_REQUIRED)
    pair = BIOPair(client_context(backend, pki, cert="client", version=version), server).connect()
    pair.exchange()
    assert pair.server.getpeercert(binary_form=True) == pki.client.der


@pytest.mark.parametrize(
    "side",
    [pytest.param("server", marks=pytest.mark.capability(Capability.CLIENT_AUTH), id="server-verifies"),
     pytest.param("client", marks=pytest.mark.capability(Capability.CLIENT_CERT), id="client-presents")],
)
def test_mutual_tls_socket(backend: tlsapi.Backend, pki: PKI, side: str) -> None:
    """Over real sockets, the backend on one side and the reference on the other."""
    def serve(tls: Any) -> Any:
        tls.sendall(b"ok")
        return tls.getpeercert(binary_form=True)

    server_ctx = server_context(backend if side == "server" else None, pki, verify_mode=ssl.CERT_REQUIRED)
    client_ctx = client_context(backend if side == "client" else None, pki, cert="client")
    with ThreadedServer(serve, server_ctx) as server:
        with tls_client(server, client_ctx) as tls:
            assert recv_exactly(tls, 2) == b"ok"
        assert server.result() == pki.client.der


@pytest.mark.capability(Capability.CLIENT_AUTH)
@pytest.mark.parametrize("with_cert", [False, True], ids=["no-cert", "cert"])
def test_cert_optional(backend: tlsapi.Backend, pki: PKI, with_cert: bool) -> None:
    server = server_context(backend, pki, verify_mode=ssl.CERT_OPTIONAL)
    client = reference_client_context(pki, cert="client" if with_cert else None)
    pair = BIOPair(client, server).connect()
    pair.exchange()
    if with_cert:
        assert pair.server.getpeercert()["subjectAltName"] == (("DNS", "client.example"),)
    else:
        assert pair.server.getpeercert() is None


@pytest.mark.capability(Capability.CLIENT_AUTH)
@pytest.mark.parametrize("version", VERSIONS)
def test_cert_required_without_client_cert(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    server = server_context(backend, pki, verify_mode=ssl.CERT_REQUIRED)
    pair = BIOPair(reference_client_context(pki, version=version), server)
    result = pair.handshake()
    server_error = check_error(result.server_error, "SSLError")
    assert server_error.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE", server_error
    client_error = result.client_error
    if client_error is None:  # TLS 1.3: the client finished first and reads the alert afterwards
        with pytest.raises(ssl.SSLError) as info:
            pair.client.read(10)
        client_error = info.value
    client_error = check_reference_error(client_error, "SSLError")
    assert str(client_error.reason).startswith(("SSLV3_ALERT_", "TLSV13_ALERT_", "TLSV1_ALERT_")), client_error


def _bad_client_handshake(backend: tlsapi.Backend, pki: PKI, name: str) -> Any:
    server = server_context(backend, pki, verify_mode=ssl.CERT_REQUIRED)
    return BIOPair(reference_client_context(pki, cert=name), server).handshake()


@pytest.mark.capability(Capability.CLIENT_AUTH)
@pytest.mark.parametrize("name", _BAD_CLIENT_CERTS)
def test_bad_client_certificate(backend: tlsapi.Backend, pki: PKI, name: str) -> None:
    _check_verify_error(_bad_client_handshake(backend, pki, name).server_error, BAD_CASES[name])


@pytest.mark.capability(Capability.VERIFY_DIAGNOSTICS, requires=(Capability.CLIENT_AUTH,))
@pytest.mark.parametrize("name", _BAD_CLIENT_CERTS)
def test_bad_client_certificate_diagnostics(backend: tlsapi.Backend, pki: PKI, name: str) -> None:
    _check_verify_diagnostics(_bad_client_handshake(backend, pki, name).server_error, BAD_CASES[name])
