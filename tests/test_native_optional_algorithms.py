"""What the native engine has but does not use by default, against the ``openssl`` command as the peer: the
RFC 7919 FFDHE groups in TLS 1.3 and TLS_AES_128_CCM_SHA256.

A successful FFDHE handshake proves the prime (a wrong p gives a different shared secret, so the Finished
fails); the invalid shares and the server's group choice are in ``tests/test_rfc_alerts.py``.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable

import native_pki as pki
import pytest

import tlsapi
from tlsapi_native import _groups
from tlsapi_native._context import NativeContext

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
FFDHE_NAMES = [_groups.GROUP_NAMES[group] for group in _groups.FFDHE_GROUPS]
CCM = "TLS_AES_128_CCM_SHA256"
CA = pki.ca()
LEAF = pki.leaf("rsa-2048")


def server_context() -> NativeContext:
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="native")
    assert isinstance(ctx, NativeContext)  # set_groups is the native backend's (ssl has none before 3.15)
    ctx.load_cert_chain(LEAF.cert_path, LEAF.key_path)
    return ctx


def client_context() -> NativeContext:
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="native")
    assert isinstance(ctx, NativeContext)
    ctx.load_verify_locations(CA.cert_path)
    return ctx


def with_openssl_s_client(ctx: NativeContext, options: list[str], check: Callable[[tlsapi.TLSSocket], None]) -> bytes:
    """Serve one ``openssl s_client -tls1_3 OPTIONS`` over loopback with ``ctx`` through ``wrap_socket``: run
    ``check`` on the connection, exchange a line each way; return what s_client printed (``-brief``)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        proc = subprocess.Popen(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{listener.getsockname()[1]}", "-tls1_3", *options,
             "-CAfile", CA.cert_path, "-verify_return_error", "-servername", "localhost", "-brief"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            listener.settimeout(10)
            sock, _ = listener.accept()
            with ctx.wrap_socket(sock, server_side=True) as conn:
                check(conn)
                conn.sendall(b"from native\n")
                output, _ = proc.communicate(b"from s_client\n", timeout=20)
                assert conn.recv(1024) == b"from s_client\n"
        finally:
            proc.kill()
            proc.wait()
    assert b"from native\n" in output
    return output


def with_openssl_s_server(ctx: NativeContext, options: list[str], check: Callable[[tlsapi.TLSSocket], None]) -> None:
    """Connect with ``ctx`` to ``openssl s_server -tls1_3 -rev OPTIONS`` over loopback, run ``check`` on the
    connection and have a line reversed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", str(port), "-cert", LEAF.cert_path, "-key", LEAF.key_path, "-tls1_3",
         *options, "-rev", "-quiet", "-naccept", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        sock = None
        for _ in range(100):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                threading.Event().wait(0.05)
        assert sock is not None
        with ctx.wrap_socket(sock, server_hostname="localhost") as conn:
            check(conn)
            conn.sendall(b"hello openssl\n")
            assert conn.recv(1024).strip() == b"lssnepo olleh"
    finally:
        proc.kill()
        proc.wait()


# -- FFDHE ---------------------------------------------------------------------------------------------------


Check = Callable[[tlsapi.TLSSocket], None]


def _negotiated(version: str, group: str | None = None, cipher: str | None = None) -> Check:
    def check(conn: tlsapi.TLSSocket) -> None:
        assert conn.version() == version
        if group is not None:
            assert conn.group() == group
        if cipher is not None:
            negotiated = conn.cipher()
            assert negotiated is not None and negotiated[0] == cipher

    return check


@pytest.mark.parametrize("group", FFDHE_NAMES)
def test_native_server_ffdhe_with_openssl_s_client(group: str) -> None:
    """``openssl s_client -groups ffdheN`` (no curve offered) gets an FFDHE handshake from the native server."""
    output = with_openssl_s_client(server_context(), ["-groups", group], _negotiated("TLSv1.3", group=group))
    assert f"Server Temp Key: DH, {group.removeprefix('ffdhe')} bits".encode() in output


@pytest.mark.parametrize(("client_groups", "server_group"), [("ffdhe3072", "ffdhe3072"),
                                                             ("x25519:ffdhe2048", "ffdhe2048")])
def test_native_client_ffdhe_with_openssl_s_server(client_groups: str, server_group: str) -> None:
    """A native client whose ``set_groups`` names FFDHE groups handshakes with ``openssl s_server -groups``:
    directly with a share for the first group, or after a HelloRetryRequest for the one the server takes."""
    ctx = client_context()
    ctx.set_groups(client_groups)
    with_openssl_s_server(ctx, ["-groups", server_group], _negotiated("TLSv1.3", group=server_group))


def test_client_does_not_offer_ffdhe_by_default() -> None:
    """The native client's default offer has no FFDHE group (they cost far more than the curves)."""
    assert not set(_groups.DEFAULT_GROUPS) & set(_groups.FFDHE_GROUPS)
    assert set(_groups.FFDHE_GROUPS) <= set(_groups.SUPPORTED_GROUPS)


def test_ffdhe_share_length_is_the_prime_size() -> None:
    """RFC 8446 4.2.8.1: Y and the shared secret are left-padded to the size of p, and p is a 2048-bit
    prime whose top and bottom 64 bits are all ones (RFC 7919 Appendix A)."""
    share = _groups.generate_key_share(_groups.FFDHE2048)
    server_share, secret = _groups.server_key_exchange(_groups.FFDHE2048, share.public)
    assert len(share.public) == len(server_share) == len(secret) == 256
    p = _groups.ffdhe_prime(_groups.FFDHE2048)
    assert p.bit_length() == 2048 and p >> 1984 == p & (2**64 - 1) == 2**64 - 1


# -- TLS_AES_128_CCM_SHA256 ----------------------------------------------------------------------------------


def test_native_server_ccm_with_openssl_s_client() -> None:
    """A native server whose ``set_ciphers`` names TLS_AES_128_CCM_SHA256 serves ``openssl s_client
    -ciphersuites TLS_AES_128_CCM_SHA256``."""
    ctx = server_context()
    ctx.set_ciphers(f"{CCM}:TLS_AES_128_GCM_SHA256")
    output = with_openssl_s_client(ctx, ["-ciphersuites", CCM], _negotiated("TLSv1.3", cipher=CCM))
    assert f"Ciphersuite: {CCM}".encode() in output


def test_native_client_ccm_with_openssl_s_server() -> None:
    """The same with the native client and ``openssl s_server -ciphersuites TLS_AES_128_CCM_SHA256``."""
    ctx = client_context()
    ctx.set_ciphers(CCM)
    with_openssl_s_server(ctx, ["-ciphersuites", CCM], _negotiated("TLSv1.3", cipher=CCM))


def test_ccm_is_not_enabled_by_default() -> None:
    """As in OpenSSL: the default server refuses a client offering only CCM, and no context lists it."""
    assert all(cipher["name"] != CCM for cipher in server_context().get_ciphers())
    with pytest.raises(ssl.SSLError) as info:
        with_openssl_s_client(server_context(), ["-ciphersuites", CCM], _negotiated("TLSv1.3"))
    assert info.value.reason == "NO_SHARED_CIPHER"
