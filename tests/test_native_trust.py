"""The native engine's certificate policy over real loopback sockets, compared with plain ``ssl``.

Each scenario runs twice against the same server: once with a plain ``ssl.SSLContext`` client and once with
a native client configured the same way; both must connect, or both must fail with the same
``verify_code``/``verify_message``. Certificates come from CPython's own test CA, the ``openssl req -x509``
one-liner, and ``cryptography`` (``test_native_glue.make``).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from test_native_glue import CHAIN_CRL, LEAF_CRL, STRICT, Pair, make, make_crl

import tlsapi
from tlsapi_conformance.harness import ThreadedServer

OPENSSL = shutil.which("openssl")
PARTIAL = ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_X509_PARTIAL_CHAIN
Outcome = tuple[int, str] | str


def _certdata() -> Path:
    """The interpreter's test certificates (``Lib/test/certdata`` on 3.12+, ``Lib/test`` before)."""
    test_dir = Path(sysconfig.get_paths()["stdlib"]) / "test"
    return test_dir / "certdata" if (test_dir / "certdata").is_dir() else test_dir


def _echo(tls: Any) -> None:
    tls.sendall(tls.recv(100))


def outcome(make_client: Callable[[], ssl.SSLContext], server_ctx: Any, *, hostname: str = "localhost") -> Outcome:
    """Connect a client from ``make_client`` to a loopback server with ``server_ctx``: ``"ok"`` after an
    echoed message, or the client's ``(verify_code, verify_message)``."""
    client = make_client()
    server = ThreadedServer(_echo, server_ctx)
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    result: Outcome
    try:
        with client.wrap_socket(raw, server_hostname=hostname) as tls:
            tls.sendall(b"ping")
            assert tls.recv(100) == b"ping"
        result = "ok"
    except ssl.SSLCertVerificationError as error:
        result = (error.verify_code, error.verify_message)
    finally:
        raw.close()
    try:
        server.result()
    except (ssl.SSLError, OSError):
        assert result != "ok"
    return result


def both(server_ctx: Any, cafile: str | Path, *, flags: int = ssl.VERIFY_X509_TRUSTED_FIRST,
         hostname: str = "localhost") -> tuple[Outcome, Outcome]:
    """(plain ``ssl`` client's outcome, native client's outcome) against ``server_ctx``."""

    def client(factory: Callable[[], ssl.SSLContext]) -> Callable[[], ssl.SSLContext]:
        def build() -> ssl.SSLContext:
            context = factory()
            context.load_verify_locations(cafile)
            context.verify_flags = ssl.VerifyFlags(flags)
            return context
        return build

    plain = outcome(client(lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)), server_ctx, hostname=hostname)
    native = outcome(client(lambda: tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")), server_ctx,
                     hostname=hostname)
    return plain, native


def stdlib_server(certfile: str | Path, keyfile: str | Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    return context


def _pem_file(tmp_path: Path, name: str, *items: Any) -> Path:
    path = tmp_path / name
    blobs = []
    for item in items:
        if isinstance(item, x509.Certificate | x509.CertificateRevocationList):
            blobs.append(item.public_bytes(serialization.Encoding.PEM))
        else:
            blobs.append(item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    path.write_bytes(b"".join(blobs))
    return path


def served(tmp_path: Path, chain: list[Pair]) -> ssl.SSLContext:
    """A plain ``ssl`` server presenting ``chain`` (leaf first)."""
    certfile = _pem_file(tmp_path, "chain.pem", *(certificate for certificate, _ in chain))
    return stdlib_server(certfile, _pem_file(tmp_path, "leaf.key", chain[0][1]))


# -- the CA profile: what OpenSSL accepts -------------------------------------------------------------------


def test_cpython_test_ca() -> None:
    """CPython's test CA (basicConstraints not critical, no keyUsage) signs keycert3.pem."""
    certdata = _certdata()
    plain, native = both(stdlib_server(certdata / "keycert3.pem"), certdata / "pycacert.pem")
    assert plain == native == "ok"


def _openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl binary")


@needs_openssl
def test_openssl_one_liner_ca(tmp_path: Path) -> None:
    """A CA from the stock ``openssl req -x509`` one-liner and a leaf it signs with ``openssl x509 -req``."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=One-liner CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=tmp_path)
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", "/CN=localhost", "-keyout", "leaf.key", "-out", "leaf.csr", cwd=tmp_path)
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "leaf.pem", cwd=tmp_path)
    server = stdlib_server(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    plain, native = both(server, tmp_path / "ca.pem")
    assert plain == native == "ok"


@needs_openssl
def test_trusted_self_signed_development_certificate(tmp_path: Path) -> None:
    """The usual development certificate (CA:TRUE), trusted and served as the leaf; untrusted, it is 18."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost", "-keyout", "dev.key", "-out", "dev.pem", cwd=tmp_path)
    server = stdlib_server(tmp_path / "dev.pem", tmp_path / "dev.key")
    assert both(server, tmp_path / "dev.pem") == ("ok", "ok")
    other = make("Other CA", ca=True)
    plain, native = both(server, _pem_file(tmp_path, "other.pem", other[0]))
    assert plain == native == (18, "self-signed certificate")


def test_native_server_with_trusted_self_signed_leaf(tmp_path: Path) -> None:
    """A native server can serve a CA:TRUE development certificate to a client that trusts it."""
    dev = make("localhost", ca=True, ca_sans=True, key_usage=False)
    server = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend="native")
    server.load_cert_chain(_pem_file(tmp_path, "dev.pem", dev[0]), _pem_file(tmp_path, "dev.key", dev[1]))
    assert both(server, _pem_file(tmp_path, "anchor.pem", dev[0])) == ("ok", "ok")


# -- verify flags ------------------------------------------------------------------------------------------


def test_strict_refuses_leaf_without_authority_key_identifier(tmp_path: Path) -> None:
    ca = make("CA", ca=True)
    server = served(tmp_path, [make("leaf", ca, key_ids=False)])
    cafile = _pem_file(tmp_path, "ca.pem", ca[0])
    assert both(server, cafile) == ("ok", "ok")
    plain, native = both(server, cafile, flags=STRICT)
    assert plain == native == (85, "Missing Authority Key Identifier")


def test_strict_refuses_loose_ca(tmp_path: Path) -> None:
    loose = make("Loose CA", ca=True, bc_critical=False, key_usage=False)
    server = served(tmp_path, [make("leaf", loose)])
    cafile = _pem_file(tmp_path, "ca.pem", loose[0])
    assert both(server, cafile) == ("ok", "ok")
    plain, native = both(server, cafile, flags=STRICT)
    assert plain == native == (89, "Basic Constraints of CA cert not marked critical")


def test_partial_chain_makes_an_intermediate_an_anchor(tmp_path: Path) -> None:
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    server = served(tmp_path, [make("leaf", inter), inter])
    cafile = _pem_file(tmp_path, "inter.pem", inter[0])
    plain, native = both(server, cafile)
    assert plain == native == (2, "unable to get issuer certificate")
    assert both(server, cafile, flags=PARTIAL) == ("ok", "ok")


def test_partial_chain_makes_the_leaf_an_anchor(tmp_path: Path) -> None:
    root = make("Root", ca=True)
    leaf = make("leaf", root)
    server = served(tmp_path, [leaf])
    cafile = _pem_file(tmp_path, "leaf.pem", leaf[0])
    plain, native = both(server, cafile)
    assert plain == native == (20, "unable to get local issuer certificate")
    assert both(server, cafile, flags=PARTIAL) == ("ok", "ok")


def test_crl_check_leaf(tmp_path: Path) -> None:
    """CRLs in the cafile (``load_verify_locations``): a revoked leaf is 23, a missing CRL 3."""
    root = make("Root", ca=True)
    revoked = make("leaf", root, serial=777)
    server = served(tmp_path, [revoked])
    with_crl = _pem_file(tmp_path, "with-crl.pem", root[0], make_crl(root, (777,)))
    assert both(server, with_crl) == ("ok", "ok")
    plain, native = both(server, with_crl, flags=LEAF_CRL)
    assert plain == native == (23, "certificate revoked")
    plain, native = both(server, _pem_file(tmp_path, "no-crl.pem", root[0]), flags=LEAF_CRL)
    assert plain == native == (3, "unable to get certificate CRL")
    good_server = served(tmp_path, [make("leaf", root, serial=778)])
    assert both(good_server, with_crl, flags=LEAF_CRL) == ("ok", "ok")


def test_crl_check_chain_needs_every_crl(tmp_path: Path) -> None:
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    server = served(tmp_path, [make("leaf", inter), inter])
    leaf_only = _pem_file(tmp_path, "leaf-crl.pem", root[0], make_crl(inter))
    assert both(server, leaf_only, flags=LEAF_CRL) == ("ok", "ok")
    plain, native = both(server, leaf_only, flags=CHAIN_CRL)
    assert plain == native == (3, "unable to get certificate CRL")
    revoking = _pem_file(tmp_path, "all-crls.pem", root[0], make_crl(inter),
                         make_crl(root, (inter[0].serial_number,)))
    plain, native = both(server, revoking, flags=CHAIN_CRL)
    assert plain == native == (23, "certificate revoked")


def test_crls_load_alone_and_count(tmp_path: Path) -> None:
    """A file of CRLs only loads (as in ``ssl``) and ``cert_store_stats`` counts them."""
    root = make("Root", ca=True)
    crl_file = _pem_file(tmp_path, "crl.pem", make_crl(root), make_crl(root, (5,)))
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    native = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")
    for context in (plain, native):
        context.load_verify_locations(crl_file)
        context.load_verify_locations(_pem_file(tmp_path, "root.pem", root[0]))
    assert native.cert_store_stats() == plain.cert_store_stats() == {"x509": 1, "crl": 2, "x509_ca": 1}


def test_native_server_checks_client_crl(tmp_path: Path) -> None:
    """A server verifying clients honours VERIFY_CRL_CHECK_LEAF as the stdlib does."""
    root = make("Root", ca=True)
    client_pair = make("client", root, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), serial=999)
    server_pair = make("localhost", root)
    anchors = _pem_file(tmp_path, "anchors.pem", root[0], make_crl(root, (999,)))
    codes = []
    for server in (ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),
                   tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend="native")):
        server.load_cert_chain(_pem_file(tmp_path, "s.pem", server_pair[0]), _pem_file(tmp_path, "s.key",
                                                                                          server_pair[1]))
        server.verify_mode = ssl.CERT_REQUIRED
        server.load_verify_locations(anchors)
        server.verify_flags = ssl.VerifyFlags(LEAF_CRL)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(anchors)
        client.load_cert_chain(_pem_file(tmp_path, "c.pem", client_pair[0]), _pem_file(tmp_path, "c.key",
                                                                                          client_pair[1]))
        threaded = ThreadedServer(_echo, server)
        with socket.create_connection(("127.0.0.1", threaded.port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as tls:
            try:  # TLS 1.3: the client learns of the refusal (alert or EOF) only when it reads
                tls.sendall(b"ping")
                tls.recv(100)
            except (ssl.SSLError, OSError):
                pass
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            threaded.result()
        codes.append((info.value.verify_code, info.value.verify_message))
    assert codes[0] == codes[1] == (23, "certificate revoked")


def test_unsupported_verify_flags_are_refused() -> None:
    native = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        native.verify_flags = ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_ALLOW_PROXY_CERTS
    assert native.verify_flags == ssl.VERIFY_X509_TRUSTED_FIRST
    native.verify_flags = ssl.VERIFY_CRL_CHECK_CHAIN | ssl.VERIFY_X509_STRICT
    assert native.verify_flags == ssl.VERIFY_CRL_CHECK_CHAIN | ssl.VERIFY_X509_STRICT

