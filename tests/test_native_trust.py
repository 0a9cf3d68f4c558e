"""The native engine's certificate policy over real loopback sockets, compared with plain ``ssl``.

Each scenario runs twice against the same server: once with a plain ``ssl.SSLContext`` client and once with
a native client configured the same way; both must connect, or both must fail with the same
``verify_code``/``verify_message``. Certificates come from CPython's own test CA, the ``openssl req -x509``
one-liner, and ``cryptography`` (``test_native_chain_verification.make``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from test_native_chain_verification import CHAIN_CRL, LEAF_CRL, STRICT, Pair, make, make_crl

import tlsapi
from tlsapi_conformance.harness import ThreadedServer
from tlsapi_native._context import NativeContext

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


@pytest.mark.parametrize(("trusted", "code", "message"), [
    ("intermediate", 2, "unable to get issuer certificate"),
    ("leaf", 20, "unable to get local issuer certificate"),
])
def test_partial_chain_makes_a_stored_certificate_an_anchor(tmp_path: Path, trusted: str, code: int,
                                                            message: str) -> None:
    """VERIFY_X509_PARTIAL_CHAIN: an intermediate, or the leaf itself, in the trust store is an anchor."""
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    leaf = make("leaf", inter)
    server = served(tmp_path, [leaf, inter])
    cafile = _pem_file(tmp_path, "anchor.pem", inter[0] if trusted == "intermediate" else leaf[0])
    plain, native = both(server, cafile)
    assert plain == native == (code, message)
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


@needs_openssl
def test_crl_check_with_capath(tmp_path: Path) -> None:
    """A hashed ``capath`` (``<hash>.0`` certificates, ``<hash>.r0`` CRLs): the revoked leaf is 23."""
    assert OPENSSL is not None
    root = make("Root", ca=True)
    server = served(tmp_path, [make("leaf", root, serial=555)])
    directory = tmp_path / "capath"
    directory.mkdir()
    root_file = _pem_file(tmp_path, "root.pem", root[0])
    digest = subprocess.run([OPENSSL, "x509", "-hash", "-noout", "-in", str(root_file)], capture_output=True,
                            check=True, text=True).stdout.strip()
    _pem_file(directory, f"{digest}.0", root[0])
    _pem_file(directory, f"{digest}.r0", make_crl(root, (555,)))
    outcomes = []
    for factory in (lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
                    lambda: tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")):
        def build(factory: Callable[[], ssl.SSLContext] = factory) -> ssl.SSLContext:
            context = factory()
            context.load_verify_locations(capath=directory)
            context.verify_flags = ssl.VerifyFlags(LEAF_CRL)
            return context
        outcomes.append(outcome(build, server))
    assert outcomes[0] == outcomes[1] == (23, "certificate revoked")


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



# -- the server's certificates: chain completion, one chain per key type, what the client can verify -------


def s_client(server_ctx: Any, *args: str) -> str:
    """Run ``openssl s_client -showcerts`` with ``args`` against a loopback server; its output (and stderr)."""
    assert OPENSSL is not None
    server = ThreadedServer(_echo, server_ctx)
    result = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}", "-servername", "localhost",
                             "-showcerts", *args], input=b"ping\n", capture_output=True, timeout=30, check=False)
    with contextlib.suppress(ssl.SSLError, OSError):
        server.result()
    return result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")


def _presented(output: str) -> list[str]:
    """The subjects of the certificates the server presented, in order, from s_client's chain listing."""
    return [line.split("s:", 1)[1] for line in output.splitlines() if line.strip()[:1].isdigit() and " s:" in line]


def _servers(*configure: Callable[[Any], None]) -> list[Any]:
    """A plain ``ssl`` server context and a native one, each configured by every function in ``configure``."""
    contexts: list[Any] = [ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER),
                           tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend="native")]
    for context in contexts:
        for step in configure:
            step(context)
    return contexts


@needs_openssl
def test_server_completes_a_lone_leaf_from_the_trust_store(tmp_path: Path) -> None:
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    leaf = make("localhost", inter)
    leaf_file, key_file = _pem_file(tmp_path, "leaf.pem", leaf[0]), _pem_file(tmp_path, "leaf.key", leaf[1])
    cas = _pem_file(tmp_path, "cas.pem", root[0], inter[0])
    plain, native = _servers(lambda c: c.load_cert_chain(leaf_file, key_file), lambda c: c.load_verify_locations(cas))
    assert _presented(s_client(native)) == _presented(s_client(plain)) == ["CN = localhost", "CN = Inter", "CN = Root"]
    root_file = _pem_file(tmp_path, "root.pem", root[0])
    assert both(native, root_file) == ("ok", "ok")
    # A certfile with its intermediates is sent as it is.
    with_inter = _pem_file(tmp_path, "with-inter.pem", leaf[0], inter[0])
    plain, native = _servers(lambda c: c.load_cert_chain(with_inter, key_file), lambda c: c.load_verify_locations(cas))
    assert _presented(s_client(native)) == _presented(s_client(plain)) == ["CN = localhost", "CN = Inter"]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_client_completes_a_lone_leaf_from_the_trust_store(tmp_path: Path, version: ssl.TLSVersion) -> None:
    """A client certificate file with only the leaf is completed the same way: a server trusting only the
    root verifies it, as with a plain ``ssl`` client."""
    root = make("Root", ca=True)
    inter = make("Inter", root, ca=True)
    client_leaf = make("client", inter, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,))
    server_leaf = make("localhost", root)
    root_file = _pem_file(tmp_path, "root.pem", root[0])
    server_ctx = stdlib_server(_pem_file(tmp_path, "s.pem", server_leaf[0]),
                               _pem_file(tmp_path, "s.key", server_leaf[1]))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(root_file)
    server_ctx.maximum_version = version
    outcomes = []
    for client in (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")):
        client.load_verify_locations(_pem_file(tmp_path, "cas.pem", root[0], inter[0]))
        client.load_cert_chain(_pem_file(tmp_path, "c.pem", client_leaf[0]), _pem_file(tmp_path, "c.key",
                                                                                          client_leaf[1]))
        server = ThreadedServer(lambda tls: tls.getpeercert()["subject"], server_ctx)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ping")
        outcomes.append(server.result())
    assert outcomes[0] == outcomes[1] == (((("commonName", "client"),),))


def _dual(tmp_path: Path) -> tuple[Callable[[Any], None], Path]:
    """Load an RSA chain then an ECDSA P-256 one (CNs "rsa" and "ecdsa"); and the root's file."""
    root = make("Root", ca=True)
    rsa_leaf = make("rsa", root, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ecdsa_leaf = make("ecdsa", root)
    files = [(_pem_file(tmp_path, f"{name}.pem", pair[0]), _pem_file(tmp_path, f"{name}.key", pair[1]))
             for name, pair in (("rsa", rsa_leaf), ("ecdsa", ecdsa_leaf))]

    def load(context: Any) -> None:
        for certfile, keyfile in files:
            context.load_cert_chain(certfile, keyfile)

    return load, _pem_file(tmp_path, "root.pem", root[0])


@needs_openssl
@pytest.mark.parametrize(("args", "expected"), [
    (("-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"), "CN = rsa"),
    (("-tls1_3", "-sigalgs", "ecdsa_secp256r1_sha256"), "CN = ecdsa"),
    (("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"), "CN = rsa"),
    (("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"), "CN = ecdsa"),
    (("-tls1_2", "-curves", "P-384:X25519"), "CN = rsa"),
], ids=["tls13-rsa", "tls13-ecdsa", "tls12-rsa", "tls12-ecdsa", "tls12-no-p256"])
def test_dual_certificates_pick_per_client(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    """RSA + ECDSA loaded one after the other: both kept, and each client gets one it asked for."""
    load, _ = _dual(tmp_path)
    plain, native = _servers(load)
    assert _presented(s_client(native, *args))[:1] == _presented(s_client(plain, *args))[:1] == [expected]


@contextmanager
def openssl_s_server(*args: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``openssl s_server -rev`` (echoes each line reversed) with ``args`` for one connection; yields the
    process (its output after the ACCEPT line is the caller's to read) and its port, and stops it."""
    assert OPENSSL is not None
    command = [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-rev", *args]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        line = b""
        while b"ACCEPT" not in line:
            line = process.stdout.readline()
            assert line, "openssl s_server did not start"
        yield process, int(line.rsplit(b":", 1)[1])
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _client_certificate_seen(tmp_path: Path, client: Any, *args: str) -> str | None:
    """The subject line of the client certificate ``openssl s_server -Verify 1 args`` received from ``client``
    (``None``: the client sent none and the server refused it)."""
    server_leaf = make("localhost", make("Server Root", ca=True))
    with openssl_s_server("-Verify", "1", "-cert", str(_pem_file(tmp_path, "server.pem", server_leaf[0])),
                          "-key", str(_pem_file(tmp_path, "server.key", server_leaf[1])), *args) as (process, port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                    client.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"ping\n")
                assert tls.recv(100) == b"gnip\n"
        except ssl.SSLError:
            return None
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    return next(line for line in output.splitlines() if line.startswith("depth=0"))


@needs_openssl
@pytest.mark.parametrize(("args", "expected"), [
    (("-tls1_3", "-client_sigalgs", "rsa_pss_rsae_sha256"), "CN = rsa"),
    (("-tls1_3", "-client_sigalgs", "ecdsa_secp256r1_sha256"), "CN = ecdsa"),
    (("-tls1_2", "-client_sigalgs", "rsa_pss_rsae_sha256"), None),  # TLS 1.2: only the last chain loaded
    (("-tls1_2", "-client_sigalgs", "ecdsa_secp256r1_sha256"), "CN = ecdsa"),
], ids=["tls13-rsa", "tls13-ecdsa", "tls12-rsa", "tls12-ecdsa"])
def test_dual_client_certificates_answer_the_request(tmp_path: Path, args: tuple[str, ...],
                                                     expected: str | None) -> None:
    """A client with RSA + ECDSA certificates presents the one the server's CertificateRequest allows (in
    TLS 1.2, as OpenSSL, only the last one loaded: none when the server allows only the other)."""
    load, _ = _dual(tmp_path)
    seen = []
    for client in (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend="native")):
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        load(client)
        seen.append(_client_certificate_seen(tmp_path, client, *args))
    assert seen[0] == seen[1], seen
    assert seen[1] is None if expected is None else seen[1] is not None and seen[1].endswith(expected)


@needs_openssl
def test_tls12_refuses_a_certificate_the_client_cannot_verify(tmp_path: Path) -> None:
    """An ECDSA P-256 server and a TLS 1.2 client without P-256: handshake_failure, not "wrong curve"."""
    leaf = make("localhost", make("Root", ca=True))
    files = _pem_file(tmp_path, "leaf.pem", leaf[0]), _pem_file(tmp_path, "leaf.key", leaf[1])
    plain, native = _servers(lambda c: c.load_cert_chain(*files))
    for server in (plain, native):
        output = s_client(server, "-tls1_2", "-curves", "P-384:X25519")
        assert "alert handshake failure" in output and "wrong curve" not in output, output
    for server in (plain, native):  # the same client is served by the RSA chain of a dual server
        load, _ = _dual(tmp_path)
        load(server)
        assert _presented(s_client(server, "-tls1_2", "-curves", "P-384:X25519"))[:1] == ["CN = rsa"]


def test_second_chain_of_the_same_type_replaces_the_first(tmp_path: Path) -> None:
    root = make("Root", ca=True)
    first, second = make("first", root), make("second", root)
    native = NativeContext(ssl.PROTOCOL_TLS_SERVER)
    for name, pair in (("first", first), ("second", second)):
        native.load_cert_chain(_pem_file(tmp_path, f"{name}.pem", pair[0]), _pem_file(tmp_path, f"{name}.key", pair[1]))
    assert [chain.leaf for chain in native.settings().cert_chains] == [second[0]]


# -- TLS 1.2 clients without the extended master secret ----------------------------------------------------

_NO_EMS_CONFIG = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = -ExtendedMasterSecret
"""


def _bindings(tls: Any) -> tuple[bytes | None, bool]:
    """Echo one line; the connection's tls-unique, and whether an exporter answered."""
    line = b""
    while not line.endswith(b"\n"):
        line += tls.recv(100)
    binding = tls.get_channel_binding("tls-unique")
    try:
        tls._sslobj.export_keying_material(b"EXPERIMENTAL-test", None, 16)
        exported = True
    except ValueError:
        exported = False
    tls.sendall(line)
    return binding, exported


@needs_openssl
@pytest.mark.parametrize("ems", [True, False], ids=["ems", "no-ems"])
def test_tls12_client_without_ems(tmp_path: Path, ems: bool) -> None:
    """A TLS 1.2 client without RFC 7627 (GnuTLS 3.7's wget) is served, but its session is not resumed and
    has no tls-unique and no exporter; with the extension, all three work."""
    assert OPENSSL is not None
    leaf = make("localhost", make("Root", ca=True))
    server_ctx = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend="native")
    server_ctx.load_cert_chain(_pem_file(tmp_path, "leaf.pem", leaf[0]), _pem_file(tmp_path, "leaf.key", leaf[1]))
    config = tmp_path / "openssl.cnf"
    config.write_text(_NO_EMS_CONFIG if not ems else "")
    session = tmp_path / "session.pem"
    outputs, results = [], []

    def connect(*session_args: str) -> None:
        assert OPENSSL is not None
        server = ThreadedServer(_bindings, server_ctx)
        completed = subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_2", "-ign_eof", *session_args],
            input=b"ping\n", capture_output=True, timeout=30, check=False, env={"OPENSSL_CONF": str(config)})
        results.append(server.result())
        outputs.append(completed.stdout.decode(errors="replace"))

    connect("-sess_out", str(session))
    assert f"Extended master secret: {'yes' if ems else 'no'}" in outputs[0]
    assert ("TLS session ticket:" in outputs[0]) == ems  # no ticket for a session bound to nothing
    assert session.exists() == ems  # s_client keeps no session that cannot be resumed
    if ems:
        connect("-sess_in", str(session))
        assert "Reused, TLSv1.2" in outputs[1]
    assert all("ping" in output for output in outputs)
    binding, exported = results[0]
    assert (binding is not None, exported) == (ems, ems)


# -- the server's session ------------------------------------------------------------------------------


def _session_facts(tls: Any) -> tuple[Any, ...]:
    """Echo one message; what the server's ``session`` shows (and the error of assigning it)."""
    tls.sendall(tls.recv(100))
    session = tls.session
    try:
        tls.session = session
        refused = ""
    except ValueError as error:
        refused = str(error)
    return (type(session.id), len(session.id), session.has_ticket, session.ticket_lifetime_hint, session.timeout,
            isinstance(session.time, int), session == tls.session, refused)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_server_session(tmp_path: Path, version: ssl.TLSVersion) -> None:
    """A server's ``session`` after the handshake is a session object, as in ``ssl`` (not ``None``)."""
    root = make("Root", ca=True)
    leaf = make("localhost", root)
    files = _pem_file(tmp_path, "leaf.pem", leaf[0]), _pem_file(tmp_path, "leaf.key", leaf[1])
    facts = []
    for server_ctx in _servers(lambda c: c.load_cert_chain(*files)):
        server_ctx.maximum_version = version
        assert server_ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True).session is None
        server = ThreadedServer(_session_facts, server_ctx)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(_pem_file(tmp_path, "root.pem", root[0]))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                client.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ping")
            assert tls.recv(100) == b"ping"
        facts.append(server.result())
    assert facts[0] == facts[1]
    assert facts[1][1] == (32 if version == ssl.TLSVersion.TLSv1_3 else 0)
