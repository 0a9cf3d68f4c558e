"""Fidelity to ``ssl`` on every backend (issue 13): each behaviour is run through plain ``ssl`` on the same
interpreter and through each backend, over loopback sockets, and the two must agree."""

from __future__ import annotations

import ast
import contextlib
import datetime
import functools
import http.client
import http.server
import inspect
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import available_backends, backends_declaring
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from observing_server import ClientNameHandler

import tlsapi
from tlsapi.spi import OP_LEGACY_SERVER_CONNECT
from tlsapi_conformance.harness import TIMEOUT, BIOPair, ThreadedServer, client_context, server_context
from tlsapi_conformance.pki import PKI

# -- helpers ------------------------------------------------------------------------------------------------

#: The backends whose engine is OpenSSL: where ``ssl``'s verification behaviour must be matched exactly (the
#: native engine's verification is tested with its trust code).
OPENSSL_BACKENDS = ["stdlib", "pyopenssl"]


def _error_values(exc: BaseException) -> tuple[Any, ...]:
    """What code can branch on: the ssl class, errno, library, reason, and the text without its origin."""
    public_class = next(c for c in type(exc).__mro__ if c.__module__ in ("ssl", "builtins"))
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return (public_class, getattr(exc, "errno", None), getattr(exc, "library", None), getattr(exc, "reason", None),
            text.rsplit(" (", 1)[0])


def _raised(action: Callable[[], Any]) -> BaseException:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("no error was raised")


def _recording_server() -> tuple[socket.socket, list[bytes], threading.Thread]:
    """A TCP listener on 127.0.0.1 that records every byte of its one connection until EOF."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)
    received: list[bytes] = []

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            while data := conn.recv(65536):
                received.append(data)
        listener.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, received, thread


def _client_attempt(context: ssl.SSLContext) -> tuple[BaseException, bytes]:
    """Connect ``context`` to a recording server: the error raised and every byte the server received."""
    listener, received, thread = _recording_server()
    with socket.create_connection(listener.getsockname()[:2], timeout=TIMEOUT) as raw:
        exc = _raised(lambda: context.wrap_socket(raw, server_hostname="localhost"))
    thread.join(TIMEOUT)
    return exc, b"".join(received)


def _server_attempt(context: ssl.SSLContext, client: ssl.SSLContext) -> tuple[BaseException | None, BaseException]:
    """Connect a plain ``ssl`` ``client`` to ``context`` serving: (the server's error, the client's error)."""
    server = ThreadedServer(lambda tls: None, context)
    with server, socket.create_connection(server.address, timeout=TIMEOUT) as raw:
        client_error = _raised(lambda: client.wrap_socket(raw, server_hostname="localhost"))
        return server.error(), client_error


def _plain_ssl_client(pki: PKI) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_file))


# -- version bounds -----------------------------------------------------------------------------------------

def _min_above_max(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_2


def _no_tls12_no_tls13(context: ssl.SSLContext) -> None:
    context.options |= ssl.OP_NO_TLSv1_2 | ssl.OP_NO_TLSv1_3


_NO_VERSIONS: dict[str, Callable[[ssl.SSLContext], None]] = {
    "min-above-max": _min_above_max, "no-tls12-no-tls13": _no_tls12_no_tls13,
}


def _without_versions(context: ssl.SSLContext, how: str) -> ssl.SSLContext:
    with warnings.catch_warnings():  # the OP_NO_TLS* options are deprecated in ssl
        warnings.simplefilter("ignore", DeprecationWarning)
        _NO_VERSIONS[how](context)
    return context


@pytest.mark.parametrize("how", list(_NO_VERSIONS))
def test_client_without_versions_refuses_before_sending_hello(backend: tlsapi.Backend, pki: PKI, how: str) -> None:
    reference, reference_wire = _client_attempt(_without_versions(_plain_ssl_client(pki), how))
    context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
    exc, wire = _client_attempt(_without_versions(context, how))
    assert isinstance(exc, tlsapi.SSLError)
    assert _error_values(exc) == _error_values(reference)
    assert exc.reason == "NO_PROTOCOLS_AVAILABLE"
    assert type(exc.errno) is int and exc.args[0] == reference.args[0]  # as ssl: repr(exc.args) reads the same
    assert not wire.startswith(b"\x16") and not reference_wire.startswith(b"\x16")  # no ClientHello


@pytest.mark.parametrize("server_side", [False, True], ids=["client", "server"])
@pytest.mark.parametrize("how", list(_NO_VERSIONS))
def test_without_versions_only_the_alert_goes_out(backend: tlsapi.Backend, how: str, server_side: bool) -> None:
    """What the connection writes is OpenSSL's: a protocol_version alert and nothing else."""

    def attempt(context: ssl.SSLContext) -> tuple[tuple[Any, ...], bytes]:
        outgoing = ssl.MemoryBIO()
        connection = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_side=server_side)
        return _error_values(_raised(connection.do_handshake)), outgoing.read()

    protocol = ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT
    reference = ssl.SSLContext(protocol)
    context = tlsapi.Context(protocol, backend=backend)
    for ctx in (reference, context):
        if not server_side:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    assert attempt(_without_versions(context, how)) == attempt(_without_versions(reference, how))


@pytest.mark.parametrize("how", list(_NO_VERSIONS))
def test_server_without_versions_refuses(backend: tlsapi.Backend, pki: PKI, how: str) -> None:
    def serving(make: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        context = _without_versions(make(), how)
        context.load_cert_chain(pki.leaf().certfile)
        return context

    reference_server, reference_client = _server_attempt(
        serving(lambda: ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)), _plain_ssl_client(pki))
    server_error, client_error = _server_attempt(
        serving(lambda: tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend)), _plain_ssl_client(pki))
    assert reference_server is not None and server_error is not None
    assert isinstance(server_error, tlsapi.SSLError)
    assert _error_values(server_error) == _error_values(reference_server)
    # The client never completes a handshake (what it reads, alert or reset, is the socket layer's).
    assert isinstance(client_error, OSError) and isinstance(reference_client, OSError)


# -- hostname checks ----------------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class MiniPKI:
    """A root CA, an intermediate, and leaves made to order (names, AKI, issuer), with CRLs: what the hostname
    and verify-flag cases need. Each leaf is written with its chain and key to one ``load_cert_chain`` file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._now = datetime.datetime.now(datetime.UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._ca("tlsapi fidelity root", self.root_key, (None, self.root_key))
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._ca("tlsapi fidelity intermediate", self.intermediate_key,
                                     (self.root, self.root_key))
        self.ca_file = self.write("root.pem", self.root)

    def write(self, filename: str, *items: x509.Certificate | x509.CertificateRevocationList
              | ec.EllipticCurvePrivateKey) -> Path:
        pem = serialization.Encoding.PEM
        path = self.directory / filename
        path.write_bytes(b"".join(
            item.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            if isinstance(item, ec.EllipticCurvePrivateKey) else item.public_bytes(pem)
            for item in items
        ))
        return path

    def _builder(self, subject: str, public: Any, issuer: x509.Certificate | None) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder().subject_name(_name(subject))
            .issuer_name(_name(subject) if issuer is None else issuer.subject)
            .public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(days=1))
            .not_valid_after(self._now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    def _ca(self, subject: str, key: ec.EllipticCurvePrivateKey,
            issuer: tuple[x509.Certificate | None, ec.EllipticCurvePrivateKey]) -> x509.Certificate:
        builder = self._builder(subject, key.public_key(), issuer[0]).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        ).add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True
        )
        if issuer[0] is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False)
        return builder.sign(issuer[1], hashes.SHA256())

    def leaf(self, label: str, common_name: str = "localhost", dns_names: tuple[str, ...] = ("localhost",),
             *, authority_key_id: bool = True, from_intermediate: bool = False) -> tuple[x509.Certificate, Path]:
        """A server leaf issued by the root (or the intermediate, sent along), and its ``load_cert_chain`` file."""
        key = ec.generate_private_key(ec.SECP256R1())
        issuer, issuer_key = ((self.intermediate, self.intermediate_key) if from_intermediate
                              else (self.root, self.root_key))
        builder = self._builder(common_name, key.public_key(), issuer).add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        if authority_key_id:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        if dns_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]), critical=False)
        certificate = builder.sign(issuer_key, hashes.SHA256())
        chain = (self.intermediate,) if from_intermediate else ()
        return certificate, self.write(f"{label}.pem", certificate, *chain, key)

    def crl(self, *revoked: x509.Certificate, by_intermediate: bool = False) -> x509.CertificateRevocationList:
        """A CRL of the root (or of the intermediate) revoking ``revoked``."""
        issuer, issuer_key = ((self.intermediate, self.intermediate_key) if by_intermediate
                              else (self.root, self.root_key))
        builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject)
                   .last_update(self._now - datetime.timedelta(hours=1))
                   .next_update(self._now + datetime.timedelta(days=7)))
        for certificate in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(certificate.serial_number)
                .revocation_date(self._now - datetime.timedelta(hours=1)).build())
        return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def mini_pki(tmp_path_factory: pytest.TempPathFactory) -> MiniPKI:
    return MiniPKI(tmp_path_factory.mktemp("fidelity-pki"))


#: (leaf label, subject CN, subjectAltName DNS names, the hostname the client asks for)
_NAME_CASES = {
    "cn-only": ("cn-only", "cn.example.test", (), "cn.example.test"),
    "partial-wildcard": ("partial-wildcard", "partial wildcard", ("www*.example.test",), "www-attacker.example.test"),
}


def _connect_outcome(client: ssl.SSLContext, certfile: Path, hostname: str) -> tuple[Any, ...] | None:
    """Handshake ``client`` with a plain ``ssl`` server serving ``certfile``: ``None`` or the error's values
    (with the verify code)."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certfile)
    server = ThreadedServer(lambda tls: None, server_context)
    with server, socket.create_connection(server.address, timeout=TIMEOUT) as raw:
        try:
            client.wrap_socket(raw, server_hostname=hostname).close()
        except ssl.SSLError as exc:
            return (*_error_values(exc), getattr(exc, "verify_code", None))
    return None


@pytest.mark.parametrize("checks_cn", [None, False, True], ids=["default", "false", "true"])
@pytest.mark.parametrize("case", list(_NAME_CASES))
def test_hostname_checks_common_name(backend: tlsapi.Backend, mini_pki: MiniPKI, case: str,
                                     checks_cn: bool | None) -> None:
    """The attribute reads back what is enforced, and what is enforced is what ``ssl`` does with the same value.

    Backends that cannot match the subject CN read ``False`` by default and refuse ``True`` loudly."""
    label, common_name, dns_names, hostname = _NAME_CASES[case]
    _, certfile = mini_pki.leaf(label, common_name, dns_names)
    context = tlsapi.create_default_context(cafile=str(mini_pki.ca_file), backend=backend)
    if checks_cn is not None:
        try:
            context.hostname_checks_common_name = checks_cn
        except tlsapi.UnsupportedFeatureError:
            assert checks_cn and not context.hostname_checks_common_name
            assert backend.name not in ("stdlib", "pyopenssl"), "OpenSSL matches the CN: no reason to refuse"
            return
    enforced = context.hostname_checks_common_name
    assert isinstance(enforced, bool)
    reference = ssl.create_default_context(cafile=str(mini_pki.ca_file))
    reference.hostname_checks_common_name = enforced
    expected = _connect_outcome(reference, certfile, hostname)
    assert _connect_outcome(context, certfile, hostname) == expected
    if case == "partial-wildcard" or not enforced:
        assert expected is not None and expected[-1] == 62  # ssl refuses: hostname mismatch
    else:
        assert expected is None  # ssl accepts a CN-only leaf when checking the CN


def _spelling_outcomes(backend: tlsapi.Backend | str, pki: MiniPKI, hostname: str) -> tuple[Any, Any]:
    _, certfile = pki.leaf("spelling")
    expected = _connect_outcome(ssl.create_default_context(cafile=str(pki.ca_file)), certfile, hostname)
    context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
    return _connect_outcome(context, certfile, hostname), expected


def test_hostname_case_as_ssl(backend: tlsapi.Backend, mini_pki: MiniPKI) -> None:
    """A hostname in another case matches, as with ``ssl``."""
    outcome, expected = _spelling_outcomes(backend, mini_pki, "LocalHost")
    assert outcome == expected is None


@pytest.mark.parametrize("backend_name", OPENSSL_BACKENDS)
def test_trailing_dot_hostname_as_ssl(backend_name: str, mini_pki: MiniPKI) -> None:
    """``localhost.`` against a ``localhost`` leaf: the stdlib's OpenSSL refuses it as a mismatch (62); the
    pyopenssl backend's newer OpenSSL refuses the name itself, and service_identity gives the same verdict."""
    outcome, expected = _spelling_outcomes(backend_name, mini_pki, "localhost.")
    assert outcome == expected and expected is not None and expected[-1] == 62


@pytest.mark.parametrize("backend_name", OPENSSL_BACKENDS)
def test_openssl_hostname_checks_common_name_default_as_ssl(backend_name: str) -> None:
    """Where OpenSSL checks the host name (stdlib, pyopenssl), the default is ``ssl``'s, on both sides."""
    for purpose in (ssl.Purpose.SERVER_AUTH, ssl.Purpose.CLIENT_AUTH):
        context = tlsapi.create_default_context(purpose, backend=backend_name)
        reference = ssl.create_default_context(purpose)
        assert context.hostname_checks_common_name is reference.hostname_checks_common_name


def test_stdlib_hostname_checks_common_name_matches_ssl() -> None:
    """The stdlib backend is ``ssl``: the same default and the same host flags for each value."""
    context = tlsapi.create_default_context(backend="stdlib")
    reference = ssl.create_default_context()
    assert context.hostname_checks_common_name == reference.hostname_checks_common_name
    for value in (False, True):
        context.hostname_checks_common_name = reference.hostname_checks_common_name = value
        assert context.hostname_checks_common_name is value
        assert context._host_flags == reference._host_flags  # type: ignore[attr-defined]


# -- server verify_mode -------------------------------------------------------------------------------------


def _without_client_auth(backend: tlsapi.Backend) -> tlsapi.Backend:
    """``backend``'s engine declaring everything it declares except client certificates."""
    declared = [c for c in backend.capabilities() if c is not tlsapi.Capability.CLIENT_AUTH]
    cls = backend.context_class()
    return tlsapi.Backend(f"{backend.name}-without-client-auth", version="0", description="no CLIENT_AUTH",
                          context_class=f"{cls.__module__}:{cls.__qualname__}", capabilities=declared)


@pytest.mark.parametrize("mode", [ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED], ids=["optional", "required"])
def test_server_verify_mode_needs_client_auth(backend: tlsapi.Backend, mode: ssl.VerifyMode) -> None:
    """A server that cannot ask for a client certificate refuses the setting, never runs without asking."""
    server = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=_without_client_auth(backend))
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="client certificates"):
        server.verify_mode = mode
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="client certificates"):
        server.check_hostname = True  # which implies CERT_REQUIRED, as in ssl
    assert server.verify_mode == ssl.CERT_NONE and not server.check_hostname
    # A client verifies the server whatever it declares.
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=_without_client_auth(backend))
    client.verify_mode = mode
    assert client.verify_mode == mode
    # With the backend's own declaration: the setting works where it declares client certificates.
    declared = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend)
    if tlsapi.Capability.CLIENT_AUTH in backend.capabilities():
        declared.verify_mode = mode
        assert declared.verify_mode == mode
    else:
        with pytest.raises(tlsapi.UnsupportedFeatureError, match="client certificates"):
            declared.verify_mode = mode


# -- verify flags -------------------------------------------------------------------------------------------

def _flags_scenario(pki: MiniPKI, name: str) -> tuple[Path, Path, int]:
    """(the client's cafile, the server's certfile, the client's verify_flags) of scenario ``name``."""
    default = int(ssl.VERIFY_X509_TRUSTED_FIRST)
    if name == "strict-without-aki":
        _, certfile = pki.leaf("no-aki", authority_key_id=False)
        return pki.ca_file, certfile, default | ssl.VERIFY_X509_STRICT
    if name == "default-without-aki":
        _, certfile = pki.leaf("no-aki", authority_key_id=False)
        return pki.ca_file, certfile, default
    if name in ("partial-chain", "no-partial-chain"):
        _, certfile = pki.leaf("from-intermediate", from_intermediate=True)
        cafile = pki.write("intermediate-only.pem", pki.intermediate)
        return cafile, certfile, default | (ssl.VERIFY_X509_PARTIAL_CHAIN if name == "partial-chain" else 0)
    if name == "trusted-first-cleared":
        _, certfile = pki.leaf("plain")
        return pki.ca_file, certfile, ssl.VERIFY_DEFAULT
    return _crl_scenario(pki, name)


def _crl_scenario(pki: MiniPKI, name: str) -> tuple[Path, Path, int]:
    leaf_check = int(ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_CRL_CHECK_LEAF)
    chain_check = int(ssl.VERIFY_X509_TRUSTED_FIRST | ssl.VERIFY_CRL_CHECK_CHAIN)
    leaf, certfile = pki.leaf(f"crl-{name}")
    if name == "crl-leaf-revoked":
        return pki.write("root-revoking-leaf.pem", pki.root, pki.crl(leaf)), certfile, leaf_check
    if name == "crl-leaf-good":
        return pki.write("root-crl.pem", pki.root, pki.crl()), certfile, leaf_check
    if name == "crl-leaf-missing":
        return pki.ca_file, certfile, leaf_check
    if name == "crl-only-file":  # the CRL in a cafile of its own, the root in another (both loaded)
        return pki.write("crl-only.pem", pki.crl(leaf)), certfile, leaf_check
    assert name == "crl-chain-intermediate-revoked"
    _, certfile = pki.leaf("crl-from-intermediate", from_intermediate=True)
    cafile = pki.write("root-revoking-intermediate.pem", pki.root, pki.crl(pki.intermediate),
                       pki.crl(by_intermediate=True))
    return cafile, certfile, chain_check


_OPENSSL_FLAG_SCENARIOS = ["strict-without-aki", "default-without-aki", "partial-chain", "no-partial-chain",
                           "trusted-first-cleared"]
_CRL_SCENARIOS = ["crl-leaf-revoked", "crl-leaf-good", "crl-leaf-missing", "crl-only-file",
                  "crl-chain-intermediate-revoked"]


def _flags_outcome(context: ssl.SSLContext, pki: MiniPKI, scenario: str) -> tuple[Any, ...] | None:
    cafile, certfile, flags = _flags_scenario(pki, scenario)
    context.load_verify_locations(cafile)
    if scenario == "crl-only-file":
        context.load_verify_locations(pki.ca_file)
    context.verify_flags = flags  # type: ignore[assignment]
    assert context.verify_flags == flags
    return _connect_outcome(context, certfile, "localhost")


def _reference_outcome(pki: MiniPKI, scenario: str) -> tuple[Any, ...] | None:
    return _flags_outcome(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), pki, scenario)


@pytest.mark.parametrize("scenario", _OPENSSL_FLAG_SCENARIOS + _CRL_SCENARIOS)
@pytest.mark.parametrize("backend_name", OPENSSL_BACKENDS)
def test_verify_flags_as_ssl(mini_pki: MiniPKI, backend_name: str, scenario: str) -> None:
    """OpenSSL enforces each flag, CRLs loaded through ``load_verify_locations`` included, as in ``ssl``."""
    expected = _reference_outcome(mini_pki, scenario)
    context = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend_name)
    assert _flags_outcome(context, mini_pki, scenario) == expected


@pytest.mark.parametrize("scenario", _CRL_SCENARIOS)
def test_crl_flags_honoured_or_refused(backend: tlsapi.Backend, mini_pki: MiniPKI, scenario: str) -> None:
    """Every backend enforces CRL checking as ``ssl`` does, or refuses the flag: never accept and ignore."""
    expected = _reference_outcome(mini_pki, scenario)
    context = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    try:
        outcome = _flags_outcome(context, mini_pki, scenario)
    except tlsapi.UnsupportedFeatureError:
        assert backend.name not in OPENSSL_BACKENDS
        assert not context.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN
        return
    assert outcome == expected


def test_reference_outcomes(mini_pki: MiniPKI) -> None:
    """The scenarios test what they claim: ``ssl`` itself accepts or refuses each (verify codes)."""
    codes = {scenario: (outcome[-1] if (outcome := _reference_outcome(mini_pki, scenario)) else None)
             for scenario in _OPENSSL_FLAG_SCENARIOS + _CRL_SCENARIOS}
    assert codes == {
        "strict-without-aki": 85, "default-without-aki": None, "partial-chain": None, "no-partial-chain": 2,
        "trusted-first-cleared": None, "crl-leaf-revoked": 23, "crl-leaf-good": None, "crl-leaf-missing": 3,
        "crl-only-file": 23, "crl-chain-intermediate-revoked": 23,
    }


# -- the interpreter's defaults -----------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", [ssl.Purpose.SERVER_AUTH, ssl.Purpose.CLIENT_AUTH], ids=["client", "server"])
def test_default_context_follows_the_interpreter(backend: tlsapi.Backend, purpose: ssl.Purpose) -> None:
    """``create_default_context`` sets what this interpreter's ``ssl.create_default_context`` sets. An engine
    whose chain policy is its own and fixed (rustls's webpki: no ``honoured_verify_flags`` for 3.13's
    STRICT/PARTIAL_CHAIN) keeps its own flags there, and refuses the interpreter's when they are set explicitly."""
    context = tlsapi.create_default_context(purpose, backend=backend)
    reference = ssl.create_default_context(purpose)
    names = ["verify_mode", "check_hostname", "minimum_version", "maximum_version", "protocol"]
    plain = tlsapi.Context(reference.protocol, backend=backend)
    try:
        plain.verify_flags = reference.verify_flags
        names.append("verify_flags")
    except tlsapi.UnsupportedFeatureError:
        assert context.verify_flags == tlsapi.Context(reference.protocol, backend=backend).verify_flags
    for name in names:
        assert getattr(context, name) == getattr(reference, name), name


@pytest.mark.parametrize("backend_name", OPENSSL_BACKENDS)
def test_default_context_refuses_what_ssl_refuses(backend_name: str, mini_pki: MiniPKI) -> None:
    """A leaf without an Authority Key Identifier: ``ssl``'s default context refuses it on 3.13 (strict) and
    accepts it before; a tlsapi default context does the same. (The native engine's enforcement of
    ``VERIFY_X509_STRICT`` is tested with its trust code.)"""
    _, certfile = mini_pki.leaf("default-no-aki", authority_key_id=False)
    reference = _connect_outcome(ssl.create_default_context(cafile=str(mini_pki.ca_file)), certfile, "localhost")
    outcome = _connect_outcome(tlsapi.create_default_context(cafile=str(mini_pki.ca_file), backend=backend_name),
                               certfile, "localhost")
    assert outcome == reference


# -- deprecated forms -----------------------------------------------------------------------------------------


def _deprecated_context(factory: Callable[..., ssl.SSLContext], *args: Any) -> tuple[ssl.SSLContext, list[Any]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context = factory(*args)
    return context, [(w.category, str(w.message), w.filename) for w in caught]


@pytest.mark.parametrize("args", [(), (None,), (ssl.PROTOCOL_TLS,)], ids=["no-argument", "none", "protocol-tls"])
def test_deprecated_protocol_forms_work_as_in_ssl(backend: tlsapi.Backend, pki: PKI, args: tuple[Any, ...]) -> None:
    """``Context()`` and ``PROTOCOL_TLS``: ssl's warnings (from the caller's line), defaults, and one context
    that serves and connects."""
    reference, reference_warnings = _deprecated_context(ssl.SSLContext, *args)
    context, caught = _deprecated_context(lambda *a: tlsapi.Context(*a, backend=backend), *args)
    assert caught == reference_warnings and {filename for *_, filename in caught} == {__file__}
    for name in ("protocol", "verify_mode", "check_hostname"):
        assert getattr(context, name) == getattr(reference, name), name
    context.load_cert_chain(pki.leaf().certfile)
    server = ThreadedServer(lambda tls: tls.sendall(tls.version().encode()), context)
    with server, context.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT)) as client:
        assert client.recv(16).decode() == client.version()
    server.result()
    # verify_mode applies to whichever side wraps: serving while asking for a certificate needs the capability.
    limited, _ = _deprecated_context(lambda: tlsapi.Context(ssl.PROTOCOL_TLS, backend=_without_client_auth(backend)))
    limited.verify_mode = ssl.CERT_REQUIRED
    limited.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO())
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="client certificates"):
        limited.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)


def test_tls12_method_as_in_ssl(backend: tlsapi.Backend, pki: PKI) -> None:
    """``PROTOCOL_TLSv1_2``: ssl's warning (from the caller's line) and defaults, bounds that cannot be changed
    (ssl's ``ValueError``), and one context that serves and connects over TLS 1.2 only."""
    reference, reference_warnings = _deprecated_context(ssl.SSLContext, ssl.PROTOCOL_TLSv1_2)
    context, caught = _deprecated_context(lambda *a: tlsapi.Context(*a, backend=backend), ssl.PROTOCOL_TLSv1_2)
    assert caught == reference_warnings and {filename for *_, filename in caught} == {__file__}
    for name in ("protocol", "verify_mode", "check_hostname"):
        assert getattr(context, name) == getattr(reference, name), name
    for bound in ("minimum_version", "maximum_version"):
        expected = _raised(functools.partial(setattr, reference, bound, ssl.TLSVersion.TLSv1_2))
        got = _raised(functools.partial(setattr, context, bound, ssl.TLSVersion.TLSv1_2))
        assert (type(got), str(got)) == (type(expected), str(expected))
    context.load_cert_chain(pki.leaf().certfile)
    server = ThreadedServer(lambda tls: tls.sendall(tls.version().encode()), context)
    with server, context.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT)) as client:
        assert client.version() == "TLSv1.2" and client.recv(16) == b"TLSv1.2"
    server.result()


@pytest.mark.parametrize("protocol", [ssl.PROTOCOL_TLSv1, ssl.PROTOCOL_TLSv1_1, 42, -1],
                         ids=["tls10", "tls11", "42", "-1"])
def test_legacy_protocols_warn_as_ssl_then_are_refused(backend: tlsapi.Backend, protocol: int) -> None:
    """The TLS 1.0/1.1 methods warn as in ``ssl`` and are refused (tlsapi speaks TLS 1.2 and 1.3); a value that
    names no method raises ssl's ``ValueError``."""
    with warnings.catch_warnings(record=True) as reference_warnings:
        warnings.simplefilter("always")
        reference = _raised(lambda: ssl.SSLContext(protocol)) if protocol in (42, -1) else None
        if reference is None:
            ssl.SSLContext(protocol)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _raised(lambda: tlsapi.Context(protocol, backend=backend))
    assert [str(w.message) for w in caught] == [str(w.message) for w in reference_warnings]
    if reference is None:
        assert isinstance(got, tlsapi.UnsupportedFeatureError) and "TLS 1.2 is the oldest" in str(got)
    else:
        assert (type(got), str(got)) == (type(reference), str(reference))


def test_version_options_and_bounds_warn_as_ssl(backend: tlsapi.Backend) -> None:
    """Setting an ``OP_NO_SSL*/OP_NO_TLS*`` option warns once, from the caller's line, as ``ssl`` does (setting
    it again does not), and so does a deprecated version bound (which tlsapi then refuses)."""

    def warnings_of(context: ssl.SSLContext) -> list[tuple[str, str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            context.options |= ssl.OP_NO_TLSv1_3
            context.options |= ssl.OP_NO_TLSv1_3
            with contextlib.suppress(tlsapi.UnsupportedFeatureError):
                context.minimum_version = ssl.TLSVersion.TLSv1_1
        return [(str(w.message), w.filename) for w in caught]

    expected = warnings_of(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    assert len(expected) == 2
    assert warnings_of(tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)) == expected


@pytest.mark.parametrize("value", [None, 42, 1.5, "1"], ids=repr)
def test_verify_mode_errors_as_ssl(backend: tlsapi.Backend, value: Any) -> None:
    """A ``verify_mode`` that is not an integer raises ``TypeError``, an integer out of range ``ValueError``,
    with ssl's words."""
    expected = _raised(lambda: setattr(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), "verify_mode", value))
    got = _raised(lambda: setattr(tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend), "verify_mode", value))
    assert (type(got), str(got)) == (type(expected), str(expected))


@pytest.mark.parametrize("backend", backends_declaring(tlsapi.Capability.KEYLOG), indirect=True)
def test_keylog_file_starts_as_ssl_writes_it(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """Setting ``keylog_filename`` creates the file with ``_ssl``'s header line at once; a file that already has
    content gets no second header."""
    written = {}
    for name, context in (("ssl", ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)),
                          (backend.name, tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend))):
        path = tmp_path / f"{name}.keys"
        context.keylog_filename = str(path)
        context.keylog_filename = str(path)
        context.keylog_filename = None  # type: ignore[assignment]  # typeshed lacks None; ssl takes it
        written[name] = path.read_text()
    assert written[backend.name] == written["ssl"] == tlsapi._context.KEYLOG_HEADER


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
                         encipher_only=False, decipher_only=False)


def _anchor_pems(tmp_path: Path) -> dict[str, bytes]:
    """Trust-store entries that OpenSSL's ``X509_check_ca`` classifies in each of its ways: a self-signed X.509
    v1 root (the ``openssl`` command still makes them; ``cryptography`` cannot), a keyUsage without
    basicConstraints, basicConstraints CA:TRUE whose keyUsage forbids certificate signing, a CA:FALSE leaf."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    pems = {}
    profiles: dict[str, list[x509.ExtensionType]] = {
        "key-usage-only": [_key_usage(True)],
        "ca-without-cert-sign": [x509.BasicConstraints(ca=True, path_length=None), _key_usage(False)],
        "leaf": [x509.BasicConstraints(ca=False, path_length=None)],
    }
    for label, extensions in profiles.items():
        builder = (x509.CertificateBuilder().subject_name(_name(label)).issuer_name(_name(label))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=9)))
        for extension in extensions:
            builder = builder.add_extension(extension, critical=True)
        pems[label] = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    key_file = tmp_path / "v1.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    request = subprocess.run(["openssl", "req", "-new", "-key", str(key_file), "-subj", "/CN=v1 root"],
                             capture_output=True, check=True).stdout
    pems["v1-root"] = subprocess.run(["openssl", "x509", "-req", "-signkey", str(key_file), "-days", "9"],
                                     input=request, capture_output=True, check=True).stdout
    assert x509.load_pem_x509_certificate(pems["v1-root"]).version == x509.Version.v1
    return pems


def test_ca_certificates_counted_as_openssl_counts_them(backend: tlsapi.Backend, tmp_path: Path) -> None:
    """``cert_store_stats()["x509_ca"]`` and ``get_ca_certs()`` classify each trust-store entry as ``ssl`` does
    (a v1 self-signed root is a CA: CPython's test_load_verify_cadata loads one)."""
    for label, pem in _anchor_pems(tmp_path).items():
        reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
        for ctx in (reference, context):
            ctx.load_verify_locations(cadata=pem.decode())
        assert context.cert_store_stats() == reference.cert_store_stats(), label
        assert context.get_ca_certs(binary_form=True) == reference.get_ca_certs(binary_form=True), label


def _without_renegotiation_info(flight: bytes) -> bytes:
    """The server's first flight with the renegotiation_info extension (RFC 5746) cut out of its ServerHello,
    as a legacy server would send it (the first record starts with the ServerHello)."""
    body_start = 5 + 4
    hello_length = int.from_bytes(flight[6:9], "big")
    hello = flight[body_start:body_start + hello_length]
    offset = 2 + 32 + 1 + hello[34] + 2 + 1
    extensions, kept = hello[offset + 2:], b""
    while extensions:
        kind, length = int.from_bytes(extensions[:2], "big"), int.from_bytes(extensions[2:4], "big")
        if kind != 0xFF01:
            kept += extensions[:4 + length]
        extensions = extensions[4 + length:]
    assert len(kept) < len(hello) - offset - 2, "the server sent no renegotiation_info"
    new_hello = hello[:offset] + len(kept).to_bytes(2, "big") + kept
    record_length = int.from_bytes(flight[3:5], "big") - len(hello) + len(new_hello)
    return (flight[:3] + record_length.to_bytes(2, "big") + b"\x02" + len(new_hello).to_bytes(3, "big") + new_hello
            + flight[body_start + hello_length:])


def _legacy_server_outcome(client: ssl.SSLContext, pki: PKI) -> str | None:
    """The reason a TLS 1.2 handshake of ``client`` fails with when the server's hello lacks renegotiation_info
    (``ssl``'s server, its ServerHello edited in flight: a client that goes on fails later, on the transcript)."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.leaf().certfile)
    server.maximum_version = ssl.TLSVersion.TLSv1_2
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    wires = [ssl.MemoryBIO() for _ in range(4)]  # client out, server in, server out, client in
    tls_client = client.wrap_bio(wires[3], wires[0], server_hostname="localhost")
    tls_server = server.wrap_bio(wires[1], wires[2], server_side=True)
    first_flight = True
    for _ in range(20):
        for endpoint in (tls_client, tls_server):
            try:
                endpoint.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                if endpoint is tls_client:
                    return str(exc.reason)
        wires[1].write(wires[0].read())
        flight = wires[2].read()
        if flight and first_flight:
            flight, first_flight = _without_renegotiation_info(flight), False
        wires[3].write(flight)
    return None


_LEGACY_SERVER_CONNECT = OP_LEGACY_SERVER_CONNECT


@pytest.mark.parametrize("legacy", [False, True], ids=["default", "legacy-server-connect"])
@pytest.mark.parametrize("backend", [name for name in available_backends() if tlsapi.get_backend(name)
                                     .context_class().honoured_options & _LEGACY_SERVER_CONNECT], indirect=True)
def test_legacy_server_connect_as_ssl(backend: tlsapi.Backend, pki: PKI, legacy: bool) -> None:
    """``OP_LEGACY_SERVER_CONNECT`` (0x4; named by ``ssl`` from 3.12), where a backend honours it: off by
    default, a TLS 1.2 client refuses a server without RFC 5746 with ssl's reason; set, it goes on (and here
    fails later, on the edited transcript), as OpenSSL's client does."""
    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    assert not reference.options & _LEGACY_SERVER_CONNECT and not context.options & _LEGACY_SERVER_CONNECT
    if legacy:
        reference.options |= _LEGACY_SERVER_CONNECT
        context.options |= _LEGACY_SERVER_CONNECT
    outcomes = [_legacy_server_outcome(reference, pki), _legacy_server_outcome(context, pki)]
    if legacy:
        assert None not in outcomes and "UNSAFE_LEGACY_RENEGOTIATION_DISABLED" not in outcomes, outcomes
    else:
        assert outcomes == ["UNSAFE_LEGACY_RENEGOTIATION_DISABLED"] * 2


def test_legacy_server_connect_refused_where_not_honoured() -> None:
    """A backend whose context does not list the option in ``honoured_options`` refuses it loudly."""
    stdlib_context = tlsapi.get_backend("stdlib").context_class()
    unhonoured = type("Unhonoured", (stdlib_context,), {"honoured_options": tlsapi.Context.honoured_options})
    context = unhonoured(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="does not support options"):
        context.options |= _LEGACY_SERVER_CONNECT


@pytest.mark.parametrize("backend", backends_declaring(tlsapi.Capability.POST_HANDSHAKE_AUTH), indirect=True)
def test_post_handshake_auth_on_tls12_fails_as_ssl(backend: tlsapi.Backend, pki: PKI) -> None:
    """``verify_client_post_handshake()`` on a TLS 1.2 connection raises ssl's ``WRONG_SSL_VERSION`` error, even
    though the client offered post-handshake authentication."""
    outcomes = []
    for server_backend in (None, backend):
        server = server_context(server_backend, pki, verify_mode=ssl.CERT_REQUIRED)
        client = client_context(None, pki, cert="client", version=ssl.TLSVersion.TLSv1_2)
        client.post_handshake_auth = True
        pair = BIOPair(client, server)
        assert pair.handshake().ok
        error = _raised(pair.server.verify_client_post_handshake)
        outcomes.append(_error_values(error))
    assert outcomes[1] == outcomes[0] and outcomes[0][3] == "WRONG_SSL_VERSION"


@pytest.mark.parametrize("result", ["wrong type", "raises"])
@pytest.mark.parametrize("backend", backends_declaring(tlsapi.Capability.SNI_CALLBACK), indirect=True)
def test_sni_callback_failure_as_ssl(backend: tlsapi.Backend, pki: PKI, result: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An SNI callback that returns something other than an alert number, or raises, goes to
    ``sys.unraisablehook`` (a ``TypeError`` for the wrong type) and the client receives the alert ``ssl``'s
    server sends: internal_error, or handshake_failure."""

    def callback(connection: Any, name: str | None, context: Any) -> Any:
        if result == "raises":
            raise ZeroDivisionError
        return "foo"

    outcomes = []
    for server_backend in (None, backend):
        reported: list[Any] = []
        monkeypatch.setattr("sys.unraisablehook", reported.append)
        server = server_context(server_backend, pki)
        server.sni_callback = callback
        handshake = BIOPair(client_context(None, pki), server).handshake()
        outcomes.append((getattr(handshake.client_error, "reason", None), [hook.exc_type for hook in reported]))
    assert outcomes[1] == outcomes[0]
    assert outcomes[0][1] == [TypeError if result == "wrong type" else ZeroDivisionError]


# -- internationalised hostnames ------------------------------------------------------------------------------


@pytest.mark.parametrize("hostname", [".pythontest.net", b".pythontest.net", "", b"", "a\x00b", b"a\x00b",
                                      "k\u00f6nig.example", b"k\xf6nig.example", "a" * 70, "example."], ids=repr)
def test_server_hostname_checks_as_ssl(backend: tlsapi.Backend, hostname: str | bytes) -> None:
    """``server_hostname`` is encoded and checked in ssl's order (the interpreter's idna codec first, so a
    leading dot is its ``UnicodeError`` on 3.13; then _ssl's ``ValueError`` / ``TypeError``), with its words."""

    def outcome(context: ssl.SSLContext) -> Any:
        try:
            return context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname=hostname).server_hostname
        except Exception as exc:
            return type(exc), str(exc)

    expected = outcome(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    assert outcome(tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)) == expected


@pytest.mark.parametrize("hostname", [".example.test", b"k\xf6nig.example"], ids=repr)
def test_unencodable_server_hostname_closes_the_socket_as_ssl(backend: tlsapi.Backend,
                                                               hostname: str | bytes) -> None:
    """A ``server_hostname`` that cannot be encoded raises the interpreter's ``UnicodeError`` from
    ``wrap_socket``, and the socket handed over is closed, not leaked (as ``ssl`` does on 3.13)."""
    outcomes = []
    for context in (ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)):
        sock = socket.socket()
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            error = _raised(lambda: context.wrap_socket(sock, server_hostname=hostname))  # noqa: B023
        outcomes.append((type(error), sock.fileno()))
        sock.close()
    assert outcomes[1] == outcomes[0] and outcomes[0][1] == -1


def test_idn_server_hostname_is_sent_and_read_as_a_label(backend: tlsapi.Backend, mini_pki: MiniPKI) -> None:
    """A Unicode ``server_hostname`` becomes its A-label: in SNI, in the hostname check, and read back."""
    a_label = "xn--bcher-kva.example"
    _, certfile = mini_pki.leaf("idn", "bücher", (a_label,))

    def connect(context: ssl.SSLContext) -> tuple[str | None, str | None, str | None]:
        received: list[str | None] = []
        server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_context.load_cert_chain(certfile)
        server_context.sni_callback = lambda connection, name, ctx: received.append(name)
        obj = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="Bücher.example")
        server = ThreadedServer(lambda tls: None, server_context)
        with server, context.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT),
                                         server_hostname="bücher.example") as tls:
            hostname = tls.server_hostname
        server.result()
        return obj.server_hostname, hostname, received[0]

    reference = connect(ssl.create_default_context(cafile=str(mini_pki.ca_file)))
    assert reference == (a_label, a_label, a_label)
    assert connect(tlsapi.create_default_context(cafile=str(mini_pki.ca_file), backend=backend)) == reference


# -- sessions -----------------------------------------------------------------------------------------------


def _session_server(pki: PKI, version: ssl.TLSVersion) -> ssl.SSLContext:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.leaf().certfile)
    server_context.maximum_version = version
    return server_context


def _session_of(context: ssl.SSLContext, server_context: ssl.SSLContext, resume: Any = None) -> tuple[Any, bool]:
    """The client's session after one exchange with a plain ``ssl`` server (TLS 1.3 tickets arrive with data)."""
    server = ThreadedServer(lambda tls: tls.sendall(b"x"), server_context)
    with server, context.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT),
                                     server_hostname="localhost", session=resume) as tls:
        assert tls.recv(1) == b"x"
        session = tls.session
        reused = bool(tls.session_reused)
    server.result()
    return session, reused


@pytest.mark.parametrize("backend", backends_declaring(tlsapi.Capability.SESSION_RESUMPTION), indirect=True)
def test_resumed_session_is_a_new_equal_object_as_in_ssl(backend: tlsapi.Backend, pki: PKI) -> None:
    """After a TLS 1.2 resumption, ``session`` is equal to the session resumed and is not that object, and each
    read of ``session`` is a new object, as ``_ssl`` wraps its ``SSL_SESSION`` anew (CPython's test_session)."""
    server_context = _session_server(pki, ssl.TLSVersion.TLSv1_2)
    observed = []
    for context in (ssl.create_default_context(cafile=str(pki.ca_file)),
                    tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)):
        first, _ = _session_of(context, server_context)
        server = ThreadedServer(lambda tls: tls.sendall(b"x"), server_context)
        with server, context.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT),
                                         server_hostname="localhost", session=first) as tls:
            assert tls.recv(1) == b"x"
            observed.append((tls.session_reused, tls.session == first, tls.session is first,
                             tls.session is tls.session))
        server.result()
    assert observed[1] == observed[0] == (True, True, False, False)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls12", "tls13"])
@pytest.mark.parametrize("backend", backends_declaring(tlsapi.Capability.SESSION_RESUMPTION), indirect=True)
def test_session_attributes_as_ssl(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    """``id``, ``time``, ``timeout``, ``ticket_lifetime_hint``, ``has_ticket`` and equality, as ``ssl.SSLSession``
    (on every backend that declares sessions)."""
    server_context = _session_server(pki, version)
    reference, _ = _session_of(ssl.create_default_context(cafile=str(pki.ca_file)), server_context)
    context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
    before = int(time.time())
    session, _ = _session_of(context, server_context)
    after = int(time.time())
    assert before <= session.time <= after
    for name in ("timeout", "ticket_lifetime_hint", "has_ticket"):
        assert getattr(session, name) == getattr(reference, name), name
    assert isinstance(session.id, bytes) and len(session.id) == len(reference.id)
    # Equality is by id: the same session again is equal, another connection's is not.
    other, _ = _session_of(context, server_context)
    assert session == session and session != other and other.id != session.id
    assert session != object() and (session == object()) is False
    assert _session_of(context, server_context, resume=session)[1]  # and it still resumes


# -- post_handshake_auth and http.client ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client_auth_server(pki: PKI) -> Iterator[tuple[str, int]]:
    """An HTTPS server on 127.0.0.1 (plain ``ssl``) that requires a client certificate from the suite's CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.leaf().certfile)
    context.load_verify_locations(pki.ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ClientNameHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "localhost", server.server_address[1]
    server.shutdown()
    server.server_close()


def _get(connection: http.client.HTTPSConnection) -> bytes:
    try:
        connection.request("GET", "/")
        return connection.getresponse().read()
    finally:
        connection.close()


def _offers_post_handshake_auth(backend: tlsapi.Backend) -> bool | None:
    """What ``post_handshake_auth`` reads after ``True`` on a client: ``True`` where the backend can answer a
    request, else ``None``, which is what ``ssl`` reports without the feature (http.client tests for it)."""
    return True if tlsapi.Capability.POST_HANDSHAKE_AUTH in backend.capabilities() else None


def test_client_post_handshake_auth_is_a_permission(backend: tlsapi.Backend) -> None:
    """On a client, ``post_handshake_auth = True`` is accepted on every backend (a permission)."""
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    client.post_handshake_auth = True
    assert client.post_handshake_auth is _offers_post_handshake_auth(backend)


def test_http_client_with_client_certificate(backend: tlsapi.Backend, pki: PKI,
                                             client_auth_server: tuple[str, int],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """http.client sets ``post_handshake_auth`` on the contexts it makes or is given a certificate for: the
    default HTTPS context (replaced by a tlsapi one) and, on 3.11, ``cert_file=``."""
    client_name = pki.client.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value

    def default_https_context() -> tlsapi.Context:
        context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
        context.load_cert_chain(pki.client.certfile)
        return context

    monkeypatch.setattr(ssl, "_create_default_https_context", default_https_context)
    assert _get(http.client.HTTPSConnection(*client_auth_server, timeout=TIMEOUT)).decode() == client_name
    if "cert_file" in inspect.signature(http.client.HTTPSConnection).parameters:  # removed in 3.12
        context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)
        legacy: dict[str, Any] = {"cert_file": str(pki.client.certfile)}
        with pytest.warns(DeprecationWarning, match="cert_file"):
            connection = http.client.HTTPSConnection(*client_auth_server, context=context, timeout=TIMEOUT, **legacy)
        assert _get(connection).decode() == client_name
        assert context.post_handshake_auth is _offers_post_handshake_auth(backend)


# -- errors as ssl raises them ------------------------------------------------------------------------------

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> dict[str, Path]:
    """A leaf with its key encrypted (PKCS#8 and traditional PEM), and files that are not PEM."""
    directory = tmp_path_factory.mktemp("keys")
    leaf = pki.leaf()
    encryption = serialization.BestAvailableEncryption(PASSWORD.encode())
    pem = serialization.Encoding.PEM
    contents = {
        "pkcs8": leaf.key.private_bytes(pem, serialization.PrivateFormat.PKCS8, encryption),
        "traditional": leaf.key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL, encryption),
        "binary": bytes(range(256)) * 2,
        "text": b"this is not a certificate\n",
    }
    # An RSA key whose public part matches its certificate and one CRT value (dP) is wrong: OpenSSL loads it
    # (it does not run the full key check, and verifies each CRT result when signing).
    rsa_key = rsa.generate_private_key(65537, 2048)
    numbers = rsa_key.private_numbers()
    inconsistent = rsa.RSAPrivateNumbers(numbers.p, numbers.q, numbers.d, numbers.dmp1 + 2, numbers.dmq1,
                                         numbers.iqmp, numbers.public_numbers)
    contents["rsa-crt-key"] = inconsistent.private_key(unsafe_skip_rsa_key_validation=True).private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    now = datetime.datetime.now(datetime.UTC)
    contents["rsa-crt-cert"] = (
        x509.CertificateBuilder().subject_name(_name("rsa crt")).issuer_name(_name("rsa crt"))
        .public_key(rsa_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=9))
        .sign(rsa_key, hashes.SHA256()).public_bytes(pem)
    )
    paths = {"cert": leaf.leaf_file}
    for name, content in contents.items():
        paths[name] = directory / name
        paths[name].write_bytes(content)
    return paths


_ERROR_CASES: dict[str, Callable[[Any, dict[str, Path]], object]] = {
    "wrong-password": lambda c, f: c.load_cert_chain(f["cert"], f["pkcs8"], password="wrong"),
    "wrong-password-traditional": lambda c, f: c.load_cert_chain(f["cert"], f["traditional"], password=b"wrong"),
    "wrong-password-callback": lambda c, f: c.load_cert_chain(f["cert"], f["pkcs8"], password=lambda: "wrong"),
    "password-callback-not-a-string": lambda c, f: c.load_cert_chain(f["cert"], f["pkcs8"], password=lambda: 3),
    "password-too-long": lambda c, f: c.load_cert_chain(f["cert"], f["pkcs8"], password="x" * 2000),
    "right-password": lambda c, f: c.load_cert_chain(f["cert"], f["pkcs8"], password=PASSWORD),
    "rsa-key-inconsistent-crt": lambda c, f: c.load_cert_chain(f["rsa-crt-cert"], f["rsa-crt-key"]),
    "certfile-not-pem": lambda c, f: c.load_cert_chain(f["binary"]),
    "certfile-missing": lambda c, f: c.load_cert_chain(f["cert"].with_name("missing.pem")),
    "cafile-binary": lambda c, f: c.load_verify_locations(f["binary"]),
    "cafile-text": lambda c, f: c.load_verify_locations(f["text"]),
    "cafile-missing": lambda c, f: c.load_verify_locations(f["cert"].with_name("missing.pem")),
    "cadata-binary": lambda c, f: c.load_verify_locations(cadata=f["binary"].read_bytes()),
    "cadata-text": lambda c, f: c.load_verify_locations(cadata="this is not a certificate"),
    "alpn-empty": lambda c, f: c.set_alpn_protocols([""]),
    "alpn-too-long": lambda c, f: c.set_alpn_protocols(["x" * 256]),
    "alpn-not-ascii": lambda c, f: c.set_alpn_protocols(["é"]),
    "alpn-bytes": lambda c, f: c.set_alpn_protocols([b"h2"]),
    "alpn-int": lambda c, f: c.set_alpn_protocols([1]),
}


def _outcome(action: Callable[[], object]) -> tuple[Any, ...] | None:
    try:
        action()
    except Exception as exc:
        return (*_error_values(exc), str(exc))
    return None


@pytest.mark.parametrize("case", list(_ERROR_CASES))
def test_errors_as_ssl_raises_them(backend: tlsapi.Backend, key_files: dict[str, Path], case: str) -> None:
    """The same mistake raises what ``ssl`` raises: class, errno, library, reason and text."""
    expected = _outcome(lambda: _ERROR_CASES[case](ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), key_files))
    context = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    try:
        _ERROR_CASES[case](context, key_files)
    except Exception as exc:
        assert (*_error_values(exc), str(exc)) == expected
        if isinstance(exc, ssl.SSLError):
            assert isinstance(exc, tlsapi.SSLError)  # tlsapi's class, with the stdlib's values
            assert "ParseError" not in str(exc)
    else:
        assert expected is None


_NO_PASSWORD_SCRIPT = """
import ssl, sys, tlsapi
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if sys.argv[1] == "ssl" else tlsapi.Context(
    ssl.PROTOCOL_TLS_CLIENT, backend=sys.argv[1])
try:
    context.load_cert_chain(sys.argv[2], sys.argv[3])
except Exception as exc:
    print(type(exc).__name__, getattr(exc, "errno", None), getattr(exc, "reason", None), exc)
else:
    print("loaded")
"""


def test_encrypted_key_without_password_and_terminal(backend: tlsapi.Backend, key_files: dict[str, Path]) -> None:
    """No password and no terminal to ask on: what the stdlib raises (run without a controlling terminal)."""

    def run(engine: str) -> tuple[str, str]:
        done = subprocess.run([sys.executable, "-c", _NO_PASSWORD_SCRIPT, engine, str(key_files["cert"]),
                               str(key_files["pkcs8"])], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, start_new_session=True, timeout=60, check=True)
        return done.stdout, done.stderr

    reference = run("ssl")
    assert reference[0] != "loaded\n"
    assert run(backend.name) == reference


_TERMINAL_DRIVER = """
import os, pty, select, sys, termios, time
answer, script, *arguments = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:  # the child: its controlling terminal is the pty
    os.execv(sys.executable, [sys.executable, "-c", script, *arguments])
output = b""
answered = False
while select.select([fd], [], [], 30)[0]:
    try:
        chunk = os.read(fd, 1024)
    except OSError:  # EIO: the child exited
        break
    if not chunk:
        break
    output += chunk
    if not answered and output.rstrip().endswith(b"pass phrase:"):
        while termios.tcgetattr(fd)[3] & termios.ECHO:  # typed once the prompt stops echoing, as a person
            time.sleep(0.01)
        os.write(fd, answer.encode() + b"\\n")
        answered = True
os.waitpid(pid, 0)
print(repr(output.decode()))
"""


@pytest.mark.parametrize("answer", [PASSWORD, "wrong"], ids=["right", "wrong"])
def test_encrypted_key_without_password_asks_on_the_terminal(backend: tlsapi.Backend, key_files: dict[str, Path],
                                                              answer: str) -> None:
    """No password but a terminal: OpenSSL's prompt, and the answer typed is the password."""

    def run(engine: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", _TERMINAL_DRIVER, answer, _NO_PASSWORD_SCRIPT, engine,
                               str(key_files["cert"]), str(key_files["pkcs8"])],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=True)
        output: str = ast.literal_eval(done.stdout)
        return [line.strip() for line in output.splitlines() if line.strip()]

    reference = run("ssl")
    assert reference[0] == "Enter PEM pass phrase:"
    assert (reference[-1] == "loaded") == (answer == PASSWORD)
    assert run(backend.name) == reference


# -- dual certificates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_name", OPENSSL_BACKENDS)
def test_rsa_and_ecdsa_certificates_side_by_side(backend_name: str, pki: PKI) -> None:
    """Two ``load_cert_chain`` calls with keys of different types keep both, as OpenSSL does: each client
    gets the certificate it can use (TLS 1.2 cipher suites name the key type)."""

    def served(server_context: ssl.SSLContext, client_ciphers: str | None) -> str:
        client = ssl.create_default_context(cafile=str(pki.ca_file))
        if client_ciphers is not None:
            client.maximum_version = ssl.TLSVersion.TLSv1_2
            client.set_ciphers(client_ciphers)
        server = ThreadedServer(lambda tls: None, server_context)
        with server, client.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT),
                                        server_hostname="localhost") as tls:
            der = tls.getpeercert(True)
        server.result()
        assert der is not None
        return type(x509.load_der_x509_certificate(der).public_key()).__name__

    def dual(context: ssl.SSLContext) -> ssl.SSLContext:
        context.load_cert_chain(pki.leaf("rsa-2048").certfile)
        context.load_cert_chain(pki.leaf("ecdsa-p256").certfile)
        return context

    reference = dual(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    context = dual(tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend_name))
    for ciphers in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", None):
        assert served(context, ciphers) == served(reference, ciphers), ciphers
    assert served(context, "ECDHE-RSA-AES128-GCM-SHA256") != served(context, "ECDHE-ECDSA-AES128-GCM-SHA256")


# -- TLS 1.3 external PSK (Python 3.13) ---------------------------------------------------------------------

PSK = bytes(range(32))


def test_psk_callbacks_as_the_interpreter(backend: tlsapi.Backend, pki: PKI) -> None:
    """The PSK callbacks exist where the interpreter's ``ssl`` has them (3.13), with its argument checks; a
    backend runs a PSK handshake with a plain ``ssl`` server, or refuses the callback loudly."""
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    present = hasattr(ssl.SSLContext, "set_psk_client_callback")
    if not present:  # ssl has none here; only a backend that implements PSK offers it, as an extension
        extension = backend.name == "native"  # its PSK handshakes: tests/test_native_psk.py
        assert hasattr(client, "set_psk_client_callback") is extension
        assert hasattr(client, "set_psk_server_callback") is extension
        return
    assert hasattr(client, "set_psk_client_callback") and hasattr(client, "set_psk_server_callback")
    with pytest.raises(TypeError, match="callback must be callable"):
        client.set_psk_client_callback(3)  # type: ignore[arg-type]
    with pytest.raises(ssl.SSLError, match="Cannot add PSK server callback to a PROTOCOL_TLS_CLIENT context"):
        client.set_psk_server_callback(lambda identity: PSK)
    client.set_psk_client_callback(None)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        client.set_psk_client_callback(lambda hint: ("client identity", PSK))
    except tlsapi.UnsupportedFeatureError:
        assert backend.name != "stdlib", "the stdlib backend is ssl: it has PSK"
        return
    reference = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    reference.check_hostname = False
    reference.verify_mode = ssl.CERT_NONE
    reference.minimum_version = ssl.TLSVersion.TLSv1_3
    reference.set_psk_client_callback(lambda hint: ("client identity", PSK))  # type: ignore[attr-defined]
    assert _psk_handshake(client, pki) == _psk_handshake(reference, pki)
    assert _psk_handshake(client, pki)[0] == ["client identity"]


def _psk_handshake(client: ssl.SSLContext, pki: PKI) -> tuple[list[str | None], str | None, bool]:
    """The identities a plain ``ssl`` PSK server was offered, the version, and whether a certificate came."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.leaf().certfile)
    identities: list[str | None] = []

    def server_callback(identity: str | None) -> bytes:
        identities.append(identity)
        return PSK

    server_context.set_psk_server_callback(server_callback)  # type: ignore[attr-defined]
    server = ThreadedServer(lambda tls: tls.sendall(b"psk"), server_context)
    with server, client.wrap_socket(socket.create_connection(server.address, timeout=TIMEOUT)) as tls:
        assert tls.recv(3) == b"psk"
        outcome = identities, tls.version(), tls.getpeercert(True) is not None
    server.result()
    return outcome
