"""Encrypted Client Hello (capability ``ECH``): ``Context.set_ech_configs(ECHConfigList)`` on client contexts."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest

import tlsapi
from tlsapi import ech
from tlsapi.spi import peek_client_hello
from tlsapi_conformance.ech import (
    ENCRYPTED_CLIENT_HELLO,
    HANDSHAKE,
    SECP256R1,
    craft_offer,
    ech_config_list,
    extension_data,
    inner_extensions,
    read_alert,
    record,
    replace_extension,
    second_outer,
    serve_once,
)
from tlsapi_conformance.harness import ThreadedServer, client_context, server_context, set_groups
from tlsapi_conformance.pki import PKI

Capability = tlsapi.Capability


def _first_flight(backend: tlsapi.Backend, server_hostname: str) -> tuple[bytes, tlsapi.Connection]:
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    client.set_ech_configs(ech_config_list("public.example"))
    outgoing = tlsapi.MemoryBIO()
    conn = client.wrap_bio(tlsapi.MemoryBIO(), outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read(), conn


@pytest.mark.capability(Capability.ECH, requires=(Capability.TLSv1_3,))
def test_ech_hides_the_server_name(backend: tlsapi.Backend) -> None:
    """The wire shows the config's public name and the ECH extension, never the real name."""
    flight, _ = _first_flight(backend, "secret.example")
    hello = peek_client_hello(flight)
    assert hello is not None
    assert hello.server_name == "public.example"
    assert ENCRYPTED_CLIENT_HELLO in hello.extensions
    assert hello.versions == (0x0304,), "ECH is defined for TLS 1.3 only"
    assert b"secret.example" not in flight


@pytest.mark.capability(Capability.ECH)
def test_ech_configs_belong_to_clients(backend: tlsapi.Backend) -> None:
    server = tlsapi.Context(ssl.PROTOCOL_TLS_SERVER, backend=backend)
    with pytest.raises(ValueError):
        server.set_ech_configs(ech_config_list("public.example"))


# -- the server side (capability ECH_SERVER): a native (and, when installed, rustls) ECH client ------------------

PUBLIC_NAME = "alternate.example"  # the "alternate" leaf names both this public name and localhost
INNER_NAME = "localhost"
HANDSHAKE_SERVER_HELLO = 2


def _ech_server(backend: tlsapi.Backend, pki: PKI, keys: list[bytes], names: list[str | None] | None = None,
                groups: list[str] | None = None) -> Any:
    context = server_context(backend, pki, leaf="alternate")
    context.set_ech_keys(keys)
    if names is not None:
        context.sni_callback = lambda _conn, name, _ctx: names.append(name)
    if groups is not None:
        assert set_groups(context, groups)
    return context


def _native_client(pki: PKI, config_list: bytes | None) -> Any:
    context = client_context(tlsapi.get_backend("native"), pki)
    if config_list is not None:
        context.set_ech_configs(config_list)
    return context


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3, Capability.SNI_CALLBACK))
def test_ech_server_serves_the_inner_hello(backend: tlsapi.Backend, pki: PKI) -> None:
    """The server opens the offer with its key (an older key listed too), runs the SNI callback on the inner
    name, signals acceptance; both sides report ``ACCEPTED``."""
    keys, old = ech.generate(PUBLIC_NAME), ech.generate(PUBLIC_NAME)
    names: list[str | None] = []
    seen = serve_once(_ech_server(backend, pki, [keys.to_pem(), old.to_pem()], names),
                       _native_client(pki, keys.config_list))
    assert seen.get("reply") == b"PING", seen
    assert names == [INNER_NAME]
    assert seen["client_status"] is seen["server_status"] is tlsapi.ECHStatus.ACCEPTED


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3,))
def test_ech_server_rejects_with_retry_configs(backend: tlsapi.Backend, pki: PKI) -> None:
    """A stale configuration: the server serves the outer hello (public name) and sends its current
    configurations as retry_configs; the client aborts with ech_required and retries with them, accepted."""
    current = ech.generate(PUBLIC_NAME)
    server_ctx = _ech_server(backend, pki, [current.to_pem()])
    seen = serve_once(server_ctx, _native_client(pki, ech.generate(PUBLIC_NAME).config_list))
    error = seen.get("client_error")
    assert isinstance(error, tlsapi.ECHRejectedError), seen
    assert error.retry_configs == current.config_list
    assert seen["server_status"] is tlsapi.ECHStatus.REJECTED and isinstance(seen.get("server_error"), ssl.SSLError)
    retried = serve_once(server_ctx, _native_client(pki, error.retry_configs))
    assert retried.get("reply") == b"PING" and retried["server_status"] is tlsapi.ECHStatus.ACCEPTED, retried


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3,))
def test_ech_server_completes_with_grease(backend: tlsapi.Backend, pki: PKI) -> None:
    """GREASE (no configuration on the client) opens with no key: the outer hello is served, and the client
    ignores the retry_configs."""
    seen = serve_once(_ech_server(backend, pki, [ech.generate(PUBLIC_NAME).to_pem()]), _native_client(pki, None))
    assert seen.get("reply") == b"PING", seen
    assert seen["client_status"] is tlsapi.ECHStatus.GREASE and seen["server_status"] is tlsapi.ECHStatus.REJECTED


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3, Capability.HELLO_RETRY_REQUEST,
                                                         Capability.GROUP_SECP256R1))
def test_ech_server_keeps_ech_across_hello_retry_request(backend: tlsapi.Backend, pki: PKI) -> None:
    """The server takes secp256r1 only, for which the client sent no share: it accepts ECH in its
    HelloRetryRequest and opens the second ClientHelloOuter with the first HPKE context."""
    keys = ech.generate(PUBLIC_NAME)
    server_ctx = _ech_server(backend, pki, [keys.to_pem()], groups=["secp256r1"])
    seen = serve_once(server_ctx, _native_client(pki, keys.config_list))
    assert seen.get("reply") == b"PING", seen
    assert seen["client_status"] is seen["server_status"] is tlsapi.ECHStatus.ACCEPTED


def _rustls_ech_client(pki: PKI, config_list: bytes) -> Any:
    try:
        rustls = tlsapi.get_backend("rustls")
    except tlsapi.BackendError:
        pytest.skip("the rustls backend (rtls) is not installed")
    if not rustls.is_available() or Capability.ECH not in rustls.capabilities():
        pytest.skip("rtls is not available or was built without ECH")
    context = client_context(rustls, pki)
    context.set_ech_configs(config_list)
    return context


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3,))
def test_ech_server_with_rustls(backend: tlsapi.Backend, pki: PKI) -> None:
    """An independent client: rustls is accepted, and a stale rustls configuration is rejected (rustls
    checks the retry_configs and aborts)."""
    keys = ech.generate(PUBLIC_NAME)
    server_ctx = _ech_server(backend, pki, [keys.to_pem()])
    accepted = serve_once(server_ctx, _rustls_ech_client(pki, keys.config_list))
    assert accepted.get("reply") == b"PING", accepted
    assert accepted["server_status"] is tlsapi.ECHStatus.ACCEPTED
    rejected = serve_once(server_ctx, _rustls_ech_client(pki, ech.generate(PUBLIC_NAME).config_list))
    assert isinstance(rejected.get("client_error"), ssl.SSLError) and "reply" not in rejected, rejected
    assert rejected["server_status"] is tlsapi.ECHStatus.REJECTED


def _answer_to(server_ctx: Any, *messages: bytes) -> tuple[list[int], int | None]:
    """Send ``messages`` (ClientHellos) to the server, one after its answer to the previous; what it sent
    (handshake message types) and its alert."""
    types: list[int] = []
    alert: int | None = None

    def handle(raw: Any) -> None:
        with server_ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False) as tls:
            with contextlib.suppress(ssl.SSLError, OSError):
                tls.do_handshake()

    with ThreadedServer(handle) as server, server.connect() as sock:
        for index, message in enumerate(messages):
            sock.sendall(record(HANDSHAKE, message))
            if index < len(messages) - 1:
                sock.recv(65536)  # the HelloRetryRequest
        sock.shutdown(socket.SHUT_WR)
        types, alert = read_alert(sock)
        server.result()
    return types, alert


def _outer_with(extension: Callable[[bytes], bytes], config_list: bytes) -> bytes:
    offer = craft_offer(config_list, INNER_NAME, inner_extensions(INNER_NAME))
    data = extension_data(offer.outer, ENCRYPTED_CLIENT_HELLO)
    return replace_extension(offer.outer, ENCRYPTED_CLIENT_HELLO, extension(data))


_MALFORMED_OUTER = {
    # section 7: an empty or truncated extension is a decode_error, a type other than outer illegal_parameter
    "empty": (lambda data: b"", 50),
    "inner-type": (lambda data: b"\x01", 47),
    "unknown-type": (lambda data: b"\x02" + data[1:], 47),
    "truncated": (lambda data: data[:8], 50),
    "payload-overrun": (lambda data: data[:-1], 50),
    "empty-payload": (lambda data: data[:8] + data[8:8 + 2 + 32] + b"\x00\x00", 50),
}


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3,))
@pytest.mark.parametrize("case", list(_MALFORMED_OUTER))
def test_ech_server_refuses_malformed_outer_extensions(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    keys = ech.generate(PUBLIC_NAME)
    edit, alert = _MALFORMED_OUTER[case]
    types, sent = _answer_to(_ech_server(backend, pki, [keys.to_pem()]), _outer_with(edit, keys.config_list))
    assert (types, sent) == ([], alert)


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3,))
def test_ech_server_serves_the_outer_hello_when_the_payload_does_not_open(backend: tlsapi.Backend,
                                                                          pki: PKI) -> None:
    """A payload no key opens (tampered, or GREASE) is not an error: the outer hello gets a ServerHello."""
    keys = ech.generate(PUBLIC_NAME)
    tampered = _outer_with(lambda data: data[:-1] + bytes((data[-1] ^ 1,)), keys.config_list)
    types, _alert = _answer_to(_ech_server(backend, pki, [keys.to_pem()]), tampered)
    assert types[:1] == [HANDSHAKE_SERVER_HELLO]


def _without(extensions: list[tuple[int, bytes]], kind: int) -> list[tuple[int, bytes]]:
    return [(t, d) for t, d in extensions if t != kind]


_MALFORMED_INNER: dict[str, tuple[Callable[[list[tuple[int, bytes]]], list[tuple[int, bytes]]],
                                  Callable[[bytes], bytes] | None, int]] = {
    # section 7.1: no inner encrypted_client_hello, or TLS 1.2 offered: illegal_parameter
    "no-inner-extension": (lambda ext: _without(ext, ENCRYPTED_CLIENT_HELLO), None, 47),
    "offers-tls12": (lambda ext: [(t, b"\x04\x03\x04\x03\x03" if t == 43 else d) for t, d in ext], None, 47),
    # section 5.1: padding must be zeros, legacy_session_id empty, ech_outer_extensions well-formed and
    # naming outer extensions other than encrypted_client_hello
    "nonzero-padding": (lambda ext: ext, lambda encoded: encoded + b"\x01", 47),
    "session-id": (lambda ext: ext, lambda encoded: encoded[:34] + b"\x01\x00" + encoded[35:], 47),
    "outer-names-ech": (lambda ext: ext, lambda encoded: encoded.replace(
        b"\x08\x00\x2b\x00\x0a", b"\x08\xfe\x0d\x00\x0a", 1), 47),
    "outer-names-missing": (lambda ext: ext, lambda encoded: encoded.replace(
        b"\x08\x00\x2b\x00\x0a", b"\x08\x12\x34\x00\x0a", 1), 47),
    "outer-odd-length": (lambda ext: ext, lambda encoded: encoded.replace(
        b"\x00\x09\x08\x00\x2b", b"\x00\x09\x07\x00\x2b", 1), 50),
}


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3,))
@pytest.mark.parametrize("case", list(_MALFORMED_INNER))
def test_ech_server_refuses_malformed_inner_hellos(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    keys = ech.generate(PUBLIC_NAME)
    edit_extensions, edit_encoded, alert = _MALFORMED_INNER[case]
    offer = craft_offer(keys.config_list, INNER_NAME, edit_extensions(inner_extensions(INNER_NAME)), edit_encoded)
    types, sent = _answer_to(_ech_server(backend, pki, [keys.to_pem()]), offer.outer)
    assert (types, sent) == ([], alert)


_MALFORMED_SECOND: dict[str, tuple[Callable[[bytes], bytes | None], int]] = {
    # section 7.1.1: the second ClientHelloOuter keeps the extension (missing_extension), the config_id and
    # suite with an empty enc (illegal_parameter), and opens with the first HPKE context (decrypt_error)
    "missing": (lambda data: None, 109),
    "other-config-id": (lambda data: data[:5] + bytes((data[5] ^ 1,)) + data[6:], 47),
    "non-empty-enc": (lambda data: data[:6] + b"\x00\x01\x00" + data[8:], 47),
    "tampered": (lambda data: data[:-1] + bytes((data[-1] ^ 1,)), 51),
}


@pytest.mark.capability(Capability.ECH_SERVER, requires=(Capability.TLSv1_3, Capability.HELLO_RETRY_REQUEST,
                                                         Capability.GROUP_SECP256R1))
@pytest.mark.parametrize("case", list(_MALFORMED_SECOND))
def test_ech_server_refuses_a_bad_second_outer_hello(backend: tlsapi.Backend, pki: PKI, case: str) -> None:
    keys = ech.generate(PUBLIC_NAME)
    server_ctx = _ech_server(backend, pki, [keys.to_pem()], groups=["secp256r1"])
    first = craft_offer(keys.config_list, INNER_NAME, inner_extensions(INNER_NAME))
    second = second_outer(first, inner_extensions(INNER_NAME, SECP256R1))
    edit, alert = _MALFORMED_SECOND[case]
    edited = replace_extension(second, ENCRYPTED_CLIENT_HELLO, edit(extension_data(second, ENCRYPTED_CLIENT_HELLO)))
    types, sent = _answer_to(server_ctx, first.outer, edited)
    assert sent == alert, (types, sent)


# -- the client side against the native ECH server (the reference server for ECH) -----------------------------


def _ech_client(backend: tlsapi.Backend, pki: PKI, config_list: bytes) -> Any:
    context = client_context(backend, pki)
    context.set_ech_configs(config_list)
    return context


@pytest.mark.capability(Capability.ECH, requires=(Capability.TLSv1_3,))
def test_ech_client_is_accepted(backend: tlsapi.Backend, pki: PKI) -> None:
    """The server opens the offer and serves the inner name; the certificate is verified for the inner name."""
    keys = ech.generate(PUBLIC_NAME)
    names: list[str | None] = []
    server_ctx = _ech_server(tlsapi.get_backend("native"), pki, [keys.to_pem()], names)
    seen = serve_once(server_ctx, _ech_client(backend, pki, keys.config_list))
    assert seen.get("reply") == b"PING", seen
    assert names == [INNER_NAME] and seen["server_status"] is tlsapi.ECHStatus.ACCEPTED
    assert seen["client_status"] is tlsapi.ECHStatus.ACCEPTED


@pytest.mark.capability(Capability.ECH, requires=(Capability.TLSv1_3,))
def test_ech_client_rejection_raises_ech_rejected_error(backend: tlsapi.Backend, pki: PKI) -> None:
    """A stale configuration: the client completes the handshake with the public name, then aborts with
    ech_required; the caller gets ``ECHRejectedError`` (retry configurations: the server's, or none)."""
    current = ech.generate(PUBLIC_NAME)
    server_ctx = _ech_server(tlsapi.get_backend("native"), pki, [current.to_pem()])
    seen = serve_once(server_ctx, _ech_client(backend, pki, ech.generate(PUBLIC_NAME).config_list))
    error = seen.get("client_error")
    assert isinstance(error, tlsapi.ECHRejectedError) and error.reason == "ECH_REJECTED", seen
    assert error.retry_configs in (None, current.config_list)
    assert "reply" not in seen and seen["server_status"] is tlsapi.ECHStatus.REJECTED
