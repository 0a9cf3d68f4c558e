"""``Context`` semantics: the ``ssl.SSLContext`` contract, for the base class and every backend."""

from __future__ import annotations

import datetime
import inspect
import ssl
from pathlib import Path

import pytest
from conftest import available_backends
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import tlsapi
import tlsapi.ech
from tlsapi._context import Context

PYTHON_CONFIG = tlsapi.Backend(
    "python-config", version="test", description="the base class's own configuration, no engine",
    context_class="tlsapi._context:Context", capabilities=[tlsapi.Capability.ALPN],
)


class PythonConfigContext(Context):
    """The base class with no backend overrides: exercises the shared Python configuration."""

    backend = PYTHON_CONFIG


def _backend_names() -> list[str]:
    return [backend.name for backend in tlsapi.backends() if backend.is_available()]


def _new(kind: str, protocol: int = tlsapi.PROTOCOL_TLS_CLIENT) -> Context:
    if kind == "python-config":
        return PythonConfigContext(protocol)
    return tlsapi.Context(protocol, backend=kind)


KINDS = ["python-config", *_backend_names()]


def _public_members() -> list[str]:
    return [name for name in dir(ssl.SSLContext) if not name.startswith("_")]


@pytest.mark.parametrize("name", _backend_names())
def test_every_public_member_is_overridden(name: str) -> None:
    """No public member of ssl.SSLContext falls through to the OpenSSL context by accident."""
    cls = tlsapi.get_backend(name).context_class()
    mro = cls.__mro__
    boundary = mro.index(ssl.SSLContext)
    for member in _public_members():
        owner = next(klass for klass in mro if member in vars(klass))
        assert mro.index(owner) < boundary, f"{cls.__name__}.{member} is inherited from {owner.__name__}"


def test_member_list_is_complete() -> None:
    """The enumeration above covers the members real consumers use."""
    members = set(_public_members())
    for expected in ("wrap_socket", "wrap_bio", "verify_mode", "check_hostname", "load_cert_chain",
                     "load_verify_locations", "set_alpn_protocols", "sni_callback", "minimum_version",
                     "options", "post_handshake_auth", "keylog_filename", "get_ca_certs", "set_ciphers"):
        assert expected in members


@pytest.mark.parametrize("kind", KINDS)
def test_client_and_server_defaults(kind: str) -> None:
    client = _new(kind)
    assert isinstance(client, ssl.SSLContext)
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname is True
    assert client.minimum_version == tlsapi.TLSVersion.TLSv1_2
    assert client.maximum_version == tlsapi.TLSVersion.MAXIMUM_SUPPORTED
    server = _new(kind, tlsapi.PROTOCOL_TLS_SERVER)
    assert server.verify_mode == ssl.CERT_NONE and server.check_hostname is False
    assert server.num_tickets == 2


@pytest.mark.parametrize("kind", KINDS)
def test_verify_mode_and_check_hostname_interplay(kind: str) -> None:
    context = _new(kind)
    with pytest.raises(ValueError, match="check_hostname"):
        context.verify_mode = ssl.CERT_NONE
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    assert context.verify_mode == ssl.CERT_NONE
    context.check_hostname = True  # switches verification back on, as the stdlib does
    assert context.verify_mode == ssl.CERT_REQUIRED
    context.check_hostname = False
    context.verify_mode = ssl.CERT_OPTIONAL
    assert context.verify_mode is ssl.CERT_OPTIONAL


@pytest.mark.parametrize("kind", KINDS)
def test_versions_accept_ssl_enum_and_refuse_legacy(kind: str) -> None:
    context = _new(kind)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    assert context.minimum_version is tlsapi.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(tlsapi.UnsupportedFeatureError, match=context.backend.name):
        context.minimum_version = ssl.TLSVersion.TLSv1_1
    assert isinstance(tlsapi.UnsupportedFeatureError("b", "f"), NotImplementedError)


@pytest.mark.parametrize("kind", KINDS)
def test_alpn_validation(kind: str) -> None:
    context = _new(kind)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with pytest.raises(ssl.SSLError, match="ALPN protocols must be 1 to 255 in length"):  # as ssl raises
        context.set_alpn_protocols(["x" * 256])
    with pytest.raises(ssl.SSLError):
        context.set_alpn_protocols([""])


@pytest.mark.parametrize("kind", KINDS)
def test_side_specific_settings(kind: str) -> None:
    client = _new(kind)
    with pytest.raises(ValueError):
        client.num_tickets = 1
    with pytest.raises(ValueError):
        client.sni_callback = lambda *args: None
    server = _new(kind, tlsapi.PROTOCOL_TLS_SERVER)
    with pytest.raises(ValueError, match="non-negative"):
        server.num_tickets = -1


def test_undeclared_feature_raises_naming_backend_and_feature() -> None:
    context = PythonConfigContext(tlsapi.PROTOCOL_TLS_SERVER)
    with pytest.raises(tlsapi.UnsupportedFeatureError) as info:
        context.post_handshake_auth = True
    assert info.value.backend == "python-config" and "post-handshake" in info.value.feature
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="SNI"):
        context.sni_callback = lambda *args: None
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="key logging"):
        context.keylog_filename = "/dev/null"
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        context.options |= 0x1  # OP_NO_... bits outside the honoured set: a flag we cannot honour
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        context.load_dh_params("dhparams.pem")
    with pytest.raises(tlsapi.UnsupportedFeatureError, match="NPN"):
        context.set_npn_protocols(["h2"])


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | bytes | str]:
    """A self-signed CA certificate and a key encrypted with a password, as files and data."""
    directory = tmp_path_factory.mktemp("material")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsapi test CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"s3cret"))
    (directory / "cert.pem").write_bytes(pem)
    (directory / "key.pem").write_bytes(encrypted)
    return {"cert": directory / "cert.pem", "key": directory / "key.pem", "pem": pem.decode(),
            "der": certificate.public_bytes(serialization.Encoding.DER)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("password", ["s3cret", b"s3cret", bytearray(b"s3cret"), lambda: "s3cret"])
def test_load_cert_chain_with_password(kind: str, password: object, material: dict[str, object]) -> None:
    context = _new(kind, tlsapi.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(material["cert"], material["key"], password)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_load_cert_chain_errors(kind: str, material: dict[str, object], tmp_path: Path) -> None:
    context = _new(kind, tlsapi.PROTOCOL_TLS_SERVER)
    with pytest.raises(ssl.SSLError) as info:
        context.load_cert_chain(material["cert"], material["key"], "wrong")  # type: ignore[arg-type]
    assert isinstance(info.value, tlsapi.SSLError)
    with pytest.raises(TypeError):
        context.load_cert_chain(material["cert"], material["key"], 42)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        context.load_cert_chain(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(tlsapi.SSLError):
        context.load_cert_chain(garbage)


@pytest.mark.parametrize("kind", KINDS)
def test_trust_store_loading_and_listing(kind: str, material: dict[str, object]) -> None:
    for source in ({"cafile": material["cert"]}, {"cadata": material["pem"]}, {"cadata": material["der"]}):
        context = _new(kind)
        assert context.cert_store_stats() == {"x509": 0, "crl": 0, "x509_ca": 0}
        context.load_verify_locations(**source)  # type: ignore[arg-type]
        assert context.cert_store_stats()["x509_ca"] == 1
        [info] = context.get_ca_certs()
        assert info["subject"] == ((("commonName", "tlsapi test CA"),),)
        assert context.get_ca_certs(binary_form=True) == [material["der"]]
    with pytest.raises(TypeError):
        _new(kind).load_verify_locations()
    with pytest.raises(tlsapi.SSLError):
        _new(kind).load_verify_locations(cadata="no certificates here")


@pytest.mark.parametrize("kind", KINDS)
def test_default_certs_are_loaded(kind: str) -> None:
    context = tlsapi.create_default_context(backend=PYTHON_CONFIG if kind == "python-config" else kind)
    assert context.cert_store_stats()["x509_ca"] > 10  # system store, or certifi as the fallback


def test_create_default_context_for_servers_and_cadata(material: dict[str, object]) -> None:
    server = tlsapi.create_default_context(tlsapi.Purpose.CLIENT_AUTH)
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER and server.verify_mode == ssl.CERT_NONE
    client = tlsapi.create_default_context(cadata=material["pem"])  # type: ignore[arg-type]
    assert client.cert_store_stats()["x509_ca"] == 1
    with pytest.raises(TypeError):
        tlsapi.create_default_context("not a purpose")  # type: ignore[arg-type]


def test_wrap_argument_checks() -> None:
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT)
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER)
    bio = tlsapi.MemoryBIO
    with pytest.raises(ValueError, match="check_hostname requires server_hostname"):
        client.wrap_bio(bio(), bio())
    with pytest.raises(ssl.SSLError, match="Cannot create a server socket"):  # as _ssl: not ValueError
        client.wrap_bio(bio(), bio(), server_side=True)
    with pytest.raises(ssl.SSLError, match="Cannot create a client socket"):
        server.wrap_bio(bio(), bio(), server_side=False)
    with pytest.raises(ValueError, match="client mode"):
        server.wrap_bio(bio(), bio(), server_side=True, server_hostname="x")
    with pytest.raises(ValueError):
        client.wrap_bio(bio(), bio(), server_hostname=".leading.dot")
    connection = client.wrap_bio(bio(), bio(), False, b"example.org", None)  # anyio: positional, bytes
    assert connection.server_hostname == "example.org"
    assert connection.version() is None and connection.cipher() is None
    with pytest.raises(TypeError, match="public constructor"):
        type(connection)()


def test_pem_der_helpers(material: dict[str, object]) -> None:
    der = material["der"]
    pem = tlsapi.DER_cert_to_PEM_cert(der)  # type: ignore[arg-type]
    assert pem == ssl.DER_cert_to_PEM_cert(der)  # type: ignore[arg-type]
    assert tlsapi.PEM_cert_to_DER_cert(pem) == der
    with pytest.raises(ValueError):
        tlsapi.PEM_cert_to_DER_cert("garbage")


def test_errors_subclass_ssl_classes() -> None:
    pairs = [(tlsapi.SSLError, ssl.SSLError), (tlsapi.SSLZeroReturnError, ssl.SSLZeroReturnError),
             (tlsapi.SSLWantReadError, ssl.SSLWantReadError), (tlsapi.SSLWantWriteError, ssl.SSLWantWriteError),
             (tlsapi.SSLSyscallError, ssl.SSLSyscallError), (tlsapi.SSLEOFError, ssl.SSLEOFError),
             (tlsapi.SSLCertVerificationError, ssl.SSLCertVerificationError)]
    for ours, theirs in pairs:
        assert issubclass(ours, theirs) and issubclass(ours, tlsapi.SSLError)
    assert tlsapi.CertificateError is tlsapi.SSLCertVerificationError
    assert issubclass(tlsapi.CertificateError, ValueError)
    assert inspect.isclass(tlsapi.TLSVersion) and tlsapi.TLSVersion is ssl.TLSVersion


@pytest.mark.parametrize("protocol", [ssl.PROTOCOL_TLS_CLIENT, ssl.PROTOCOL_TLS_SERVER])
def test_wrapping_for_the_other_side_is_ssls_error(backend: tlsapi.Backend, protocol: ssl._SSLMethod) -> None:
    """A client context wrapped as a server (or the reverse) raises ``ssl.SSLError`` with errno 0 and
    ``_ssl``'s words, as CPython's ``test_echo`` expects, before anything else is checked."""
    server_side = protocol == ssl.PROTOCOL_TLS_CLIENT
    errors = []
    for context in (ssl.SSLContext(protocol), tlsapi.Context(protocol, backend=backend)):
        with pytest.raises(ssl.SSLError) as raised:
            context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=server_side)
        errors.append((raised.value.args[0], raised.value.args[1].rsplit(" (", 1)[0]))
    assert errors[1] == errors[0]


@pytest.mark.parametrize("backend", available_backends())
def test_ech_settings_are_honoured_or_refused(backend: str) -> None:
    """Every backend's contexts answer the ECH setters: a backend declaring the side takes the setting, the
    others raise UnsupportedFeatureError (never AttributeError, never a silent connection without ECH); the
    wrong side is ValueError everywhere."""
    keys = tlsapi.ech.generate("public.example")
    capabilities = tlsapi.get_backend(backend).capabilities()
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    server = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend)
    if tlsapi.Capability.ECH in capabilities:
        client.set_ech_configs(keys.config_list)
    else:
        with pytest.raises(tlsapi.UnsupportedFeatureError):
            client.set_ech_configs(keys.config_list)
    if tlsapi.Capability.ECH_SERVER in capabilities:
        server.set_ech_keys([keys.to_pem()])
    else:
        with pytest.raises(tlsapi.UnsupportedFeatureError):
            server.set_ech_keys([keys.to_pem()])
    with pytest.raises(ValueError):
        server.set_ech_configs(keys.config_list)
    with pytest.raises(ValueError):
        client.set_ech_keys([keys.to_pem()])
