"""rtls used directly, without the tlsapi adapter, to measure what the adapter costs.

Two ways: rtls's own ``SSLContext.wrap_bio`` objects driven by the bench's usual BIO pump (what a user of
rtls alone runs), and its sans-IO rustls connections pumped by hand with the engine calls the rustls backend
makes (``read_tls``, ``process_new_packets``, ``write_tls``, ``read_plaintext``, ``write_plaintext``), a floor
with no ``SSLObject`` layer at all.
"""

from __future__ import annotations

import ssl
from typing import Any

import tlsapi
from tlsapi_conformance.pki import PKI

from .cases import CHUNK, Work


def _builders(pki: PKI) -> tuple[Any, Any]:
    from rtls import _rustls

    client = _rustls.RustlsConfigBuilder()
    client.add_root_certs_from_pem(pki.ca_file.read_bytes())
    client.set_verify_mode(2)
    client.set_check_hostname(True)
    server = _rustls.RustlsConfigBuilder()
    leaf = pki.leaf("ecdsa-p256")
    server.set_server_cert_chain_pem(leaf.leaf_file.read_bytes() + leaf.chain_file.read_bytes(),
                                     leaf.keyfile.read_bytes())
    server.set_verify_mode(0)
    return client, server


def _move(source: Any, destination: Any) -> None:
    while source.wants_write():
        data = source.write_tls()
        if not data:
            break
        while data:  # read_tls takes what its buffer holds, one record at least
            data = data[destination.read_tls(data):]
            destination.process_new_packets()


def _handshake(client_builder: Any, server_builder: Any) -> tuple[Any, Any]:
    client = client_builder.build_client_connection("localhost")
    server = server_builder.build_server_connection()
    while client.is_handshaking() or server.is_handshaking():
        _move(client, server)
        _move(server, client)
    return client, server


def full_handshake(pki: PKI) -> Work:
    client_builder, server_builder = _builders(pki)

    def work() -> int:
        _handshake(client_builder, server_builder)
        return 1

    return work


def bulk(pki: PKI, megabytes: int = 4) -> Work:
    client, server = _handshake(*_builders(pki))
    payload = b"\x5a" * CHUNK
    count = megabytes * 1024 * 1024 // CHUNK

    def work() -> int:
        for _ in range(count):
            client.write_plaintext(payload)
            _move(client, server)
            received = 0
            while received < CHUNK:
                received += len(server.read_plaintext(CHUNK))
        return count * CHUNK

    return work


def _api_contexts(pki: PKI) -> tuple[Any, Any]:
    import rtls

    client = rtls.SSLContext(rtls.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cafile=str(pki.ca_file))
    server = rtls.SSLContext(rtls.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(pki.leaf("ecdsa-p256").certfile))
    return client, server


def _api_link(client_context: Any, server_context: Any) -> tuple[Any, Any, list[Any]]:
    """rtls's own ``wrap_bio`` objects joined by memory BIOs, handshaken with the bench's usual pump."""
    bios = [tlsapi.MemoryBIO() for _ in range(4)]
    c_in, c_out, s_in, s_out = bios
    client = client_context.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_context.wrap_bio(s_in, s_out, server_side=True)
    client_done = server_done = False
    while not (client_done and server_done):
        client_done = client_done or _handshake_step(client)
        s_in.write(c_out.read())
        server_done = server_done or _handshake_step(server)
        c_in.write(s_out.read())
    return client, server, bios


def _handshake_step(connection: Any) -> bool:
    """One ``do_handshake`` call: whether the handshake is complete."""
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def api_full_handshake(pki: PKI) -> Work:
    """rtls's ``SSLContext.wrap_bio`` (its ``SSLObject`` replacement), as a user of rtls alone drives it."""
    contexts = _api_contexts(pki)

    def work() -> int:
        _api_link(*contexts)
        return 1

    return work


def api_bulk(pki: PKI, megabytes: int = 4) -> Work:
    client, server, (_, c_out, s_in, _) = _api_link(*_api_contexts(pki))
    payload = b"\x5a" * CHUNK
    buffer = bytearray(CHUNK)
    count = megabytes * 1024 * 1024 // CHUNK

    def work() -> int:
        for _ in range(count):
            client.write(payload)
            s_in.write(c_out.read())
            received = 0
            while received < CHUNK:
                received += server.read(CHUNK, buffer)
        return count * CHUNK

    return work
