"""I/O semantics: want-read / want-write (BIOs and non-blocking sockets), close_notify and unwrap both
ways, ragged EOF, large transfers with odd sizes, ``read`` into a buffer."""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
import time
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance.harness import (
    VERSIONS,
    BIOPair,
    ThreadedServer,
    check_error,
    client_context,
    recv_exactly,
    server_context,
    tls_client,
)
from tlsapi_conformance.pki import PKI

# -- want-read / want-write -----------------------------------------------------------------------------


def test_want_read_on_bio(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki))
    with pytest.raises(ssl.SSLWantReadError) as info:
        pair.client.do_handshake()
    error = check_error(info.value, "SSLWantReadError")
    assert error.errno == ssl.SSL_ERROR_WANT_READ
    assert error.args[0] == ssl.SSL_ERROR_WANT_READ
    assert pair.c_out.pending > 0, "the ClientHello is waiting in the outgoing BIO"
    with pytest.raises(ssl.SSLWantReadError):
        pair.server.do_handshake()  # nothing received yet
    pair.connect()
    with pytest.raises(ssl.SSLWantReadError) as info:
        pair.server.read(10)
    assert check_error(info.value, "SSLWantReadError").errno == ssl.SSL_ERROR_WANT_READ
    assert pair.server.pending() == 0


def test_partial_records_over_bio(backend: tlsapi.Backend, pki: PKI) -> None:
    """Ciphertext fed one byte at a time: want-read until a record is complete, then the data."""
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    pair.client.write(b"0123456789")
    wire = pair.c_out.read()
    got = b""
    for i in range(len(wire)):
        pair.s_in.write(wire[i:i + 1])
        try:
            got += pair.server.read(100)
        except ssl.SSLWantReadError:
            continue
    assert got == b"0123456789"


def test_short_reads_and_pending(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    pair.client.write(b"abcdefghij")
    pair.pump()
    assert pair.server.read(3) == b"abc"
    assert pair.server.pending() == 7
    buffer = bytearray(4)
    assert pair.server.read(4, buffer) == 4 and buffer == b"defg"
    view = memoryview(bytearray(10))
    assert pair.server.read(10, view) == 3 and bytes(view[:3]) == b"hij"
    assert pair.server.pending() == 0


def test_nonblocking_socket_handshake_and_io(backend: tlsapi.Backend, pki: PKI) -> None:
    server_ctx = server_context(backend, pki)

    def serve(raw: Any) -> None:
        time.sleep(0.1)  # the client's first do_handshake() must find nothing to read
        with server_ctx.wrap_socket(raw, server_side=True) as tls:
            time.sleep(0.05)
            tls.sendall(recv_exactly(tls, 5)[::-1])

    with ThreadedServer(serve) as server:
        raw = server.connect()
        raw.setblocking(False)
        with client_context(backend, pki).wrap_socket(raw, server_hostname="localhost",
                                                      do_handshake_on_connect=False) as tls:
            wants = set()
            deadline = time.monotonic() + 10
            while True:
                assert time.monotonic() < deadline, "non-blocking handshake did not finish"
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError as exc:
                    wants.add(check_error(exc, "SSLWantReadError").errno)
                    select.select([tls], [], [], 1)
                except ssl.SSLWantWriteError as exc:
                    wants.add(check_error(exc, "SSLWantWriteError").errno)
                    select.select([], [tls], [], 1)
            assert ssl.SSL_ERROR_WANT_READ in wants
            assert wants <= {ssl.SSL_ERROR_WANT_READ, ssl.SSL_ERROR_WANT_WRITE}
            with pytest.raises(ssl.SSLWantReadError) as info:
                tls.recv(10)  # the server waits 50 ms before answering
            assert info.value.errno == ssl.SSL_ERROR_WANT_READ
            tls.send(b"hello")
            data = b""
            while len(data) < 5:
                select.select([tls], [], [], 1)
                try:
                    data += tls.recv(10)
                except ssl.SSLWantReadError:
                    continue
            assert data == b"olleh"
        server.result()


def test_nonblocking_socket_want_write(backend: tlsapi.Backend, pki: PKI) -> None:
    """A peer that does not read: send() eventually raises SSLWantWriteError (errno WANT_WRITE)."""
    release: list[bool] = []

    def serve(tls: Any) -> None:
        deadline = time.monotonic() + 10
        while not release and time.monotonic() < deadline:
            time.sleep(0.01)

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki)) as tls:
            tls.setblocking(False)
            chunk = b"x" * 65536
            error = None
            for _ in range(2000):  # at most 128 MiB: far beyond any socket buffer
                try:
                    tls.send(chunk)
                except ssl.SSLWantWriteError as exc:
                    error = exc
                    break
                except ssl.SSLWantReadError:
                    continue
            release.append(True)
            error = check_error(error, "SSLWantWriteError")
            assert error.errno == ssl.SSL_ERROR_WANT_WRITE
        server.result()


def test_socket_timeout(backend: tlsapi.Backend, pki: PKI) -> None:
    def serve(tls: Any) -> None:
        recv_exactly(tls, 1)

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki)) as tls:
            tls.settimeout(0.2)
            with pytest.raises(TimeoutError):
                tls.recv(10)
            tls.sendall(b"x")
        server.result()


# -- closing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("closer", ["client", "server"])
@pytest.mark.parametrize("version", VERSIONS)
def test_unwrap_bio(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion, closer: str) -> None:
    pair = BIOPair(client_context(backend, pki, version=version), server_context(backend, pki)).connect()
    pair.exchange()
    first, second = (pair.client, pair.server) if closer == "client" else (pair.server, pair.client)
    with pytest.raises(ssl.SSLWantReadError):
        first.unwrap()  # close_notify sent, waiting for the peer's
    pair.pump()
    # The stdlib's SSLObject.read() returns b"" at the peer's close_notify (asyncio treats b"" as EOF and
    # an SSLZeroReturnError from read() as a fatal error).
    assert second.read(10) == b""
    second.unwrap()  # answers with its close_notify
    pair.pump()
    first.unwrap()  # now complete
    with pytest.raises(ssl.SSLError) as info:
        second.write(b"after close")
    check_error(info.value, "SSLError")


@pytest.mark.parametrize("closer", ["client", "server"])
def test_unwrap_socket(backend: tlsapi.Backend, pki: PKI, closer: str) -> None:
    def serve(tls: Any) -> bytes:
        if closer == "server":
            tls.sendall(b"bye")
            plain = tls.unwrap()
        else:
            assert tls.recv(10) == b"", "close_notify reads as b''"
            plain = tls.unwrap()
        assert isinstance(plain, socket.socket)
        plain.sendall(b"plain from server")
        return recv_exactly(plain, 16)

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        raw = server.connect()
        tls = client_context(backend, pki).wrap_socket(raw, server_hostname="localhost")
        if closer == "server":
            assert recv_exactly(tls, 3) == b"bye"
            assert tls.recv(10) == b""
        plain = tls.unwrap()
        assert isinstance(plain, socket.socket)  # the stdlib returns the same object, now plaintext
        with plain:
            assert recv_exactly(plain, 17) == b"plain from server"
            plain.sendall(b"plain from clien")
        assert server.result() == b"plain from clien"


def test_ragged_eof_bio(backend: tlsapi.Backend, pki: PKI) -> None:
    pair = BIOPair(client_context(backend, pki), server_context(backend, pki)).connect()
    pair.exchange()
    pair.s_in.write_eof()
    with pytest.raises(ssl.SSLEOFError) as info:
        pair.server.read(10)
    error = check_error(info.value, "SSLEOFError")
    assert error.reason == "UNEXPECTED_EOF_WHILE_READING", error
    assert error.errno == ssl.SSL_ERROR_EOF
    assert "UNEXPECTED_EOF_WHILE_READING" in error.strerror


@pytest.mark.parametrize("suppress", [True, False], ids=["suppress", "raise"])
def test_ragged_eof_socket(backend: tlsapi.Backend, pki: PKI, suppress: bool) -> None:
    def serve(tls: Any) -> Any:
        tls.sendall(b"x")
        try:
            return tls.recv(10)
        except ssl.SSLError as exc:
            return exc

    ctx = server_context(backend, pki)
    with ThreadedServer(serve, ctx, wrap_kwargs={"suppress_ragged_eofs": suppress}) as server:
        raw = server.connect()
        tls = client_context(backend, pki).wrap_socket(raw, server_hostname="localhost")
        assert recv_exactly(tls, 1) == b"x"
        raw_dup = socket.socket(fileno=tls.detach())  # close the TCP connection without close_notify
        raw_dup.shutdown(socket.SHUT_RDWR)
        raw_dup.close()
        outcome = server.result()
    if suppress:
        assert outcome == b""
    else:
        error = check_error(outcome if isinstance(outcome, BaseException) else None, "SSLEOFError")
        assert error.reason == "UNEXPECTED_EOF_WHILE_READING", error


def test_read_after_close_notify_returns_empty_on_socket(backend: tlsapi.Backend, pki: PKI) -> None:
    def serve(tls: Any) -> None:
        tls.sendall(b"data")
        tls.unwrap()  # waits for the client's close_notify

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki)) as tls:
            assert recv_exactly(tls, 4) == b"data"
            assert tls.recv(10) == b""
            assert tls.recv(10) == b""
            tls.unwrap()
        server.result()


# -- large transfers ---------------------------------------------------------------------------------------

_ODD_SIZES = [1, 7, 255, 16383, 16384, 16385, 65537, 100_003, 1 << 20, (1 << 20) + 17, 3 * (1 << 20) + 5]


def _payload(size: int) -> bytes:
    seed = hashlib.sha256(size.to_bytes(8, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


@pytest.mark.parametrize("version", VERSIONS)
def test_large_transfer_bio(backend: tlsapi.Backend, pki: PKI, version: ssl.TLSVersion) -> None:
    pair = BIOPair(client_context(backend, pki, version=version), server_context(backend, pki)).connect()
    for size in _ODD_SIZES:
        data = _payload(size)
        assert pair.client.write(data) == size
        pair.pump()
        got = bytearray()
        buffer = bytearray(20000)
        while True:
            try:
                n = pair.server.read(len(buffer), buffer)
            except ssl.SSLWantReadError:
                break
            assert 0 < n <= 16384, "read returns at most one record's plaintext"
            got += buffer[:n]
        assert got == data, f"size {size}: got {len(got)} bytes"


def test_large_transfer_socket(backend: tlsapi.Backend, pki: PKI) -> None:
    size = 6 * (1 << 20) + 3
    data = _payload(size)

    def serve(tls: Any) -> str:
        digest = hashlib.sha256()
        buffer = bytearray(65536)
        received = 0
        while received < size:
            n = tls.recv_into(buffer)
            if not n:
                break
            digest.update(buffer[:n])
            received += n
        tls.sendall(digest.hexdigest().encode())
        return digest.hexdigest()

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki)) as tls:
            view = memoryview(data)
            for step in (1, 1000, 16385, 70001):  # odd write sizes, then sendall for the rest
                tls.sendall(view[:step])
                view = view[step:]
            tls.sendall(view)
            answer = recv_exactly(tls, 64).decode()
        assert server.result() == answer == hashlib.sha256(data).hexdigest()


def test_makefile(backend: tlsapi.Backend, pki: PKI) -> None:
    def serve(tls: Any) -> None:
        with tls.makefile("rwb") as f:
            line = f.readline()
            f.write(line.upper())
            f.flush()

    with ThreadedServer(serve, server_context(backend, pki)) as server:
        with tls_client(server, client_context(backend, pki)) as tls, tls.makefile("rwb") as f:
            f.write(b"hello line\n")
            f.flush()
            assert f.readline() == b"HELLO LINE\n"
        server.result()
