"""``tlsapi.verifycodes.openssl_verify_result`` gives what the stdlib reports, compared against real
handshakes of the stdlib ``ssl`` (the specification) over memory BIOs."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import pytest

from tlsapi.verifycodes import X509_V_OK, openssl_verify_result
from tlsapi_conformance import pki as pki_module
from tlsapi_conformance.harness import BIOPair, reference_client_context, reference_server_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> pki_module.PKI:
    return pki_module.get(Path(tmp_path_factory.mktemp("verifycodes")))


def _stdlib_result(client: ssl.SSLContext, server: ssl.SSLContext, hostname: str) -> tuple[int, str]:
    result = BIOPair(client, server, server_hostname=hostname).handshake()
    error = result.client_error
    if error is None:
        return X509_V_OK, "ok"
    assert isinstance(error, ssl.SSLCertVerificationError), error
    return error.verify_code, error.verify_message


def _chain(pki: pki_module.PKI, name: str) -> list[object]:
    credential = pki[name]
    return [credential.certificate, *credential.chain]


@pytest.mark.parametrize(
    ("leaf", "hostname"),
    [*((case.credential, case.server_hostname) for case in pki_module.BAD_CASES.values()),
     ("ecdsa-p256", "localhost"), ("ecdsa-p256", "::1"), ("expired", "elsewhere.example"),
     ("untrusted-root", "elsewhere.example"), ("client", "localhost")],
)
def test_same_result_as_the_stdlib(pki: pki_module.PKI, leaf: str, hostname: str) -> None:
    expected = _stdlib_result(reference_client_context(pki), reference_server_context(pki, leaf=leaf), hostname)
    assert openssl_verify_result(_chain(pki, leaf), [pki.root.certificate], hostname) == expected


@pytest.mark.parametrize(
    ("flag", "leaf", "anchor"),
    [(ssl.VERIFY_X509_STRICT, "no-authority-key-id", "root"), (ssl.VERIFY_X509_PARTIAL_CHAIN, "ecdsa-p256",
                                                                 "intermediate")],
)
def test_verify_flags(pki: pki_module.PKI, flag: ssl.VerifyFlags, leaf: str, anchor: str) -> None:
    anchor_credential = pki.root if anchor == "root" else pki.intermediate
    for flags in (ssl.VerifyFlags(0), flag):
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(cafile=anchor_credential.leaf_file)
        client.verify_flags = flags
        expected = _stdlib_result(client, reference_server_context(pki, leaf=leaf), "localhost")
        got = openssl_verify_result(_chain(pki, leaf), [anchor_credential.certificate], "localhost",
                                    verify_flags=flags)
        assert got == expected


@pytest.mark.parametrize("leaf", ["client", "expired", "self-signed", "ecdsa-p256"])
def test_client_certificates(pki: pki_module.PKI, leaf: str) -> None:
    """``peer="client"``: the server's view of a client certificate (the SSL client purpose)."""
    server = reference_server_context(pki, verify_mode=ssl.CERT_REQUIRED)
    result = BIOPair(reference_client_context(pki, cert=leaf), server).handshake()
    error = result.server_error
    expected = (X509_V_OK, "ok") if error is None else (error.verify_code, error.verify_message)
    assert openssl_verify_result(_chain(pki, leaf), [pki.root.certificate], None, peer="client") == expected


def test_without_pyopenssl_names_the_extra(pki: pki_module.PKI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "OpenSSL", None)
    with pytest.raises(ImportError, match=r"tlsapi\[pyopenssl\]"):
        openssl_verify_result(_chain(pki, "expired"), [pki.root.certificate], "localhost")
