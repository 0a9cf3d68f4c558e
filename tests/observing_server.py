"""An HTTPS server on loopback that records, for each connection, what the client's engine put on the wire.

The record is the ClientHello's engine fingerprint: cipher suites, supported groups, signature algorithms
and key-share groups, in the client's order. Applications do not choose these (they set ALPN, SNI, tickets
and trust), the engines do, and each backend's differ, so the peer sees which backend the client ran.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import available_backends

import tlsapi
from tlsapi_conformance.pki import PKI

BODY = b"hello over tls\n"

SUPPORTED_GROUPS = 10
SIGNATURE_ALGORITHMS = 13
KEY_SHARE = 51


@dataclass(frozen=True)
class EngineFingerprint:
    """The parts of a ClientHello that the TLS engine decides."""

    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    key_share_groups: tuple[int, ...]


def _u16_list(data: bytes) -> tuple[int, ...]:
    return struct.unpack(f"!{len(data) // 2}H", data)


def parse_client_hello(record: bytes) -> EngineFingerprint:
    """The engine fingerprint of a TLS record holding a whole ClientHello."""
    if record[0] != 22 or record[5] != 1:
        raise ValueError("not a ClientHello record")
    body = record[9:]
    offset = 2 + 32
    offset += 1 + body[offset]  # legacy session id
    (suites_length,) = struct.unpack_from("!H", body, offset)
    suites = _u16_list(body[offset + 2:offset + 2 + suites_length])
    offset += 2 + suites_length
    offset += 1 + body[offset]  # compression methods
    (extensions_length,) = struct.unpack_from("!H", body, offset)
    offset += 2
    end = offset + extensions_length
    extensions: dict[int, bytes] = {}
    while offset < end:
        kind, length = struct.unpack_from("!HH", body, offset)
        extensions[kind] = body[offset + 4:offset + 4 + length]
        offset += 4 + length
    shares = extensions.get(KEY_SHARE, b"\x00\x00")[2:]
    share_groups = []
    while shares:
        group, length = struct.unpack_from("!HH", shares)
        share_groups.append(group)
        shares = shares[4 + length:]
    return EngineFingerprint(
        suites,
        _u16_list(extensions.get(SUPPORTED_GROUPS, b"\x00\x00")[2:]),
        _u16_list(extensions.get(SIGNATURE_ALGORITHMS, b"\x00\x00")[2:]),
        tuple(share_groups),
    )


def _peek_client_hello(raw: socket.socket) -> bytes:
    raw.settimeout(10)
    deadline = time.monotonic() + 10
    while True:
        data = raw.recv(1 << 16, socket.MSG_PEEK)
        if not data:
            raise ConnectionError("closed before a ClientHello")
        if len(data) >= 5 and len(data) >= 5 + struct.unpack_from("!H", data, 3)[0]:
            return data
        if time.monotonic() > deadline:
            raise TimeoutError("incomplete ClientHello")
        time.sleep(0.005)


class ClientNameHandler(http.server.BaseHTTPRequestHandler):
    """Answers ``BODY``, or the common name of the client's certificate when it sent one."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        peer = self.connection.getpeercert()  # type: ignore[attr-defined]
        body = dict(item for rdn in peer["subject"] for item in rdn)["commonName"].encode() if peer else BODY
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ObservingServer(http.server.ThreadingHTTPServer):
    """HTTP/1.1 behind the stdlib's TLS; ``fingerprints`` lists each connection's ClientHello fingerprint.

    With ``client_ca``, clients must present a certificate issued under it.
    """

    daemon_threads = True

    def __init__(self, certfile: str, client_ca: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), ClientNameHandler)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(certfile)
        if client_ca is not None:
            self.tls.verify_mode = ssl.CERT_REQUIRED
            self.tls.load_verify_locations(client_ca)
        self.tls.set_alpn_protocols(["http/1.1"])
        self.fingerprints: list[EngineFingerprint] = []

    def get_request(self) -> tuple[socket.socket, Any]:
        raw, address = self.socket.accept()
        try:
            self.fingerprints.append(parse_client_hello(_peek_client_hello(raw)))
            return self.tls.wrap_socket(raw, server_side=True), address
        except BaseException:
            raw.close()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gives up (a verification failure under test) is not the server's error

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"https://localhost:{self.port}{path}"


@contextmanager
def observing_server(certfile: str, client_ca: str | None = None) -> Iterator[ObservingServer]:
    """An :class:`ObservingServer` serving in a thread for the duration of the block."""
    server = ObservingServer(certfile, client_ca)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def reference_fingerprint(server: ObservingServer, backend: str, cafile: str) -> EngineFingerprint:
    """The fingerprint of ``backend``, from a request made with a tlsapi context of that backend."""
    import http.client

    context = tlsapi.create_default_context(cafile=cafile, backend=backend)
    connection = http.client.HTTPSConnection("localhost", server.port, context=context, timeout=10)
    try:
        connection.request("GET", "/reference")
        assert connection.getresponse().read() == BODY
    finally:
        connection.close()
    return server.fingerprints[-1]


@pytest.fixture(scope="module")
def observer(pki: PKI) -> Iterator[ObservingServer]:
    """An :class:`ObservingServer` with the suite's default leaf, one per test module."""
    with observing_server(str(pki.leaf().certfile)) as running:
        yield running


@pytest.fixture(scope="module")
def backend_fingerprints(observer: ObservingServer, pki: PKI) -> dict[str, EngineFingerprint]:
    """Each available backend's engine fingerprint, as ``observer`` saw it from a tlsapi context of it."""
    return {name: reference_fingerprint(observer, name, str(pki.ca_file)) for name in available_backends()}
