"""Encrypted Client Hello, client side of the native engine, against a test server that decrypts it.

The server is the scriptable ``HostileServer`` (built from the engine's own messages and key schedule) on a
real loopback socket: it opens the ClientHelloOuter with ``_ech.decrypt_client_hello`` and answers the
ClientHelloInner, signalling acceptance in ServerHello.random as the ECH specification says.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import rtls
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hostile_peer import HostileServer, first_plain_alert, plain_record, read_plain_messages
from hypothesis import given, settings
from hypothesis import strategies as st

import tlsapi
from tlsapi import ech
from tlsapi_conformance.ech import craft_offer, inner_extensions, serve_once
from tlsapi_conformance.pki import PKI
from tlsapi_native import _ech
from tlsapi_native import _messages as m
from tlsapi_native._alerts import TLSAlert
from tlsapi_native._keyschedule import Transcript
from tlsapi_native._record import APPLICATION_DATA, HANDSHAKE

PUBLIC_NAME = "public.example.net"
INNER_NAME = "localhost"  # the PKI's leaf certificate is for localhost only


def _keys() -> tuple[bytes, ech.ECHConfig, X25519PrivateKey]:
    keys = ech.generate(PUBLIC_NAME, maximum_name_length=32)
    config_list, private_key = ech.load_ech_pem(keys.to_pem())
    assert private_key is not None
    (config,) = ech.parse_ech_config_list(config_list)
    return config_list, config, private_key


def _read_record(conn: socket.socket) -> bytes:
    header = b""
    while len(header) < 5:
        header += conn.recv(5 - len(header))
    body = b""
    length = int.from_bytes(header[3:5], "big")
    while len(body) < length:
        body += conn.recv(length - len(body))
    return header + body


def _read_all(conn: socket.socket) -> bytes:
    """What the client wrote until it closed the connection."""
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


def _accept(server: HostileServer, inner: m.ClientHello, data: bytes) -> bytes:
    """Answer ``inner`` as a server accepting ECH: ServerHello.random ends with the acceptance confirmation;
    then the encrypted flight and ``data`` as application data."""
    server.client_hello, server.client_hello_raw = inner, inner.build()
    server_hello = server.server_hello(
        lambda hello: _ech.confirm_acceptance(hello, server.suite.hash, inner.random,
                                              Transcript(server.suite.hash, server.client_hello_raw)))
    flight = server.protect(HANDSHAKE, b"".join(server.flight()))
    server.application_keys()
    return plain_record(HANDSHAKE, server_hello) + flight + server.protect(APPLICATION_DATA, data)


def _native_client(pki: PKI, config_list: bytes) -> Any:
    context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend="native")
    context.set_ech_configs(config_list)
    return context


@contextlib.contextmanager
def _scripted_server(context: Any) -> Iterator[tuple[socket.socket, dict[str, Any]]]:
    """A client with ``context`` connecting in a thread to a loopback listener: yields the accepted socket
    (for the test to script the server) and the client's result (``version``, ``data``, ``ech``, or
    ``error``), complete once the block ends."""
    result: dict[str, Any] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def client() -> None:
            try:
                with socket.create_connection(listener.getsockname()[:2], timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname=INNER_NAME) as tls:
                        result["version"] = tls.version()
                        result["data"] = tls.recv(100)
                        status = tls.ech_status  # rtls: a property; tlsapi: a method
                        result["ech"] = status() if callable(status) else status
            except Exception as exc:  # reported to the test
                result["error"] = exc

        thread = threading.Thread(target=client)
        thread.start()
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            yield conn, result
        thread.join(10)


def _run(pki: PKI, config_list: bytes, answer: Any, context: Any = None,
         alerts: list[int | None] | None = None) -> tuple[bytes, dict[str, Any]]:
    """Connect an ECH client (``context``, default a native one) to a one-shot server on loopback;
    ``answer(server, wire)`` returns the bytes the server sends back. The alert the client sends in return,
    decrypted, is appended to ``alerts`` if given."""
    with _scripted_server(context if context is not None else _native_client(pki, config_list)) as (conn, result):
        wire = _read_record(conn)
        leaf = pki.leaf()
        server = HostileServer(leaf.chain_der, leaf.key)
        server.receive(wire)
        conn.sendall(answer(server, wire))
        reply = _read_all(conn)
    if alerts is not None:
        alerts.append(server.read_alert(reply).description)
    return wire, result


def test_accepted_ech_completes_and_the_wire_does_not_show_the_inner_name(pki: PKI) -> None:
    config_list, config, private_key = _keys()
    seen: dict[str, m.ClientHello] = {}

    def answer(server: HostileServer, wire: bytes) -> bytes:
        assert server.client_hello is not None
        outer = server.client_hello
        inner = _ech.decrypt_client_hello(outer, [(config, private_key)])
        assert inner is not None
        seen["outer"], seen["inner"] = outer, inner
        return _accept(server, inner, b"hidden hello")

    wire, result = _run(pki, config_list, answer)
    assert "error" not in result, result.get("error")
    assert result == {"version": "TLSv1.3", "data": b"hidden hello", "ech": tlsapi.ECHStatus.ACCEPTED}
    assert INNER_NAME.encode() not in wire and PUBLIC_NAME.encode() in wire
    inner_extensions, outer_extensions = dict(seen["inner"].extensions), dict(seen["outer"].extensions)
    assert m.parse_server_name(inner_extensions[m.SERVER_NAME]) == INNER_NAME
    assert m.parse_server_name(outer_extensions[m.SERVER_NAME]) == PUBLIC_NAME
    assert inner_extensions[_ech.ENCRYPTED_CLIENT_HELLO] == _ech.INNER_EXTENSION
    assert inner_extensions[m.KEY_SHARE] == outer_extensions[m.KEY_SHARE]  # restored from ech_outer_extensions
    assert m.PRE_SHARED_KEY not in outer_extensions and seen["inner"].random != seen["outer"].random


def test_rustls_client_is_accepted_by_the_native_decryption(pki: PKI) -> None:
    """An independent ECH client: rustls (rtls) seals with its own HPKE to a key from ``generate``; it
    reports ``accepted`` only if the decryption, the inner hello and the confirmation all match its own."""
    config_list, config, private_key = _keys()
    base = rtls.SSLContext(rtls.PROTOCOL_TLS_CLIENT)
    base.load_verify_locations(str(pki.ca_file))

    def answer(server: HostileServer, wire: bytes) -> bytes:
        assert server.client_hello is not None
        inner = _ech.decrypt_client_hello(server.client_hello, [(config, private_key)])
        assert inner is not None and m.parse_server_name(dict(inner.extensions)[m.SERVER_NAME]) == INNER_NAME
        return _accept(server, inner, b"hello rustls")

    wire, result = _run(pki, config_list, answer, base.set_ech_configs(config_list))
    assert "error" not in result, result.get("error")
    assert result == {"version": "TLSv1.3", "data": b"hello rustls", "ech": "accepted"}
    assert INNER_NAME.encode() not in wire and PUBLIC_NAME.encode() in wire


def _reject(server: HostileServer, extensions: m.Extensions) -> bytes:
    """Answer the outer hello (a rejection): ServerHello and the flight, EncryptedExtensions with ``extensions``."""
    hello = plain_record(HANDSHAKE, server.server_hello())
    return hello + server.protect(HANDSHAKE, b"".join(server.flight(extensions=extensions)))


def test_a_rejection_is_authenticated_for_the_public_name(pki: PKI) -> None:
    """The server answers the outer hello with a certificate for the inner name only: the client checks it
    against the public name and fails verification; no retry configurations reach the caller."""
    config_list, _config, _key = _keys()
    retry = ech.generate(PUBLIC_NAME).config_list
    _, result = _run(pki, config_list, lambda server, wire: _reject(server, [(_ech.ENCRYPTED_CLIENT_HELLO, retry)]))
    error = result.get("error")
    assert isinstance(error, tlsapi.SSLCertVerificationError), error
    assert PUBLIC_NAME in error.verify_message and not isinstance(error, tlsapi.ECHRejectedError)


@pytest.mark.parametrize(
    ("status_of_client", "extension", "alert"),
    [("grease", b"\x00\x05\xfe\x0d\x00\x01", 50), ("accepted", None, 110)],
    ids=["malformed-retry-configs-after-grease", "retry-configs-after-acceptance"],
)
def test_bad_retry_configs_get_the_right_alert(pki: PKI, status_of_client: str, extension: bytes | None,
                                               alert: int) -> None:
    """Section 6.2.1: retry_configs are checked syntactically after GREASE (decode_error); a server that
    accepted ECH may not send any (unsupported_extension)."""
    config_list, config, private_key = _keys()
    retry = extension if extension is not None else config_list
    alerts: list[int | None] = []

    def answer(server: HostileServer, wire: bytes) -> bytes:
        if status_of_client == "grease":
            return _reject(server, [(_ech.ENCRYPTED_CLIENT_HELLO, retry)])
        assert server.client_hello is not None
        inner = _ech.decrypt_client_hello(server.client_hello, [(config, private_key)])
        assert inner is not None
        server.client_hello, server.client_hello_raw = inner, inner.build()
        server_hello = server.server_hello(
            lambda hello: _ech.confirm_acceptance(hello, server.suite.hash, inner.random,
                                              Transcript(server.suite.hash, server.client_hello_raw)))
        flight = server.flight(extensions=[(_ech.ENCRYPTED_CLIENT_HELLO, retry)])
        return plain_record(HANDSHAKE, server_hello) + server.protect(HANDSHAKE, b"".join(flight))

    context = None if status_of_client == "accepted" else tlsapi.create_default_context(
        cafile=str(pki.ca_file), backend="native")
    _, result = _run(pki, config_list, answer, context, alerts)
    assert isinstance(result.get("error"), tlsapi.SSLError)
    assert alerts == [alert]


@pytest.mark.parametrize(("case", "alert"), [("short-signal", 50), ("server-hello-does-not-confirm", 47)])
def test_the_client_checks_the_hello_retry_request_signal(pki: PKI, case: str, alert: int) -> None:
    """Section 6.1.4: an encrypted_client_hello in a HelloRetryRequest is 8 bytes (decode_error); once an HRR
    accepted ECH, the ServerHello must confirm it too (section 6.1.5: illegal_parameter)."""
    config_list, config, private_key = _keys()
    with _scripted_server(_native_client(pki, config_list)) as (conn, result):
        (first_raw,) = read_plain_messages(_read_record(conn))
        outer = m.ClientHello.parse(first_raw[4:])
        inner = _ech.decrypt_client_hello(outer, [(config, private_key)])
        assert inner is not None
        retry = m.ServerHello(m.HRR_RANDOM, outer.session_id, 0x1301, [
            (m.SUPPORTED_VERSIONS, b"\x03\x04"), (m.KEY_SHARE, b"\x00\x17"),
            (_ech.ENCRYPTED_CLIENT_HELLO, bytes(7 if case == "short-signal" else 8))])
        if case != "short-signal":
            sha256 = hashes.SHA256
            transcript = Transcript(sha256, m.message_hash(hashlib.sha256(inner.build()).digest()))
            retry.extensions[-1] = (_ech.ENCRYPTED_CLIENT_HELLO,
                                    _ech.hrr_accept_confirmation(sha256, inner.random, transcript, retry))
        conn.sendall(plain_record(HANDSHAKE, retry.build()))
        if case != "short-signal":
            point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
                Encoding.X962, PublicFormat.UncompressedPoint)
            _read_record(conn)  # the second ClientHelloOuter (a change_cipher_spec may come first)
            server_hello = m.ServerHello(bytes(32), outer.session_id, 0x1301, [
                (m.SUPPORTED_VERSIONS, b"\x03\x04"), (m.KEY_SHARE, m.build_key_share_server(0x17, point))])
            conn.sendall(plain_record(HANDSHAKE, server_hello.build()))
        assert first_plain_alert(_read_all(conn)).description == alert
    assert isinstance(result.get("error"), tlsapi.SSLError)


def test_grease_ignores_a_hello_retry_request_signal(pki: PKI) -> None:
    """Section 6.2.1: after GREASE, an 8-byte encrypted_client_hello in a HelloRetryRequest is checked and
    ignored: the client answers with its second ClientHello, the GREASE extension copied unchanged."""
    context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend="native")
    with _scripted_server(context) as (conn, _result):
        (first_raw,) = read_plain_messages(_read_record(conn))
        first = m.ClientHello.parse(first_raw[4:])
        retry = m.ServerHello(m.HRR_RANDOM, first.session_id, 0x1301, [
            (m.SUPPORTED_VERSIONS, b"\x03\x04"), (m.KEY_SHARE, b"\x00\x17"),
            (_ech.ENCRYPTED_CLIENT_HELLO, os.urandom(8))])
        conn.sendall(plain_record(HANDSHAKE, retry.build()))
        conn.shutdown(socket.SHUT_WR)  # the client fails on the EOF after its second ClientHello
        wire = _read_all(conn)
    assert first_plain_alert(wire).description is None  # no alert before the second hello: nothing to abort
    (second_raw,) = [raw for raw in read_plain_messages(wire) if raw[0] == m.CLIENT_HELLO]
    second = dict(m.ClientHello.parse(second_raw[4:]).extensions)
    assert second[_ech.ENCRYPTED_CLIENT_HELLO] == dict(first.extensions)[_ech.ENCRYPTED_CLIENT_HELLO]


def test_backends_without_ech_refuse_to_report_it(pki: PKI) -> None:
    """``Connection.ech_status()`` is optional: a backend that cannot report ECH raises
    ``UnsupportedFeatureError`` (the stdlib's OpenSSL 3.0 has no ECH)."""
    context = tlsapi.create_default_context(backend="stdlib")
    connection = context.wrap_bio(tlsapi.MemoryBIO(), tlsapi.MemoryBIO(), server_hostname=INNER_NAME)
    with pytest.raises(tlsapi.UnsupportedFeatureError):
        connection.ech_status()


def _offer_and_outer() -> tuple[ech.ECHConfig, X25519PrivateKey, m.ClientHello, m.ClientHello]:
    _, config, key = _keys()
    inner = m.ClientHello(b"\x01" * 32, b"\x02" * 32, [0x1301], [
        (m.SERVER_NAME, m.build_server_name(INNER_NAME)), (m.SUPPORTED_VERSIONS, b"\x02\x03\x04"),
        (m.KEY_SHARE, b"\x00\x00"), (_ech.ENCRYPTED_CLIENT_HELLO, _ech.INNER_EXTENSION)])
    offer = _ech.offer(config, config.cipher_suites[0], inner, INNER_NAME)
    return config, key, inner, m.ClientHello.parse(offer.outer_raw[4:])


def test_decryption_restores_the_inner_hello_exactly() -> None:
    config, key, inner, outer = _offer_and_outer()
    decrypted = _ech.decrypt_client_hello(outer, [(config, key)])
    assert decrypted is not None and decrypted.build() == inner.build()


def test_a_server_without_the_key_rejects() -> None:
    config, _key, _inner, outer = _offer_and_outer()
    assert _ech.decrypt_client_hello(outer, [(config, X25519PrivateKey.generate())]) is None
    other_id = ech.ECHConfig(**{**config.__dict__, "config_id": (config.config_id + 1) % 256})
    assert _ech.decrypt_client_hello(outer, [(other_id, _key)]) is None  # keys are looked up by config_id


def test_the_outer_hello_is_padded_and_names_only_the_public_name() -> None:
    outer = _offer_and_outer()[3]
    payload_length = len(dict(outer.extensions)[_ech.ENCRYPTED_CLIENT_HELLO]) - 10 - 32  # minus header and enc
    assert (payload_length - 16) % 32 == 0  # EncodedClientHelloInner rounded up to a multiple of 32
    assert INNER_NAME.encode() not in outer.build() and PUBLIC_NAME.encode() in outer.build()


def test_a_tampered_outer_hello_is_a_rejection() -> None:
    config, key, _inner, outer = _offer_and_outer()
    outer.random = bytes(32)  # the AAD covers the whole outer hello
    assert _ech.decrypt_client_hello(outer, [(config, key)]) is None


@pytest.mark.parametrize(
    ("data", "alert"),
    [(b"", 50), (b"\x01", 47), (b"\x00\x00\x01\x00\x01\x07\x00", 50), (b"\x00\x00\x01\x00\x01\x07\x00\x00\x00\x00", 50),
     (b"\x00\x00\x01\x00\x01\x07\x00\x01\xaa\x00\x02\x01", 50)],
    ids=["empty", "inner-type", "truncated", "empty-payload", "payload-overrun"],
)
def test_malformed_outer_extensions_get_the_right_alert(data: bytes, alert: int) -> None:
    config, key, _inner, outer = _offer_and_outer()
    outer.extensions = [(t, data if t == _ech.ENCRYPTED_CLIENT_HELLO else d) for t, d in outer.extensions]
    with pytest.raises(TLSAlert) as caught:
        _ech.decrypt_client_hello(outer, [(config, key)])
    assert caught.value.description == alert


@pytest.mark.parametrize(
    ("names", "alert"),
    [(b"\x02\xfe\x0d", 47), (b"\x02\x12\x34", 47), (b"\x03\x00\x2b\x00", 50), (b"\x00", 50)],
    ids=["names-ech", "names-missing", "odd-length", "empty"],
)
def test_bad_outer_extension_references_get_the_right_alert(names: bytes, alert: int) -> None:
    _, _, inner, outer = _offer_and_outer()
    compressed = m.ClientHello(inner.random, b"", inner.cipher_suites, [(_ech.ECH_OUTER_EXTENSIONS, names)])
    with pytest.raises(TLSAlert) as caught:
        _ech._decode_inner(compressed.build()[4:], outer)
    assert caught.value.description == alert


def test_nonzero_padding_and_a_session_id_are_illegal() -> None:
    _, _, inner, outer = _offer_and_outer()
    body = m.ClientHello(inner.random, b"", inner.cipher_suites, inner.extensions).build()[4:]
    with pytest.raises(TLSAlert) as caught:
        _ech._decode_inner(body + b"\x00\x01", outer)
    assert caught.value.description == 47
    with pytest.raises(TLSAlert) as caught:
        _ech._decode_inner(inner.build()[4:], outer)  # legacy_session_id must be empty in the encoding
    assert caught.value.description == 47
    assert _ech._decode_inner(body + bytes(7), outer).build() == inner.build()


@pytest.mark.parametrize("versions", [b"\x04\x03\x04\x03\x03", None], ids=["offers-tls12", "no-versions"])
def test_an_inner_hello_that_could_negotiate_tls12_is_illegal(versions: bytes | None) -> None:
    """Section 7.1: the ClientHelloInner must not offer TLS 1.2 or below (illegal_parameter)."""
    _, _, inner, outer = _offer_and_outer()
    extensions = [(t, versions) for t, _ in inner.extensions if t == m.SUPPORTED_VERSIONS and versions] + [
        (t, d) for t, d in inner.extensions if t != m.SUPPORTED_VERSIONS]
    body = m.ClientHello(inner.random, b"", inner.cipher_suites, extensions).build()[4:]
    with pytest.raises(TLSAlert) as caught:
        _ech._decode_inner(body, outer)
    assert caught.value.description == 47


def test_set_ech_configs_refuses_what_it_cannot_use() -> None:
    config_list, config, _ = _keys()
    with pytest.raises(ValueError, match="client setting"):
        tlsapi.create_default_context(tlsapi.Purpose.CLIENT_AUTH, backend="native").set_ech_configs(
            config_list)
    client = tlsapi.create_default_context(backend="native")
    with pytest.raises(ech.ECHConfigError):
        client.set_ech_configs(config_list[:-1])
    unusable = ech.encode_ech_config_list([ech.ECHConfig(**{**config.__dict__, "kem_id": 0x10})])
    with pytest.raises(ech.ECHConfigError, match="no usable ECHConfig"):
        client.set_ech_configs(unusable)


def test_ech_never_falls_back_to_a_hello_without_it() -> None:
    """With TLS 1.3 disabled the client cannot offer ECH: it fails before sending anything."""
    context = tlsapi.create_default_context(backend="native")
    context.set_ech_configs(_keys()[0])
    context.maximum_version = tlsapi.TLSVersion.TLSv1_2
    incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname=INNER_NAME)
    with pytest.raises(tlsapi.SSLError) as caught:
        connection.do_handshake()
    assert caught.value.reason == "NO_PROTOCOLS_AVAILABLE" and outgoing.pending == 0


SERVED_NAME = "alternate.example"  # a public name the PKI's "alternate" leaf (alternate.example, localhost) names


def _native_server(pki: PKI, server_keys: list[bytes], seen: dict[str, Any], retry: bool = False) -> Any:
    """A native server context holding ``server_keys``, serving the "alternate" leaf; its SNI callback records
    the names it is asked for in ``seen["names"]``. With ``retry`` it takes only secp256r1, for which clients
    send no key share first: every handshake has a HelloRetryRequest."""
    server_context = tlsapi.create_default_context(tlsapi.Purpose.CLIENT_AUTH, backend="native")
    if retry:
        server_context.set_groups(["secp256r1"])  # type: ignore[attr-defined]
    server_context.load_cert_chain(pki["alternate"].certfile)
    if server_keys:
        server_context.set_ech_keys(server_keys)
    seen["names"] = []
    server_context.sni_callback = lambda _conn, name, _ctx: seen["names"].append(name)
    return server_context


def _native_pair(pki: PKI, server_keys: list[bytes], config_list: bytes | None,
                 client_context: Any = None, retry: bool = False) -> dict[str, Any]:
    """A native ECH client (``config_list``, or ``client_context``) and a native server (``set_ech_keys``)
    over loopback; what each side saw: statuses, errors, the reply, the SNI callback's names."""
    seen: dict[str, Any] = {}
    server_context = _native_server(pki, server_keys, seen, retry)
    if client_context is None:
        client_context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend="native")
        if config_list is not None:
            client_context.set_ech_configs(config_list)
    return {**seen, **serve_once(server_context, client_context, INNER_NAME)}


def test_native_server_accepts_the_native_client(pki: PKI) -> None:
    keys = ech.generate(PUBLIC_NAME)
    old = ech.generate(PUBLIC_NAME)  # a rotated-out key the server still holds: tried, not used
    seen = _native_pair(pki, [old.to_pem(), keys.to_pem()], keys.config_list)
    assert "client_error" not in seen and "server_error" not in seen, seen
    assert seen["reply"] == b"PING"
    assert seen["names"] == [INNER_NAME]  # the SNI callback ran on the inner hello
    assert seen["client_status"] is seen["server_status"] is tlsapi.ECHStatus.ACCEPTED


def test_a_rejected_client_gets_retry_configs_and_the_retry_succeeds(pki: PKI) -> None:
    """Section 6.1.6: a stale configuration is rejected, the handshake completes with the public name (its
    certificate verified), the client aborts with ech_required and the caller gets the server's current
    configurations; a new connection with them is accepted."""
    current = ech.generate(SERVED_NAME)
    stale = ech.generate(SERVED_NAME)  # e.g. a DNS record cached across a key rotation
    seen = _native_pair(pki, [current.to_pem()], stale.config_list)
    error = seen["client_error"]
    assert isinstance(error, tlsapi.ECHRejectedError) and isinstance(error, ssl.SSLError)
    assert (error.errno, error.library, error.reason) == (ssl.SSL_ERROR_SSL, "SSL", "ECH_REJECTED")
    assert error.retry_configs == current.config_list
    assert seen["names"] == [SERVED_NAME] and seen["server_status"] is tlsapi.ECHStatus.REJECTED
    assert "unknown alert 121" in str(seen["server_error"])  # ech_required, which OpenSSL 3.0 has no name for
    assert "reply" not in seen

    retried = _native_pair(pki, [current.to_pem()], error.retry_configs)
    assert "client_error" not in retried and retried["reply"] == b"PING", retried
    assert retried["names"] == [INNER_NAME] and retried["client_status"] is tlsapi.ECHStatus.ACCEPTED


def test_a_rejection_after_the_sni_callback_switched_contexts_sends_the_tried_keys_configs(pki: PKI) -> None:
    """The SNI callback moves the connection onto a context without ECH keys: the rejected client still gets
    the configurations of the keys that were tried (the first context's), not none."""
    current, stale = ech.generate(SERVED_NAME), ech.generate(SERVED_NAME)
    server_context = _native_server(pki, [current.to_pem()], {})
    other = _native_server(pki, [], {})

    def switch(connection: Any, name: str | None, context: Any) -> None:
        connection.context = other

    server_context.sni_callback = switch
    client_context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend="native")
    client_context.set_ech_configs(stale.config_list)
    seen = serve_once(server_context, client_context, INNER_NAME)
    error = seen["client_error"]
    assert isinstance(error, tlsapi.ECHRejectedError) and seen["server_status"] is tlsapi.ECHStatus.REJECTED
    assert error.retry_configs == current.config_list


def _rustls_to_native_server(pki: PKI, server_keys: list[bytes], config_list: bytes,
                             retry: bool = False) -> dict[str, Any]:
    """rustls (rtls) as the ECH client of a native server over loopback: what each side saw."""
    seen: dict[str, Any] = {}
    server_context = _native_server(pki, server_keys, seen, retry)
    base = rtls.SSLContext(rtls.PROTOCOL_TLS_CLIENT)
    base.load_verify_locations(str(pki.ca_file))
    return {**seen, **serve_once(server_context, base.set_ech_configs(config_list), INNER_NAME)}


@pytest.mark.parametrize("retry", [False, True], ids=["one-round-trip", "hello-retry-request"])
def test_native_server_accepts_and_rejects_rustls(pki: PKI, retry: bool) -> None:
    """An independent client: rustls is accepted with the server's key; with a stale configuration it checks
    the retry_configs (a malformed list would be a decode_error), authenticates the public name and aborts
    with ech_required, as section 6.1.6 says."""
    current = ech.generate(SERVED_NAME)
    accepted = _rustls_to_native_server(pki, [current.to_pem()], current.config_list, retry)
    assert "client_error" not in accepted and "server_error" not in accepted, accepted
    assert accepted["reply"] == b"PING" and accepted["client_status"] == "accepted"
    assert accepted["names"] == [INNER_NAME] and accepted["server_status"] is tlsapi.ECHStatus.ACCEPTED

    rejected = _rustls_to_native_server(pki, [current.to_pem()], ech.generate(SERVED_NAME).config_list, retry)
    assert "reply" not in rejected and isinstance(rejected["client_error"], rtls.SSLError), rejected
    (retry_config,) = ech.parse_ech_config_list(current.config_list)  # rustls parsed the server's retry_configs
    assert "ServerRejectedEncryptedClientHello(Some(" in str(rejected["client_error"])
    assert retry_config.public_key.hex() in str(rejected["client_error"])
    assert "unknown alert 121" in str(rejected["server_error"])  # rustls's ech_required
    assert rejected["names"] == [SERVED_NAME] and rejected["server_status"] is tlsapi.ECHStatus.REJECTED


def test_hello_retry_request_keeps_ech_between_native_peers(pki: PKI) -> None:
    """Sections 6.1.5 and 7.1.1: the server accepts in the HelloRetryRequest's extension, the client seals its
    second ClientHelloInner with the same HPKE context, the server opens it with its own; a rejection after a
    HelloRetryRequest still yields the retry configurations, and GREASE survives the retry."""
    current = ech.generate(SERVED_NAME)
    accepted = _native_pair(pki, [current.to_pem()], current.config_list, retry=True)
    assert "client_error" not in accepted and "server_error" not in accepted, accepted
    assert accepted["reply"] == b"PING" and accepted["names"] == [INNER_NAME]
    assert accepted["client_status"] is accepted["server_status"] is tlsapi.ECHStatus.ACCEPTED

    rejected = _native_pair(pki, [current.to_pem()], ech.generate(SERVED_NAME).config_list, retry=True)
    assert isinstance(rejected["client_error"], tlsapi.ECHRejectedError), rejected
    assert rejected["client_error"].retry_configs == current.config_list
    assert rejected["server_status"] is tlsapi.ECHStatus.REJECTED

    grease = _native_pair(pki, [current.to_pem()], None, retry=True)
    assert grease["reply"] == b"PING" and grease["client_status"] is tlsapi.ECHStatus.GREASE, grease


@pytest.mark.parametrize("opens", [True, False], ids=["accepted", "rejected"])
def test_a_hello_retry_request_does_not_show_whether_ech_was_accepted(pki: PKI, opens: bool) -> None:
    """Sections 7.1 and 10.10.4: the HRR carries an 8-byte encrypted_client_hello either way (the acceptance
    signal, or random bytes when no key opened the offer)."""
    keys = ech.generate(SERVED_NAME)
    server_context = _native_server(pki, [keys.to_pem()], {}, retry=True)
    offered = keys.config_list if opens else ech.generate(SERVED_NAME).config_list
    offer = craft_offer(offered, INNER_NAME, inner_extensions(INNER_NAME))
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with contextlib.suppress(tlsapi.SSLError, OSError), \
                    server_context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(listener.getsockname()[:2], timeout=10) as raw:
            raw.sendall(plain_record(HANDSHAKE, offer.outer))
            (retry_raw,) = read_plain_messages(_read_record(raw))
        thread.join(10)
    retry = m.ServerHello.parse(retry_raw[4:])
    assert retry.is_hello_retry_request and len(dict(retry.extensions)[_ech.ENCRYPTED_CLIENT_HELLO]) == 8


def test_an_unauthenticated_rejection_carries_no_retry_configs(pki: PKI) -> None:
    """Without certificate and name checks the public name is not authenticated: the retry configurations
    could be an attacker's, so the error carries none."""
    client_context = tlsapi.create_default_context(backend="native")
    client_context.check_hostname = False
    client_context.verify_mode = tlsapi.CERT_NONE
    client_context.set_ech_configs(ech.generate(SERVED_NAME).config_list)
    seen = _native_pair(pki, [ech.generate(SERVED_NAME).to_pem()], None, client_context)
    assert isinstance(seen["client_error"], tlsapi.ECHRejectedError)
    assert seen["client_error"].retry_configs is None


def test_a_rejected_client_verifies_the_public_name(pki: PKI) -> None:
    """The server's certificate does not name the public name: the rejection is not authenticated and the
    handshake fails on the certificate, never with retry configurations."""
    seen = _native_pair(pki, [ech.generate(PUBLIC_NAME).to_pem()], ech.generate(PUBLIC_NAME).config_list)
    assert isinstance(seen["client_error"], tlsapi.SSLCertVerificationError)
    assert not isinstance(seen["client_error"], tlsapi.ECHRejectedError)
    assert seen["names"] == [PUBLIC_NAME]  # the server saw only the outer hello


def _first_hello(context: Any) -> m.ClientHello:
    incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname=INNER_NAME)
    with pytest.raises(tlsapi.SSLWantReadError):
        connection.do_handshake()
    expected = "offered" if context.ech is not None else "grease" if context.ech_grease else "not_offered"
    assert connection.ech_status() is tlsapi.ECHStatus(expected)
    (raw,) = read_plain_messages(outgoing.read())
    return m.ClientHello.parse(raw[4:])


def test_the_native_client_sends_grease_ech_shaped_as_a_real_offer() -> None:
    """Section 6.2.1: without a configuration the client sends an outer encrypted_client_hello of the size a
    real offer would have (X25519 enc, payload padded to 32 bytes plus the tag); opting out sends none."""
    context = tlsapi.create_default_context(backend="native")
    assert context.ech_grease  # type: ignore[attr-defined]
    hello = _first_hello(context)
    grease = dict(hello.extensions)[_ech.ENCRYPTED_CLIENT_HELLO]
    assert grease[0] == 0 and grease[1:5] == b"\x00\x01\x00\x01" and grease[6:8] == b"\x00\x20"
    payload_length = int.from_bytes(grease[40:42], "big")
    assert len(grease) == 42 + payload_length and (payload_length - 16) % 32 == 0
    assert m.parse_server_name(dict(hello.extensions)[m.SERVER_NAME]) == INNER_NAME  # GREASE hides nothing
    assert grease != dict(_first_hello(context).extensions)[_ech.ENCRYPTED_CLIENT_HELLO]  # fresh each time
    context.minimum_version = tlsapi.TLSVersion.TLSv1_3  # the hello a real offer seals (TLS 1.3 only)
    real = tlsapi.create_default_context(backend="native")
    real.set_ech_configs(ech.generate(PUBLIC_NAME, maximum_name_length=0).config_list)
    real_offer = dict(_first_hello(real).extensions)[_ech.ENCRYPTED_CLIENT_HELLO]
    assert len(dict(_first_hello(context).extensions)[_ech.ENCRYPTED_CLIENT_HELLO]) == len(real_offer)
    context.ech_grease = False  # type: ignore[attr-defined]
    assert _ech.ENCRYPTED_CLIENT_HELLO not in dict(_first_hello(context).extensions)
    with pytest.raises(ValueError, match="client setting"):
        tlsapi.create_default_context(tlsapi.Purpose.CLIENT_AUTH, backend="native").ech_grease = False  # type: ignore[attr-defined]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 16, 45, 0x1234]), st.binary(max_size=40)), max_size=4,
                unique_by=lambda extension: extension[0]),
       st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=5))
def test_grease_is_as_long_as_the_offer_it_imitates(others: m.Extensions, suites: list[int]) -> None:
    """The GREASE payload length is counted, not built: it equals the EncodedClientHelloInner a real offer
    of the same hello seals (its last byte is the inner marker, so the zero padding strips off)."""
    _, _, inner, _ = _offer_and_outer()
    hello = m.ClientHello(inner.random, b"", suites, [
        *others, *[(t, d) for t, d in inner.extensions if t != _ech.ENCRYPTED_CLIENT_HELLO]])
    marked = m.ClientHello(hello.random, b"", suites, [*hello.extensions, (_ech.ENCRYPTED_CLIENT_HELLO,
                                                                           _ech.INNER_EXTENSION)])
    encoded = _ech._encode_inner(marked, INNER_NAME, 0)[1]
    assert _ech._encoded_inner_length(hello) == len(encoded.rstrip(b"\x00"))


@pytest.mark.parametrize("with_keys", [True, False], ids=["server-with-ech-keys", "server-without-ech"])
def test_grease_completes_with_native_servers(pki: PKI, with_keys: bool) -> None:
    """A server with ECH keys cannot open GREASE: it serves the outer hello and sends retry_configs, which the
    client checks and ignores; a server without ECH ignores the extension."""
    seen = _native_pair(pki, [ech.generate(SERVED_NAME).to_pem()] if with_keys else [], None)
    assert "client_error" not in seen and "server_error" not in seen, seen
    assert seen["reply"] == b"PING" and seen["names"] == [INNER_NAME]
    assert seen["client_status"] is tlsapi.ECHStatus.GREASE
    assert seen["server_status"] is tlsapi.ECHStatus.REJECTED  # an extension no key opened


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls13", "tls12"])
def test_grease_completes_with_openssl(pki: PKI, version: ssl.TLSVersion) -> None:
    """The stdlib's OpenSSL server ignores the GREASE extension; a TLS 1.2 answer keeps the status."""
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(pki.leaf().certfile)
    server_context.maximum_version = version
    client_context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend="native")
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(100).upper())

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(listener.getsockname()[:2], timeout=10) as raw:
            with client_context.wrap_socket(raw, server_hostname=INNER_NAME) as tls:
                tls.sendall(b"grease")
                assert tls.recv(100) == b"GREASE" and tls.ech_status() is tlsapi.ECHStatus.GREASE
        thread.join(10)


def test_native_server_with_ech_keys_still_serves_clients_without_ech(pki: PKI) -> None:
    client_context = tlsapi.create_default_context(cafile=str(pki.ca_file), backend="native")
    client_context.ech_grease = False  # type: ignore[attr-defined]
    seen = _native_pair(pki, [ech.generate(PUBLIC_NAME).to_pem()], None, client_context)
    assert seen["reply"] == b"PING" and seen["names"] == [INNER_NAME]
    assert seen["client_status"] is seen["server_status"] is tlsapi.ECHStatus.NOT_OFFERED


def test_set_ech_keys_refuses_bad_key_files(pki: PKI) -> None:
    server = tlsapi.create_default_context(tlsapi.Purpose.CLIENT_AUTH, backend="native")
    keys, other = ech.generate(PUBLIC_NAME), ech.generate(PUBLIC_NAME)
    with pytest.raises(ech.ECHConfigError, match="no private key"):
        server.set_ech_keys([ech.config_list_pem(keys.config_list)])
    with pytest.raises(ech.ECHConfigError, match="does not match"):
        server.set_ech_keys([other.private_key_pem + ech.config_list_pem(keys.config_list)])
    with pytest.raises(ValueError, match="server setting"):
        tlsapi.create_default_context(backend="native").set_ech_keys([keys.to_pem()])
    server.set_ech_keys([keys.to_pem()])
    assert [config.public_key for config, _ in server.ech_keys] == [  # type: ignore[attr-defined]
        config.public_key for config in ech.parse_ech_config_list(keys.config_list)]


_FUZZ_BASE = _offer_and_outer()


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=8))
def test_mutated_ech_extensions_only_reject_or_alert(position: int, splice: bytes) -> None:
    """Any bytes in the outer encrypted_client_hello: ``None`` (rejected) or a TLSAlert, nothing else."""
    config, key, _inner, outer = _FUZZ_BASE
    data = dict(outer.extensions)[_ech.ENCRYPTED_CLIENT_HELLO]
    position %= len(data)
    mutated = data[:position] + splice + data[position + len(splice):]
    hello = m.ClientHello(outer.random, outer.session_id, outer.cipher_suites,
                          [(t, mutated if t == _ech.ENCRYPTED_CLIENT_HELLO else d) for t, d in outer.extensions])
    try:
        result = _ech.decrypt_client_hello(hello, [(config, key)])
    except TLSAlert:
        return
    assert result is None or isinstance(result, m.ClientHello)
