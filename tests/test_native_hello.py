"""The native engine's seam: the hello module hands over to one version's state machine, a handshake returns
its successor and its effects, and the connection applies them (ending with a frozen ``Negotiated``)."""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
from typing import Any

import pytest
from test_native_engine import Pair, client_context, server_context

from tlsapi_native import _messages as m
from tlsapi_native._client import ClientHandshake
from tlsapi_native._client12 import ClientHandshake12
from tlsapi_native._effects import Complete, Effects, InstallWrite, Negotiated, Send
from tlsapi_native._hello import AwaitClientHello, AwaitServerHello
from tlsapi_native._record import HANDSHAKE, HandshakeBuffer
from tlsapi_native._server import ServerHandshake
from tlsapi_native._server12 import ServerHandshake12
from tlsapi_native._traffic import Traffic12, Traffic13


def _client_hello_message(maximum: ssl.TLSVersion) -> tuple[int, bytes]:
    """The first handshake message a native client sends, as ``(type, raw)``."""
    client = client_context()
    client.maximum_version = maximum
    start = AwaitServerHello(None, client, client.settings(), Effects(), "localhost")
    (send,) = start.start(None)
    assert isinstance(send, Send) and send.content_type == HANDSHAKE
    buffer = HandshakeBuffer()
    buffer.feed(send.data)
    message = buffer.pop()
    assert message is not None and message[0] == m.CLIENT_HELLO
    return message


@pytest.mark.parametrize(("maximum", "machine"), [(ssl.TLSVersion.TLSv1_3, ServerHandshake),
                                                  (ssl.TLSVersion.TLSv1_2, ServerHandshake12)])
def test_the_server_hello_module_hands_over_to_one_state_machine(maximum: ssl.TLSVersion, machine: type) -> None:
    server = server_context().wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    stage = server._handshake
    assert type(stage) is AwaitClientHello
    successor, effects = stage.handle(*_client_hello_message(maximum))
    assert type(successor) is machine
    assert isinstance(effects[0], Send) and effects[0].data[0] == m.SERVER_HELLO
    # TLS 1.3 keys its flight at once; TLS 1.2 sends it in the clear and keys after ChangeCipherSpec
    assert any(isinstance(effect, InstallWrite) for effect in effects) == (machine is ServerHandshake)
    assert server._records.write_protection is None  # the handshake applied nothing itself
    assert not any(isinstance(effect, Complete) for effect in effects)


@pytest.mark.parametrize(("maximum", "machine"), [(ssl.TLSVersion.TLSv1_3, ClientHandshake),
                                                  (ssl.TLSVersion.TLSv1_2, ClientHandshake12)])
def test_the_client_hello_module_hands_over_on_the_server_hello(maximum: ssl.TLSVersion, machine: type) -> None:
    server = server_context()
    server.maximum_version = maximum
    pair = Pair(client_context(), server)
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    assert type(pair.client._handshake) is AwaitServerHello
    pair.flush()
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.do_handshake()
    pair.flush()
    with contextlib.suppress(ssl.SSLWantReadError):  # a TLS 1.3 client completes here, a TLS 1.2 one waits
        pair.client.do_handshake()
    assert type(pair.client._handshake) is machine


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_the_sni_callback_runs_once_per_handshake(maximum: ssl.TLSVersion) -> None:
    calls: list[str | None] = []
    server = server_context()
    server.maximum_version = maximum
    server.sni_callback = lambda connection, name, context: calls.append(name)
    assert Pair(client_context(), server).handshake() == {}
    assert calls == ["localhost"]


def test_a_completed_handshake_is_a_frozen_negotiated_result() -> None:
    pair = Pair(client_context(), server_context())
    assert pair.handshake() == {}
    for connection in (pair.client, pair.server):
        negotiated: Any = connection.negotiated
        assert isinstance(negotiated, Negotiated)
        assert (negotiated.version_name, negotiated.suite.name) == (connection.version(), connection.cipher()[0])
        with pytest.raises(dataclasses.FrozenInstanceError):
            negotiated.alpn = b"h2"
    assert pair.client.negotiated.peer_chain == tuple(pair.client.get_unverified_chain())


def test_handshake_data_across_a_key_change_is_refused_where_effects_are_applied() -> None:
    pair = Pair(client_context(), server_context())
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.do_handshake()
    record = pair.c_out.read()
    # the ClientHello followed, in the same record, by the start of another handshake message: the server's
    # effects install the client's handshake key while those bytes are still buffered
    body = record[5:] + b"\x14\x00\x00"
    pair.s_in.write(bytes((22, 3, 3)) + len(body).to_bytes(2, "big") + body)
    with pytest.raises(ssl.SSLError) as info:
        pair.server.do_handshake()
    assert info.value.reason == "NOT_ON_RECORD_BOUNDARY"


@pytest.mark.parametrize(("maximum", "traffic"), [(ssl.TLSVersion.TLSv1_3, Traffic13),
                                                  (ssl.TLSVersion.TLSv1_2, Traffic12)])
def test_after_the_handshake_the_connection_holds_the_versions_traffic_object(
        maximum: ssl.TLSVersion, traffic: type) -> None:
    client = client_context()
    client.maximum_version = maximum
    pair = Pair(client, server_context())
    with pytest.raises(ValueError):
        pair.client.traffic  # noqa: B018 - nothing before the handshake completes
    assert pair.handshake() == {}
    for connection in (pair.client, pair.server):
        assert type(connection.traffic) is traffic
        assert connection.traffic.interleaving_allowed == (traffic is Traffic12)
    if traffic is Traffic12:
        with pytest.raises(ValueError):
            pair.client.key_update()
    else:
        before = pair.client.traffic.write_secret
        pair.client.key_update(request_peer=True)
        pair.roundtrip()
        assert pair.client.traffic.write_secret != before
        assert pair.server.traffic.read_secret == pair.client.traffic.write_secret
