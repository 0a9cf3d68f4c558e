"""Security properties a backend must keep exactly as ``ssl`` does (core): no TLS version left means no
handshake; a server asked to verify clients asks or refuses the setting; verify flags are enforced or
refused; configuration mistakes raise the ``ssl`` error classes."""

from __future__ import annotations

import datetime
import ssl
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import tlsapi
from tlsapi_conformance.harness import BIOPair, check_error, client_context, server_context
from tlsapi_conformance.pki import PKI

Capability = tlsapi.Capability


def _no_versions(ctx: Any, how: str) -> Any:
    with warnings.catch_warnings():  # OP_NO_TLSv1_* are deprecated in ssl
        warnings.simplefilter("ignore", DeprecationWarning)
        if how == "min-above-max":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        else:
            ctx.options |= ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3
    return ctx


@pytest.mark.parametrize("server_side", [False, True], ids=["client", "server"])
@pytest.mark.parametrize("how", ["min-above-max", "no-tls12-no-tls13"])
def test_no_version_left_refuses_to_handshake(backend: tlsapi.Backend, pki: PKI, how: str, server_side: bool) -> None:
    """``minimum_version`` above ``maximum_version``, or ``OP_NO_TLSv1_2 | OP_NO_TLSv1_3``: the handshake fails
    with ``NO_PROTOCOLS_AVAILABLE`` (as ``ssl``) and no handshake message is sent (at most an alert)."""
    ctx = _no_versions(server_context(backend, pki) if server_side else client_context(backend, pki), how)
    outgoing = tlsapi.MemoryBIO()
    conn = ctx.wrap_bio(tlsapi.MemoryBIO(), outgoing, server_side=server_side,
                        server_hostname=None if server_side else "localhost")
    with pytest.raises(ssl.SSLError) as info:
        conn.do_handshake()
    error = check_error(info.value, "SSLError")
    assert (error.library, error.reason) == ("SSL", "NO_PROTOCOLS_AVAILABLE"), error
    assert not outgoing.read().startswith(b"\x16"), "a handshake message was sent"


def test_server_verify_mode_is_honoured_or_refused(backend: tlsapi.Backend, pki: PKI) -> None:
    """A server with ``CERT_REQUIRED`` asks for a client certificate (a client without one fails), or the backend,
    not declaring client certificates, refuses the setting: never a server that runs without asking."""
    server = server_context(backend, pki)
    if Capability.CLIENT_AUTH not in backend.capabilities():
        with pytest.raises(tlsapi.UnsupportedFeatureError):
            server.verify_mode = ssl.CERT_REQUIRED
        assert server.verify_mode == ssl.CERT_NONE
        return
    server.load_verify_locations(cafile=pki.ca_file)
    server.verify_mode = ssl.CERT_REQUIRED
    pair = BIOPair(client_context(backend, pki, version=ssl.TLSVersion.TLSv1_2), server)
    result = pair.handshake()
    check_error(result.server_error, "SSLError")


def _revoking_cafile(pki: PKI, directory: Path) -> Path:
    """The root and a CRL of the intermediate that revokes the default leaf."""
    now = datetime.datetime.now(datetime.UTC)
    crl = (
        x509.CertificateRevocationListBuilder().issuer_name(pki.intermediate.certificate.subject)
        .last_update(now - datetime.timedelta(hours=1)).next_update(now + datetime.timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(pki.leaf().certificate.serial_number)
            .revocation_date(now - datetime.timedelta(hours=1)).build())
        .sign(pki.intermediate.key, hashes.SHA256())
    )
    path = directory / "root-and-crl.pem"
    path.write_bytes(pki.root.certificate.public_bytes(serialization.Encoding.PEM)
                     + crl.public_bytes(serialization.Encoding.PEM))
    return path


def test_crl_check_is_enforced_or_refused(backend: tlsapi.Backend, pki: PKI, tmp_path: Path) -> None:
    """``VERIFY_CRL_CHECK_LEAF`` with a CRL loaded through ``load_verify_locations``: a revoked leaf fails with
    verify code 23, or the backend refuses the flag. Never accepted and ignored."""
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    client.load_verify_locations(cafile=_revoking_cafile(pki, tmp_path))
    try:
        client.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except tlsapi.UnsupportedFeatureError:
        assert not client.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
        return
    result = BIOPair(client, server_context(backend, pki)).handshake()
    error = check_error(result.client_error, "SSLCertVerificationError")
    assert (error.verify_code, error.verify_message) == (23, "certificate revoked"), error


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
