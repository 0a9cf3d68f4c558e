"""The public backend SPI (``tlsapi.spi``): its names, the ClientHello peek, and the helpers' stdlib values."""

from __future__ import annotations

import ssl
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

import tlsapi
import tlsapi.spi as spi


def _client_hello(server_hostname: str | None = "example.org", alpn: list[str] | None = None,
                  maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED) -> bytes:
    """The first flight of a real stdlib client."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = maximum
    if alpn:
        context.set_alpn_protocols(alpn)
    client = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def _refragment(flight: bytes, size: int) -> bytes:
    """The same handshake bytes in records of at most ``size`` payload bytes."""
    content_type, version, length = struct.unpack_from(">BHH", flight)
    payload = flight[5 : 5 + length]
    return b"".join(struct.pack(">BHH", content_type, version, len(chunk)) + chunk
                    for chunk in (payload[i : i + size] for i in range(0, len(payload), size)))


def test_every_public_name_resolves() -> None:
    assert set(spi.__all__) <= set(dir(spi))
    assert spi.Connection is tlsapi.Connection and spi.Context is tlsapi.Context
    assert spi.Capability is tlsapi.Capability and spi.Backend is tlsapi.Backend


def test_backend_guide_documents_every_spi_name() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "backends.md").read_text()
    missing = [name for name in spi.__all__ if f"`{name}" not in guide and f"{name}`" not in guide
               and f"{name}(" not in guide]
    assert not missing, f"docs/backends.md does not document {missing}"


def test_peek_reads_what_the_stdlib_client_offers() -> None:
    info = spi.peek_client_hello(_client_hello(alpn=["h2", "http/1.1"]))
    assert info is not None
    assert info.server_name == "example.org"
    assert info.alpn_protocols == (b"h2", b"http/1.1")
    assert 0x0304 in info.versions and 0x0303 in info.versions
    assert 0x1301 in info.cipher_suites
    assert "x25519" in {spi.GROUP_NAMES.get(group) for group in info.groups}
    assert set(info.key_share_groups) <= set(info.groups)
    assert {0, 10, 16, 43, 51} <= set(info.extensions)  # SNI, groups, ALPN, versions, key_share


def test_peek_without_sni_or_alpn() -> None:
    info = spi.peek_client_hello(_client_hello(server_hostname=None, maximum=ssl.TLSVersion.TLSv1_2))
    assert info is not None
    assert info.server_name is None and info.alpn_protocols == ()
    assert 0x0304 not in info.versions


def test_peek_waits_for_the_whole_hello_across_records() -> None:
    flight = _refragment(_client_hello(), 40)
    for cut in (0, 3, 5, 44, len(flight) - 1):
        assert spi.peek_client_hello(flight[:cut]) is None
    info = spi.peek_client_hello(flight)
    assert info is not None and info.server_name == "example.org"


@pytest.mark.parametrize("data", [
    b"\x17\x03\x03\x00\x05hello",  # application data first
    b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",  # a ServerHello
    b"\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03",  # ClientHello body shorter than its fields
])
def test_peek_rejects_what_is_not_a_client_hello(data: bytes) -> None:
    with pytest.raises(ValueError):
        spi.peek_client_hello(data)


def test_every_setting_makes_a_new_snapshot(backend: tlsapi.Backend) -> None:
    """Each setter's change is in the next ``settings()``; without a change the snapshot is shared."""
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    client = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend)
    anchor = ssl.DER_cert_to_PEM_cert(_any_certificate())
    changes: list[tuple[Any, Any, Any]] = [
        (client, lambda: setattr(client, "check_hostname", False), lambda s: not s.check_hostname),
        (client, lambda: setattr(client, "verify_mode", ssl.CERT_OPTIONAL),
         lambda s: s.verify_mode == ssl.CERT_OPTIONAL),
        (client, lambda: setattr(client, "maximum_version", ssl.TLSVersion.TLSv1_2),
         lambda s: s.versions == (ssl.TLSVersion.TLSv1_2,) and s.maximum_version == ssl.TLSVersion.TLSv1_2),
        (client, lambda: setattr(client, "minimum_version", ssl.TLSVersion.TLSv1_2),
         lambda s: s.minimum_version == ssl.TLSVersion.TLSv1_2),
        (client, lambda: setattr(client, "options", client.options | ssl.OP_NO_TICKET),
         lambda s: s.options & ssl.OP_NO_TICKET),
        (client, lambda: setattr(client, "verify_flags", client.verify_flags | ssl.VERIFY_X509_TRUSTED_FIRST),
         lambda s: s.verify_flags & ssl.VERIFY_X509_TRUSTED_FIRST),
        (client, lambda: client.set_alpn_protocols(["h2"]), lambda s: s.alpn_protocols == (b"h2",)),
        (server, lambda: setattr(server, "num_tickets", 2), lambda s: s.num_tickets == 2),
        (server, lambda: setattr(server, "sni_callback", None), lambda s: s.sni_callback is None),
    ]
    if backend.name != "stdlib":  # the stdlib backend keeps trust material in OpenSSL, as ssl does
        changes.append((client, lambda: client.load_verify_locations(cadata=anchor),
                        lambda s: len(s.trust_anchors) == 1))
    for context, change, holds in changes:
        before = context.settings()
        assert context.settings() is before
        change()
        after = context.settings()
        assert after is not before and holds(after)
        assert isinstance(after, spi.Settings)


def test_a_connection_keeps_its_snapshot_until_the_sni_callback_switches(backend: tlsapi.Backend) -> None:
    server = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    other = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    other.set_alpn_protocols(["h2"])
    connection = server.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_side=True)
    taken = connection.settings
    assert taken is server.settings()
    server.set_alpn_protocols(["http/1.1"])
    assert connection.settings is taken and taken.alpn_protocols == ()
    if tlsapi.Capability.SNI_CALLBACK in backend.capabilities():
        connection.context = other
        assert connection.context is other and connection.settings is other.settings()


def _any_certificate() -> bytes:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "spi test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.DER)


def test_received_alert_error_matches_openssl_names() -> None:
    error = spi.received_alert_error(112, origin="mine")
    assert isinstance(error, ssl.SSLError)
    assert (error.errno, error.library, error.reason) == (ssl.SSL_ERROR_SSL, "SSL", "TLSV1_UNRECOGNIZED_NAME")
    assert error.strerror == "[SSL: TLSV1_UNRECOGNIZED_NAME] tlsv1 unrecognized name (mine)"
    assert spi.ALERT_REASONS[40] == "SSLV3_ALERT_HANDSHAKE_FAILURE"
    assert spi.received_alert_error(250).reason is None


def test_verify_message_formats_hostname_codes() -> None:
    assert spi.verify_message(20) == "unable to get local issuer certificate"
    assert spi.verify_message(62, "a.test") == "Hostname mismatch, certificate is not valid for 'a.test'."
    assert spi.verify_message(1000) == "unknown certificate verification error"


def test_select_alpn_is_the_servers_preference() -> None:
    assert spi.select_alpn([b"http/1.1", b"h2"], (b"h2", b"http/1.1")) == b"http/1.1"
    assert spi.select_alpn([b"h2"], (b"spdy/3",)) is None


class _FakeConnection:
    def __init__(self, callback: Any) -> None:
        self.context = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend="stdlib")
        self.context.sni_callback = callback
        self.settings = self.context.settings()


@pytest.mark.parametrize(("callback", "alert", "unraisable"), [
    (lambda conn, name, ctx: None, None, False),
    (lambda conn, name, ctx: ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME, 112, False),
    (lambda conn, name, ctx: 1 / 0, 40, True),
    (lambda conn, name, ctx: "no", 80, True),
])
def test_run_sni_callback(monkeypatch: pytest.MonkeyPatch, callback: Any, alert: int | None,
                          unraisable: bool) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    assert spi.run_sni_callback(_FakeConnection(callback), "a.test") == alert  # type: ignore[arg-type]
    assert bool(reported) == unraisable


def _hello_with(extensions: list[tuple[int, bytes]]) -> bytes:
    """A minimal ClientHello record carrying ``extensions`` (type, body) as given."""
    blob = b"".join(struct.pack(">HH", kind, len(body)) + body for kind, body in extensions)
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + struct.pack(">H", len(blob)) + blob)
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack(">BHH", 22, 0x0301, len(message)) + message


def test_peek_refuses_a_repeated_extension() -> None:
    with pytest.raises(ValueError, match="twice"):
        spi.peek_client_hello(_hello_with([(16, b"\x00\x03\x02h2"), (16, b"\x00\x03\x02h2")]))


def test_a_malformed_extension_fails_when_its_field_is_read() -> None:
    info = spi.peek_client_hello(_hello_with([(0, b"\x00\x09\x00\x00\x05abc"), (16, b"\x00\x03\x02h2")]))
    assert info is not None
    assert info.alpn_protocols == (b"h2",) and info.cipher_suites == (0x1301,)
    assert info.versions == (0x0303,)  # no supported_versions: the legacy version
    with pytest.raises(ValueError):
        info.server_name  # noqa: B018  # the name's length runs past the extension


@pytest.mark.parametrize("origin", ["tlsapi", "native", "_ssl.c:2576"])
def test_want_read_is_what_plain_ssl_raises(origin: str) -> None:
    """``spi.want_read`` (built directly, for speed) is ``ssl``'s want-read error in every value: class
    hierarchy, ``args``, ``errno``, ``library``, ``reason`` and text, as ``make_error`` builds it."""
    error, generic = spi.want_read(origin), spi.make_error(spi.SSLWantReadError, spi.WANT_READ_MESSAGE,
                                                            origin=origin)
    assert isinstance(error, ssl.SSLWantReadError) and type(error) is type(generic)
    assert error.args == generic.args == (ssl.SSL_ERROR_WANT_READ, f"The operation did not complete (read) ({origin})")
    assert type(error.args[0]) is int and error.errno == ssl.SSL_ERROR_WANT_READ
    assert (error.library, error.reason, str(error)) == (generic.library, generic.reason, str(generic))
    assert error.library is None and error.reason is None
