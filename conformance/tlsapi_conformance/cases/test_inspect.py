"""Inspection: the ``getpeercert()`` dict (compared with the stdlib's own decoder), the binary form, the
verified and unverified chains, ``shared_ciphers()``, ``compression()``."""

from __future__ import annotations

import ssl

import pytest

import tlsapi
from tlsapi_conformance.harness import BIOPair, client_context, server_context
from tlsapi_conformance.pki import KEY_TYPES, PKI


@pytest.mark.parametrize("leaf", [*KEY_TYPES, "alternate"])
def test_getpeercert_dict(backend: tlsapi.Backend, pki: PKI, leaf: str) -> None:
    server_hostname = "alternate.example" if leaf == "alternate" else "localhost"
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki, leaf=leaf),
                   server_hostname=server_hostname).connect()
    expected = ssl._ssl._test_decode_cert(str(pki[leaf].leaf_file))  # type: ignore[attr-defined]
    assert pair.client.getpeercert() == expected


def test_getpeercert_shape(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    cert = pair.client.getpeercert()
    assert {"subject", "issuer", "version", "serialNumber", "notBefore", "notAfter", "subjectAltName"} <= set(cert)
    assert cert["version"] == 3
    assert cert["subjectAltName"] == (("DNS", "localhost"), ("IP Address", "127.0.0.1"),
                                      ("IP Address", "0:0:0:0:0:0:0:1"))
    assert ("commonName", "tlsapi conformance ecdsa-p256") in [x[0] for x in cert["subject"]]
    assert ssl.cert_time_to_seconds(cert["notAfter"]) > ssl.cert_time_to_seconds(cert["notBefore"])
    assert cert["serialNumber"] == format(pki.leaf().certificate.serial_number, "X").zfill(2) or \
        int(cert["serialNumber"], 16) == pki.leaf().certificate.serial_number
    der = pair.client.getpeercert(binary_form=True)
    assert isinstance(der, bytes) and der == pki.leaf().der
    assert ssl.DER_cert_to_PEM_cert(der) == tlsapi.DER_cert_to_PEM_cert(der)


def test_getpeercert_before_handshake(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki))
    with pytest.raises(ValueError):
        pair.client.getpeercert()


def test_chains(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    leaf = pki.leaf()
    assert pair.client.get_unverified_chain() == leaf.chain_der
    assert pair.client.get_verified_chain() == [*leaf.chain_der, pki.root.der]


def test_misc_inspection(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    assert pair.client.compression() is None and pair.server.compression() is None
    assert pair.client.selected_npn_protocol() is None
    shared = pair.server.shared_ciphers()
    assert shared and all(isinstance(c, tuple) and len(c) == 3 for c in shared)
    assert pair.server.cipher() in shared or pair.server.cipher()[0] in [c[0] for c in shared]
    assert pair.client.shared_ciphers() is None or isinstance(pair.client.shared_ciphers(), list)
