"""Encrypted Client Hello (capability ``ECH``): ``Context.set_ech_configs(ECHConfigList)`` on client contexts."""

from __future__ import annotations

import ssl

import pytest

import tlsapi
from tlsapi.spi import peek_client_hello
from tlsapi_conformance.ech import ENCRYPTED_CLIENT_HELLO, ech_config_list

Capability = tlsapi.Capability


def _first_flight(backend: tlsapi.Backend, server_hostname: str) -> tuple[bytes, tlsapi.Connection]:
    client = tlsapi.Context(ssl.PROTOCOL_TLS_CLIENT, backend=backend)
    client.set_ech_configs(ech_config_list("public.example"))  # type: ignore[attr-defined]
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
        server.set_ech_configs(ech_config_list("public.example"))  # type: ignore[attr-defined]
