"""The benchmark cases: each returns a function that does one unit of work and the unit's size.

Over memory BIOs both ends run in this process, pumped in one thread. Over loopback sockets, the handshake
case runs the server end in a thread (both ends pay the same GIL hand-offs for every backend).

The socket bulk cases measure what the socket layer costs. The server end runs in a forked process, so
this process only does the client's work and no GIL hand-off between the ends is counted; and the rate is
per second of this process's CPU time (user + system), so a slower server, which only makes the client
wait, does not change it. ``bulk_socket`` sends through ``TLSSocket.sendall``; ``bulk_socket_pump`` sends
the same data with the backend's Connection over memory BIOs and a minimal loop of ``socket.sendall``:
the same encryption and the same system calls without the socket layer. Their ratio is the overhead of
``TLSSocket``. (An in-memory BIO transfer is no reference for a socket one: there the client encrypts and
the server decrypts in one thread with no system call; the kernel's copy through a loopback socket alone
costs about as much as the encryption.)
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import socket
import ssl
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tlsapi
from tlsapi_conformance.pki import PKI

Work = Callable[[], int]  # does one unit of work, returns how many units (handshakes or bytes) it did


@dataclass(frozen=True)
class Pair:
    """A client and a server backend, a server key type and a key-exchange group."""

    client: str
    server: str
    leaf: str = "ecdsa-p256"
    group: str | None = None
    version: ssl.TLSVersion | None = None

    @property
    def label(self) -> str:
        ends = self.client if self.client == self.server else f"{self.client}->{self.server}"
        parts = [ends, self.leaf]
        if self.group:
            parts.append(self.group)
        if self.version:
            parts.append(self.version.name)
        return " ".join(parts)


PLAIN_SSL = "ssl"  # not a tlsapi backend: plain ``ssl.SSLContext``, what the stdlib backend's overhead is over


def new_context(protocol: ssl._SSLMethod, backend: str) -> ssl.SSLContext:
    """A context of tlsapi backend ``backend``, or a plain ``ssl.SSLContext`` for ``PLAIN_SSL``."""
    return ssl.SSLContext(protocol) if backend == PLAIN_SSL else tlsapi.Context(protocol, backend=backend)


def contexts(pair: Pair, pki: PKI, *, suite: str | None = None) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A verifying client context (chain and hostname) and a server context for ``pair``."""
    client = new_context(tlsapi.PROTOCOL_TLS_CLIENT, pair.client)
    client.load_verify_locations(pki.ca_file)
    server = new_context(tlsapi.PROTOCOL_TLS_SERVER, pair.server)
    server.load_cert_chain(pki.leaf(pair.leaf).certfile)
    if pair.group:
        for context in (client, server):
            context.set_groups([pair.group])  # type: ignore[attr-defined]
    if pair.version:
        for context in (client, server):
            context.minimum_version = context.maximum_version = pair.version
    if suite:
        server.set_ciphers(suite)
    return client, server


class BIOLink:
    """A client and a server connection joined by memory BIOs, with a lean pump."""

    def __init__(self, client: ssl.SSLContext, server: ssl.SSLContext, session: Any = None) -> None:
        self.c_in, self.c_out, self.s_in, self.s_out = (tlsapi.MemoryBIO() for _ in range(4))
        self.client = client.wrap_bio(self.c_in, self.c_out, server_hostname="localhost", session=session)
        self.server = server.wrap_bio(self.s_in, self.s_out, server_side=True)

    def handshake(self) -> None:
        client_done = server_done = False
        for _ in range(50):
            if not client_done:
                try:
                    self.client.do_handshake()
                    client_done = True
                except ssl.SSLWantReadError:
                    pass
            self.s_in.write(self.c_out.read())
            if not server_done:
                try:
                    self.server.do_handshake()
                    server_done = True
                except ssl.SSLWantReadError:
                    pass
            self.c_in.write(self.s_out.read())
            if client_done and server_done:
                return
        raise RuntimeError("handshake did not complete")

    def ping(self) -> None:
        """One byte each way, which delivers TLS 1.3 session tickets to the client."""
        self.client.write(b"?")
        self.s_in.write(self.c_out.read())
        self.server.read(1)
        self.server.write(b"!")
        self.c_in.write(self.s_out.read())
        self.client.read(1)
        self.s_in.write(self.c_out.read())


def full_handshake(pair: Pair, pki: PKI) -> Work:
    return full_handshake_of(*contexts(pair, pki))


def full_handshake_of(client: ssl.SSLContext, server: ssl.SSLContext) -> Work:
    def work() -> int:
        BIOLink(client, server).handshake()
        return 1

    return work


def resumed_handshake(pair: Pair, pki: PKI) -> Work:
    """Resume with the newest ticket each time, as RFC 8446 C.4 asks of clients (OpenSSL 4.0 servers
    stop accepting a TLS 1.3 ticket that is reused many times); the one-byte exchange that delivers
    the new ticket is part of the unit for every backend."""
    return resumed_handshake_of(*contexts(pair, pki), label=pair.label)


def resumed_handshake_of(client: ssl.SSLContext, server: ssl.SSLContext, label: str = "") -> Work:
    first = BIOLink(client, server)
    first.handshake()
    first.ping()
    session = [first.client.session]

    def work() -> int:
        link = BIOLink(client, server, session=session[0])
        link.handshake()
        if not link.client.session_reused:
            raise RuntimeError(f"{label}: the session was not resumed")
        link.ping()
        session[0] = link.client.session
        return 1

    return work


CHUNK = 16384


def bulk_bio(pair: Pair, pki: PKI, suite: str | None = None, megabytes: int = 4) -> Work:
    return bulk_bio_of(*contexts(pair, pki, suite=suite), megabytes=megabytes)


def bulk_bio_of(client: ssl.SSLContext, server: ssl.SSLContext, megabytes: int = 4) -> Work:
    """``megabytes`` per unit from client to server in 16 KiB writes, over memory BIOs."""
    link = BIOLink(client, server)
    link.handshake()
    link.ping()
    payload = b"\x5a" * CHUNK
    buffer = bytearray(CHUNK)
    count = megabytes * 1024 * 1024 // CHUNK
    write, outgoing, incoming, read = link.client.write, link.c_out, link.s_in, link.server.read

    def work() -> int:
        for _ in range(count):
            write(payload)
            incoming.write(outgoing.read())
            received = 0
            while received < CHUNK:
                received += read(CHUNK, buffer)  # type: ignore[operator]  # the count (typeshed: bytes)
        return count * CHUNK

    return work


def want_read_of(client: ssl.SSLContext, server: ssl.SSLContext, reads: int = 1000) -> Work:
    """``reads`` reads per unit on an established connection with nothing received: each raises
    ``SSLWantReadError``, as the last read after every received chunk does in asyncio's SSL protocol."""
    link = BIOLink(client, server)
    link.handshake()
    link.ping()
    read = link.server.read

    def work() -> int:
        for _ in range(reads):
            try:
                read(CHUNK)
            except ssl.SSLWantReadError:
                pass
            else:
                raise RuntimeError("a read with nothing received returned data")
        return reads

    return work


def _socket_pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return client, server


def handshake_socket(pair: Pair, pki: PKI) -> Work:
    client, server = contexts(pair, pki)

    def work() -> int:
        raw_client, raw_server = _socket_pair()
        errors: list[BaseException] = []

        def serve() -> None:
            try:
                server.wrap_socket(raw_server, server_side=True).close()
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        client.wrap_socket(raw_client, server_hostname="localhost").close()
        thread.join()
        if errors:
            raise errors[0]
        return 1

    return work


def serve_bulk(server: ssl.SSLContext, raw: socket.socket, total: int) -> None:
    """Serve TLS on ``raw``: read ``total`` bytes, answer ``b"!"``, again, until the client closes."""
    with server.wrap_socket(raw, server_side=True) as tls:
        buffer = bytearray(65536)
        while True:
            received = 0
            while received < total:
                count = tls.recv_into(buffer)
                if not count:
                    return
                received += count
            tls.sendall(b"!")


def _bulk_server(pair: Pair, pki: PKI, total: int) -> socket.socket:
    """A forked process running ``serve_bulk`` on the other end of the returned client socket (it is a
    daemon, gone with this process anyway)."""
    server = contexts(pair, pki)[1]
    raw_client, raw_server = _socket_pair()

    def serve() -> None:
        raw_client.close()
        serve_bulk(server, raw_server, total)

    multiprocessing.get_context("fork").Process(target=serve, daemon=True).start()
    raw_server.close()
    return raw_client


def bulk_socket(pair: Pair, pki: PKI, megabytes: int = 4) -> Work:
    """The client sends ``megabytes`` per unit through ``TLSSocket.sendall``; the server acknowledges."""
    total = megabytes * 1024 * 1024
    raw = _bulk_server(pair, pki, total)
    return socket_sender(contexts(pair, pki)[0].wrap_socket(raw, server_hostname="localhost"), total)


def bulk_socket_pump(pair: Pair, pki: PKI, megabytes: int = 4) -> Work:
    """As ``bulk_socket``, with the backend's Connection over memory BIOs pumped by a minimal loop."""
    total = megabytes * 1024 * 1024
    return pump_sender(contexts(pair, pki)[0], _bulk_server(pair, pki, total), total)


def socket_sender(tls_client: socket.socket, total: int) -> Work:
    """``bulk_socket``'s client: ``total`` bytes per unit through ``tls_client`` (a ``TLSSocket`` connected
    to a bulk server)."""
    payload = b"\x5a" * CHUNK

    def work() -> int:
        for _ in range(total // CHUNK):
            tls_client.sendall(payload)
        if tls_client.recv(1) != b"!":
            raise RuntimeError("the bulk server stopped")
        return total

    return work


def pump_sender(client: ssl.SSLContext, raw: socket.socket, total: int) -> Work:
    """``bulk_socket_pump``'s client on ``raw``: the same data through a Connection and ``socket.sendall``."""
    incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    connection = client.wrap_bio(incoming, outgoing, server_hostname="localhost")

    def receive_until(operation: Callable[[], Any]) -> Any:
        while True:
            try:
                return operation()
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                data = raw.recv(65536)
                if data:
                    incoming.write(data)
                else:
                    incoming.write_eof()

    receive_until(connection.do_handshake)
    raw.sendall(outgoing.read())
    payload = b"\x5a" * CHUNK
    write, read, send = connection.write, outgoing.read, raw.sendall

    def work() -> int:
        for _ in range(total // CHUNK):
            write(payload)
            send(read())
        if receive_until(lambda: connection.read(1)) != b"!":
            raise RuntimeError("the bulk server stopped")
        return total

    return work


def serve_bulk_download(server: tlsapi.Context, raw: socket.socket, total: int) -> None:
    """Serve TLS on ``raw``: on each ``b"?"``, send ``total`` bytes in 16 KiB writes, until the client closes."""
    payload = b"\xa5" * CHUNK
    with server.wrap_socket(raw, server_side=True) as tls:
        while tls.recv(1) == b"?":
            for _ in range(total // CHUNK):
                tls.sendall(payload)


def socket_receiver(tls_client: socket.socket, total: int) -> Work:
    """The download client: asks for ``total`` bytes and receives them with ``TLSSocket.recv_into``."""
    buffer = bytearray(65536)

    def work() -> int:
        tls_client.sendall(b"?")
        received = 0
        while received < total:
            count = tls_client.recv_into(buffer)
            if not count:
                raise RuntimeError("the bulk server stopped")
            received += count
        return total

    return work


def pump_receiver(client: tlsapi.Context, raw: socket.socket, total: int) -> Work:
    """The download client over the minimal BIO pump: 64 KiB ``recv`` calls (read-ahead), a Connection's reads."""
    incoming, outgoing = tlsapi.MemoryBIO(), tlsapi.MemoryBIO()
    connection = client.wrap_bio(incoming, outgoing, server_hostname="localhost")
    buffer = bytearray(65536)

    def receive_until(operation: Callable[[], Any]) -> Any:
        while True:
            try:
                return operation()
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                data = raw.recv(65536)
                if not data:
                    raise RuntimeError("the bulk server stopped") from None
                incoming.write(data)

    receive_until(connection.do_handshake)

    def work() -> int:
        connection.write(b"?")
        raw.sendall(outgoing.read())
        received = 0
        while received < total:
            received += receive_until(lambda: connection.read(65536, buffer))
        return total

    return work


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Memory:
    """Per established idle connection end: Python heap (tracemalloc) and resident set growth (which
    includes allocations in C libraries such as OpenSSL, invisible to tracemalloc); and the Python-heap
    peak of one handshake (both ends)."""

    python_retained: float
    resident_retained: float
    handshake_peak: float


def idle_memory(pair: Pair, pki: PKI, connections: int = 100) -> Memory:
    client, server = contexts(pair, pki)
    for _ in range(3):  # warm caches (trust stores, imports, allocator pools) before measuring
        BIOLink(client, server).handshake()
    gc.collect()
    resident_before = _resident_bytes()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        links = []
        for _ in range(connections):
            link = BIOLink(client, server)
            link.handshake()
            link.ping()
            links.append(link)
        gc.collect()
        python_retained = (tracemalloc.get_traced_memory()[0] - before) / (2 * connections)
        tracemalloc.stop()
        resident_retained = (_resident_bytes() - resident_before) / (2 * connections)
        tracemalloc.start()
        del links
        gc.collect()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        BIOLink(client, server).handshake()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return Memory(python_retained, max(resident_retained, 0.0), float(peak))
