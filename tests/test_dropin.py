"""A tlsapi context is a drop-in ``ssl.SSLContext`` for real consumers, over every installed backend.

Each consumer runs unchanged against a local HTTPS server on 127.0.0.1: http.client, urllib.request,
urllib3, requests (through :class:`tlsapi.integrations.RequestsAdapter`), httpx with HTTP/2, asyncio
(``create_connection``, ``start_server``, ``start_tls``), aiohttp and anyio; and consumers that drive the
socket non-blocking or with ``select()``: tornado (server and client, large bodies both ways), websockets
(asyncio and threaded, client and server), trio's ``SSLStream`` with ``unwrap()``, and curl and wget against
a ``wrap_socket`` server at TLS 1.3 and TLS 1.2.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import backends_keeping_trailing_bytes

import tlsapi
from tlsapi_conformance.pki import PKI

BODY = b"hello over tls\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("X-Path", self.path)
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(pki: PKI) -> Iterator[tuple[str, int]]:
    """An HTTP/1.1 server on 127.0.0.1 behind the stdlib's TLS (the reference peer)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.leaf().certfile)
    context.set_alpn_protocols(["http/1.1"])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "localhost", server.server_address[1]
    server.shutdown()
    server.server_close()


def _client(backend: tlsapi.Backend, pki: PKI) -> tlsapi.Context:
    return tlsapi.create_default_context(cafile=str(pki.ca_file), backend=backend)


def test_http_client(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    connection = http.client.HTTPSConnection(*https_server, context=_client(backend, pki), timeout=10)
    try:
        connection.request("GET", "/http.client")
        response = connection.getresponse()
        assert response.status == 200 and response.read() == BODY
        connection.request("GET", "/again")  # keep-alive: a second request on the same TLS socket
        assert connection.getresponse().read() == BODY
        assert isinstance(connection.sock, tlsapi.TLSSocket) and isinstance(connection.sock, ssl.SSLSocket)
    finally:
        connection.close()


def test_urllib_request(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    host, port = https_server
    with urllib.request.urlopen(f"https://{host}:{port}/urllib", context=_client(backend, pki), timeout=10) as r:
        assert r.read() == BODY


def test_verification_failure_reaches_consumer(backend: tlsapi.Backend, https_server: tuple[str, int]) -> None:
    context = tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend)  # trusts nothing
    connection = http.client.HTTPSConnection(*https_server, context=context, timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        connection.request("GET", "/")
    assert isinstance(info.value, tlsapi.SSLCertVerificationError)
    assert info.value.verify_code == 20 and info.value.reason == "CERTIFICATE_VERIFY_FAILED"
    connection.close()


def test_urllib3(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    import urllib3

    host, port = https_server
    with urllib3.PoolManager(ssl_context=_client(backend, pki)) as pool:
        for _ in range(2):
            response = pool.request("GET", f"https://{host}:{port}/urllib3", timeout=10, retries=False)
            assert response.status == 200 and response.data == BODY


def test_requests_adapter(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    import requests

    from tlsapi.integrations import RequestsAdapter

    host, port = https_server
    with requests.Session() as session:
        session.mount("https://", RequestsAdapter(_client(backend, pki)))
        response = session.get(f"https://{host}:{port}/requests", timeout=10)
        assert response.status_code == 200 and response.content == BODY
        # The adapter's context decides verification: a context trusting nothing fails.
        session.mount("https://", RequestsAdapter(tlsapi.Context(tlsapi.PROTOCOL_TLS_CLIENT, backend=backend)))
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://{host}:{port}/requests", timeout=10)


def test_asyncio_client(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    host, port = https_server

    async def main() -> bytes:
        reader, writer = await asyncio.open_connection(host, port, ssl=_client(backend, pki))
        writer.write(f"GET /asyncio HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
        assert isinstance(writer.get_extra_info("ssl_object"), tlsapi.Connection)
        writer.close()
        await writer.wait_closed()
        return data

    response = asyncio.run(main())
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(BODY)


def test_asyncio_server_and_start_tls(backend: tlsapi.Backend, pki: PKI) -> None:
    """A tlsapi server context in ``asyncio.start_server``; a STARTTLS upgrade with ``loop.start_tls``."""
    server_context = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    server_context.load_cert_chain(pki.leaf().certfile)
    reference_client = ssl.create_default_context(cafile=str(pki.ca_file))

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        if line == b"STARTTLS\n":
            writer.write(b"GO\n")
            await writer.drain()
            await writer.start_tls(server_context)
            line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    async def main() -> tuple[bytes, bytes]:
        tls_server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
        plain_server = await asyncio.start_server(echo, "127.0.0.1", 0)
        tls_port = tls_server.sockets[0].getsockname()[1]
        plain_port = plain_server.sockets[0].getsockname()[1]
        async with tls_server, plain_server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", tls_port, ssl=reference_client, server_hostname="localhost")
            writer.write(b"direct tls\n")
            direct = await reader.readline()
            writer.close()
            # STARTTLS with a tlsapi *client* context too: loop.start_tls checks isinstance(ssl.SSLContext).
            reader, writer = await asyncio.open_connection("127.0.0.1", plain_port)
            writer.write(b"STARTTLS\n")
            assert await reader.readline() == b"GO\n"
            await writer.start_tls(_client(backend, pki), server_hostname="localhost")
            writer.write(b"upgraded\n")
            upgraded = await reader.readline()
            writer.close()
            return direct, upgraded

    assert asyncio.run(main()) == (b"DIRECT TLS\n", b"UPGRADED\n")


def test_aiohttp_client(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    host, port = https_server

    async def main() -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.get(
            f"https://{host}:{port}/aiohttp", ssl=_client(backend, pki)
        ) as response:
            return response.status, await response.read()

    assert asyncio.run(main()) == (200, BODY)


def test_anyio_tls_stream(backend: tlsapi.Backend, pki: PKI, https_server: tuple[str, int]) -> None:
    """anyio wraps with positional arguments and a bytes hostname, with stdlib MemoryBIOs."""
    import anyio
    from anyio.streams.tls import TLSStream

    host, port = https_server

    async def main() -> bytes:
        stream = await anyio.connect_tcp(host, port)
        # The reference server closes without close_notify (as HTTP servers do): HTTPS-compatible mode.
        tls = await TLSStream.wrap(stream, hostname=host, ssl_context=_client(backend, pki),
                                   standard_compatible=False)
        await tls.send(f"GET /anyio HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        try:
            while True:
                data += await tls.receive()
        except anyio.EndOfStream:
            pass
        await tls.aclose()
        return data

    assert anyio.run(main).endswith(BODY)


# -- httpx with HTTP/2: httpcore negotiates h2 only over an ssl.SSLSocket whose _sslobj reports it ------


def _serve_h2(listener: socket.socket, context: ssl.SSLContext) -> None:
    import h2.config
    import h2.connection
    import h2.events

    raw, _ = listener.accept()
    with context.wrap_socket(raw, server_side=True) as tls:
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        connection.initiate_connection()
        tls.sendall(connection.data_to_send())
        while True:
            data = tls.recv(65536)
            if not data:
                return
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    connection.send_headers(event.stream_id, [(":status", "200"),
                                                              ("content-length", str(len(BODY)))])
                    connection.send_data(event.stream_id, BODY, end_stream=True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            tls.sendall(connection.data_to_send())


def test_httpx_http2(backend: tlsapi.Backend, pki: PKI) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("h2")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.leaf().certfile)
    server_context.set_alpn_protocols(["h2"])
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        port = listener.getsockname()[1]
        thread = threading.Thread(target=_serve_h2, args=(listener, server_context), daemon=True)
        thread.start()
        with httpx.Client(verify=_client(backend, pki), http2=True, timeout=10) as client:
            response = client.get(f"https://localhost:{port}/h2")
        thread.join(10)
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200 and response.content == BODY


# -- consumers that drive TLSSocket non-blocking or with select(), and trio's SSLStream -------------------------

LARGE = 4 * 1024 * 1024  # bodies and messages large enough to fill the kernel's buffers many times over


def _server_context(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion | None = None) -> tlsapi.Context:
    context = tlsapi.Context(tlsapi.PROTOCOL_TLS_SERVER, backend=backend)
    context.load_cert_chain(pki.leaf().certfile)
    if version is not None:
        context.minimum_version = context.maximum_version = version
    return context


def test_tornado_server_and_client_large_bodies(backend: tlsapi.Backend, pki: PKI) -> None:
    """tornado's ``HTTPServer`` with a tlsapi context and ``AsyncHTTPClient``: large bodies both ways, exact."""
    import tornado.httpclient
    import tornado.httpserver
    import tornado.netutil
    import tornado.web

    upload, download = os.urandom(LARGE), os.urandom(LARGE)

    class Handler(tornado.web.RequestHandler):
        def post(self) -> None:
            self.set_header("X-Upload-SHA256", hashlib.sha256(self.request.body).hexdigest())
            self.write(download)

    async def main() -> tornado.httpclient.HTTPResponse:
        server = tornado.httpserver.HTTPServer(tornado.web.Application([("/", Handler)]),
                                               ssl_options=_server_context(backend, pki))
        (listener,) = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets([listener])
        try:
            client = tornado.httpclient.AsyncHTTPClient(force_instance=True)
            response = await client.fetch(
                f"https://localhost:{listener.getsockname()[1]}/", method="POST", body=upload,
                headers={"Content-Type": "application/octet-stream"}, ssl_options=_client(backend, pki),
                request_timeout=120,
            )
            client.close()
            return response
        finally:
            server.stop()
            await server.close_all_connections()

    response = asyncio.run(main())
    assert response.headers["X-Upload-SHA256"] == hashlib.sha256(upload).hexdigest()
    assert response.body == download


def test_websockets_asyncio_echo(backend: tlsapi.Backend, pki: PKI) -> None:
    """websockets' asyncio server and client with tlsapi contexts: a 1 MiB message echoed exactly."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    message = os.urandom(1024 * 1024)

    async def echo(websocket: ServerConnection) -> None:
        async for received in websocket:
            await websocket.send(received)

    async def main() -> Any:
        async with serve(echo, "127.0.0.1", 0, ssl=_server_context(backend, pki), max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"wss://localhost:{port}", ssl=_client(backend, pki), max_size=None) as websocket:
                await websocket.send(message)
                return await websocket.recv()

    assert asyncio.run(main()) == message


def test_websockets_sync_echo(backend: tlsapi.Backend, pki: PKI) -> None:
    """websockets' threaded (select-based) server and client over TLSSocket: a 1 MiB message echoed exactly."""
    from websockets.sync.client import connect
    from websockets.sync.server import ServerConnection, serve

    message = os.urandom(1024 * 1024)

    def echo(websocket: ServerConnection) -> None:
        for received in websocket:
            websocket.send(received)

    # Both ends get 30 s for the TLS and HTTP handshakes. The server's default is 10 s; on a loaded machine
    # this test has failed with the client reading EOF instead of the HTTP response, which is what a server
    # giving up on its opening handshake produces.
    with serve(echo, "127.0.0.1", 0, ssl=_server_context(backend, pki), max_size=None, open_timeout=30) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.socket.getsockname()[1]
            with connect(f"wss://localhost:{port}", ssl=_client(backend, pki), max_size=None,
                         open_timeout=30) as websocket:
                websocket.send(message)
                assert websocket.recv(timeout=60) == message
        finally:
            server.shutdown()
            thread.join(30)


@pytest.mark.parametrize("backend", backends_keeping_trailing_bytes(), indirect=True)
def test_trio_ssl_stream_and_unwrap(backend: tlsapi.Backend, pki: PKI) -> None:
    """trio's ``SSLStream`` (memory BIOs) against the stdlib: data both ways, then ``unwrap()`` returns the
    plaintext that arrived with the server's close_notify (a STARTTLS-style downgrade)."""
    import trio  # type: ignore[import-untyped]

    from tlsapi_conformance.wire import HandPump

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.leaf().certfile)
    errors: list[BaseException] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        try:
            raw, _ = listener.accept()
            with raw:
                raw.settimeout(30)
                pump = HandPump(raw, server_context, server_side=True)
                pump.run(pump.tls.do_handshake)
                request = pump.run(lambda: pump.tls.read(100))
                pump.tls.write(request.upper())
                pump.flush()
                pump.receive_close_notify()
                pump.tls.unwrap()
                pump.flush(b"plaintext after TLS")  # the close_notify and the plaintext in one segment
                assert raw.recv(100) == b"bye"
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main() -> tuple[bytes, bytes]:
        transport = await trio.open_tcp_stream("127.0.0.1", listener.getsockname()[1])
        stream = trio.SSLStream(transport, _client(backend, pki), server_hostname="localhost")
        await stream.send_all(b"hello")
        answer = await stream.receive_some(100)
        plain, trailing = await stream.unwrap()
        await plain.send_all(b"bye")
        await plain.aclose()
        return answer, trailing

    try:
        answer, trailing = trio.run(main)
    finally:
        thread.join(30)
        listener.close()
    if errors:
        raise errors[0]
    assert answer == b"HELLO"
    assert trailing == b"plaintext after TLS"


@contextmanager
def _wrap_socket_http_server(context: tlsapi.Context) -> Iterator[int]:
    """An HTTP/1.1 server behind ``context.wrap_socket`` (TLSSocket), on 127.0.0.1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


COMMAND_LINE_CLIENTS = {
    "curl": lambda ca, url, tls13: ["curl", "--silent", "--show-error", "--cacert", ca, "--max-time", "30",
                                    *(["--tlsv1.3"] if tls13 else ["--tlsv1.2", "--tls-max", "1.2"]), url],
    "wget": lambda ca, url, tls13: ["wget", "--quiet", "--output-document=-", f"--ca-certificate={ca}",
                                    "--timeout=30", "--tries=1",
                                    f"--secure-protocol={'TLSv1_3' if tls13 else 'TLSv1_2'}", url],
}


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["TLSv1.3", "TLSv1.2"])
@pytest.mark.parametrize("program", sorted(COMMAND_LINE_CLIENTS))
def test_command_line_clients(backend: tlsapi.Backend, pki: PKI, program: str, version: ssl.TLSVersion) -> None:
    """curl and wget fetch from a ``wrap_socket`` server pinned to TLS 1.3 or TLS 1.2."""
    if shutil.which(program) is None:
        pytest.fail(f"{program} is not installed")
    with _wrap_socket_http_server(_server_context(backend, pki, version)) as port:
        command = COMMAND_LINE_CLIENTS[program](str(pki.ca_file), f"https://localhost:{port}/x",
                                                version == ssl.TLSVersion.TLSv1_3)
        done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == BODY
