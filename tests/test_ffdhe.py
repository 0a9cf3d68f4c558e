"""The RFC 7919 FFDHE groups in TLS 1.3, against the ``openssl`` command as the independent peer.

A successful handshake proves the prime (a wrong p gives a different shared secret, so the Finished fails);
the invalid shares and the server's group choice are in ``tests/test_rfc_alerts.py``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading

import native_pki as pki
import pytest

import tlsapi
from tlsapi_native import _groups
from tlsapi_native._context import NativeContext

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
FFDHE_NAMES = [_groups.GROUP_NAMES[group] for group in _groups.FFDHE_GROUPS]
CA = pki.ca()
LEAF = pki.leaf("rsa-2048")


def server_context() -> tlsapi.Context:
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="native")
    ctx.load_cert_chain(LEAF.cert_path, LEAF.key_path)
    return ctx


def client_context() -> tlsapi.Context:
    ctx = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend="native")
    ctx.load_verify_locations(CA.cert_path)
    return ctx


def _openssl_s_client(port: int, groups: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-groups", groups, "-CAfile", CA.cert_path,
         "-verify_return_error", "-servername", "localhost", "-brief"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("group", FFDHE_NAMES)
def test_native_server_with_openssl_s_client(group: str) -> None:
    """``openssl s_client -groups ffdheN`` (no curve offered) gets an FFDHE handshake from the native server
    through ``wrap_socket``, and both sides read each other's data."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        proc = _openssl_s_client(listener.getsockname()[1], group)
        try:
            listener.settimeout(10)
            sock, _ = listener.accept()
            with server_context().wrap_socket(sock, server_side=True) as conn:
                assert conn.version() == "TLSv1.3"
                assert conn.group() == group
                conn.sendall(b"from native\n")
                output, _ = proc.communicate(b"from s_client\n", timeout=20)
                assert conn.recv(1024) == b"from s_client\n"
        finally:
            proc.kill()
            proc.wait()
    assert f"Server Temp Key: DH, {group.removeprefix('ffdhe')} bits".encode() in output
    assert b"from native\n" in output


@pytest.mark.parametrize(("client_groups", "server_group"), [("ffdhe3072", "ffdhe3072"),
                                                             ("x25519:ffdhe2048", "ffdhe2048")])
def test_native_client_with_openssl_s_server(client_groups: str, server_group: str) -> None:
    """A native client whose ``set_groups`` names FFDHE groups handshakes with ``openssl s_server -groups``:
    directly with a share for the first group, or after a HelloRetryRequest for the one the server takes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", str(port), "-cert", LEAF.cert_path, "-key", LEAF.key_path, "-tls1_3",
         "-groups", server_group, "-rev", "-quiet", "-naccept", "1"],
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
        ctx = client_context()
        assert isinstance(ctx, NativeContext)  # set_groups is the native backend's (ssl has none before 3.15)
        ctx.set_groups(client_groups)
        with ctx.wrap_socket(sock, server_hostname="localhost") as conn:
            assert conn.version() == "TLSv1.3"
            assert conn.group() == server_group
            conn.sendall(b"hello openssl\n")
            assert conn.recv(1024).strip() == b"lssnepo olleh"
    finally:
        proc.kill()
        proc.wait()


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
