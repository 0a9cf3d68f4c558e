"""Load: an asyncio TLS echo server on each backend under 1,000 concurrent connections, and slow-loris clients.

Everything runs on 127.0.0.1 in one event loop. The limits below keep each test under ~60 s on a 2-core
machine. Memory is checked two ways after the clients leave:

* Python objects (``tracemalloc``, started after a warm-up round): what is still allocated may exceed the
  starting level by at most ``TRACED_TOLERANCE`` (256 bytes per connection of the round would fail it).
  The event loop's tables (``selectors``' fd map, the transports' ``WeakValueDictionary``, the tasks'
  ``WeakSet``) are left out: they keep the capacity they grew to (~500 KiB for 2,000 connections), which
  is not a leak;
* process RSS (``/proc/self/statm``, read after glibc's ``malloc_trim(0)`` hands freed heap back to the
  OS): after a round it must be back within ``RSS_TOLERANCE`` of its level before the round. This is what
  catches leaks in C (OpenSSL objects, asyncio's 256 KiB per-connection buffers), which tracemalloc cannot
  see. Without the trim, glibc's fragmentation makes RSS drift by ~100 MiB between identical rounds.
"""

from __future__ import annotations

import _weakrefset
import asyncio
import contextlib
import ctypes
import gc
import os
import resource
import selectors
import socket
import ssl
import time
import tracemalloc
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

import tlsapi
from tlsapi_conformance import harness
from tlsapi_conformance.pki import PKI

#: Concurrent connections in the load round.
CONNECTIONS = 1000
#: Bytes each client sends and expects back (in several writes).
PAYLOAD = 8 * 1024
#: Slow-loris connections that open and then stall, and the normal clients that must still be served.
LORIS = 200
LORIS_NORMAL = 100
#: The server's ssl_handshake_timeout in the slow-loris test (seconds).
HANDSHAKE_TIMEOUT = 2.0
#: Python memory still allocated after the clients left, over the level before the round.
TRACED_TOLERANCE = 256 * 1024
#: Allocations that are container capacity, not per-connection state (see the module docstring).
NOT_PER_CONNECTION = [tracemalloc.Filter(False, str(module.__file__)) for module in (selectors, weakref, _weakrefset)]
#: RSS growth allowed over a round (the round itself peaks at ~700 MiB: 2,000 asyncio SSL buffers).
RSS_TOLERANCE = 8 * 1024 * 1024
#: Hard limit on any one round.
ROUND_TIMEOUT = 50.0


def traced() -> tracemalloc.Snapshot:
    """What Python allocated since ``tracemalloc.start()`` and still holds, less the fd tables' capacity."""
    return tracemalloc.take_snapshot().filter_traces(NOT_PER_CONNECTION)


def check_traced(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> None:
    """Python memory is back within ``TRACED_TOLERANCE`` of ``before``; the biggest growth is shown if not."""
    diff = after.compare_to(before, "lineno")
    growth = sum(stat.size_diff for stat in diff)
    assert growth < TRACED_TOLERANCE, f"{growth} bytes still allocated; top: {[str(s) for s in diff[:5]]}"


def rss() -> int:
    """Resident set size of this process in bytes, after returning freed heap memory to the OS."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(autouse=True)
def _file_descriptors() -> None:
    """Two descriptors per connection (client and server ends are both in this process), plus slack."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * CONNECTIONS + 512
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed, "cannot raise RLIMIT_NOFILE"


@dataclass
class EchoServer:
    """Counts what the echo handlers did: connections, peak concurrency, errors."""

    served: int = 0
    open: int = 0
    peak: int = 0
    errors: list[BaseException] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            self.served += 1
        except Exception as exc:
            self.errors.append(exc)
        finally:
            self.open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5)


async def start(server_ctx: Any, echo: EchoServer, **kwargs: Any) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(echo.handle, "127.0.0.1", 0, ssl=server_ctx, backlog=4096, **kwargs)
    return server, server.sockets[0].getsockname()[1]


async def echo_client(port: int, client_ctx: Any, barrier: asyncio.Barrier | None, size: int = PAYLOAD) -> None:
    """Connect, wait until every client is connected, send ``size`` random bytes in pieces, check the echo."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx, server_hostname="localhost")
    try:
        if barrier is not None:
            await barrier.wait()
        payload = os.urandom(size)
        for start in range(0, size, 3000):
            writer.write(payload[start : start + 3000])
        await writer.drain()
        echoed = await reader.readexactly(size)
        assert echoed == payload, "the echo differs from what was sent"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 5)


async def settle() -> None:
    """Let closing transports finish, then collect."""
    for _ in range(20):
        await asyncio.sleep(0.02)
    gc.collect()


async def load_round(port: int, client_ctx: Any, count: int) -> None:
    barrier = asyncio.Barrier(count)
    results = await asyncio.wait_for(
        asyncio.gather(*(echo_client(port, client_ctx, barrier) for _ in range(count)), return_exceptions=True),
        ROUND_TIMEOUT,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {count} clients failed, first: {failures[0]!r}"


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


def client_context(backend: tlsapi.Backend | None, pki: PKI) -> Any:
    """A client context of ``backend``, or the stdlib ``ssl`` module's when ``backend`` is None."""
    if backend is not None:
        return harness.client_context(backend, pki)
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    return ctx


@pytest.mark.slow
def test_thousand_concurrent_echo_connections(backend: tlsapi.Backend, pki: PKI) -> None:
    """1,000 concurrent stdlib-ssl clients, every byte echoed, then memory back at its starting level."""
    echo = EchoServer()

    async def main() -> None:
        server, port = await start(harness.server_context(backend, pki), echo)
        client_ctx = client_context(None, pki)
        async with server:
            await load_round(port, client_ctx, CONNECTIONS)  # warm-up: arenas, caches, first-use imports
            await settle()
            rss_before = rss()
            tracemalloc.start()
            try:
                traced_before = traced()
                await load_round(port, client_ctx, CONNECTIONS)
                await settle()
                traced_after = traced()
            finally:
                tracemalloc.stop()
            rss_after = rss()
        check_traced(traced_before, traced_after)
        assert rss_after - rss_before < RSS_TOLERANCE, (rss_before, rss_after)

    run(main)
    assert echo.errors == []
    assert echo.served == 2 * CONNECTIONS
    assert echo.peak >= CONNECTIONS
    assert echo.open == 0


@pytest.mark.slow
def test_same_backend_clients(backend: tlsapi.Backend, pki: PKI) -> None:
    """The backend as client and server at once: 300 concurrent connections, every byte intact."""
    echo = EchoServer()

    async def main() -> None:
        server, port = await start(harness.server_context(backend, pki), echo)
        async with server:
            await load_round(port, client_context(backend, pki), 300)
            await settle()

    run(main)
    assert echo.errors == [] and echo.served == 300 and echo.peak >= 300


@pytest.mark.slow
def test_slow_loris_does_not_starve_others(backend: tlsapi.Backend, pki: PKI) -> None:
    """200 connections open and stall (nothing, or half a ClientHello); the server times each out
    (``ssl_handshake_timeout``) while 100 normal clients are served meanwhile, and afterwards memory is
    back at its starting level."""
    echo = EchoServer()
    hello = _client_hello_prefix(pki)

    async def loris(port: int, partial: bool) -> float:
        """Open, send nothing or part of a ClientHello, stall; seconds until the server hung up."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened = time.monotonic()
        try:
            if partial:
                writer.write(hello[: len(hello) // 2])
                await writer.drain()
            with contextlib.suppress(ConnectionError):
                assert await asyncio.wait_for(reader.read(), HANDSHAKE_TIMEOUT * 5) == b""
            return time.monotonic() - opened
        finally:
            writer.close()

    async def main() -> None:
        server, port = await start(harness.server_context(backend, pki), echo,
                                   ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
        client_ctx = client_context(None, pki)
        async with server:
            await load_round(port, client_ctx, 50)  # warm-up
            await settle()
            tracemalloc.start()
            try:
                traced_before = traced()
                lorises = [asyncio.ensure_future(loris(port, i % 2 == 1)) for i in range(LORIS)]
                await asyncio.sleep(0.2)  # the stalled connections are in place first
                started = time.monotonic()
                await load_round(port, client_ctx, LORIS_NORMAL)
                normal_time = time.monotonic() - started
                hung = await asyncio.wait_for(asyncio.gather(*lorises), HANDSHAKE_TIMEOUT * 6)
                await settle()
                traced_after = traced()
            finally:
                tracemalloc.stop()
        # The normal clients finished while every loris was still stalled (not starved behind them) ...
        assert normal_time < HANDSHAKE_TIMEOUT, normal_time
        # ... and each loris was cut off by the handshake timeout, not before, not much after.
        assert min(hung) >= HANDSHAKE_TIMEOUT * 0.9 and max(hung) < HANDSHAKE_TIMEOUT * 4, (min(hung), max(hung))
        check_traced(traced_before, traced_after)

    run(main)
    assert echo.errors == [] and echo.served == 50 + LORIS_NORMAL
    assert echo.open == 0


def _client_hello_prefix(pki: PKI) -> bytes:
    """A real ClientHello record (from the stdlib), for clients that stall half-way through it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = client_context(None, pki).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read()


def test_loopback_only() -> None:
    """The load tests bind 127.0.0.1 only: the server socket's address is loopback."""
    async def main() -> None:
        server, _port = await start(None, EchoServer())
        async with server:
            address = server.sockets[0].getsockname()[0]
            assert socket.inet_aton(address)[0] == 127

    run(main)
