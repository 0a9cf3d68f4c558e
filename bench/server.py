"""``python -m bench.server``: a real asyncio HTTPS server per backend, under load from another process.

The server is ``asyncio.start_server`` with the backend's server context (each backend's defaults, an
ECDSA P-256 leaf), answering every HTTP/1.1 request with a fixed "hello" response; ``ssl`` is the same
server with a plain ``ssl.SSLContext``, the reference every ratio is to. Each server runs in a process of
its own (started with ``exec``); the load generator is this process, an asyncio client on plain ``ssl``
(the same client for every server, so that only the server's engine changes), with ``--concurrency``
connections in flight. Two loads, each for ``--duration`` seconds per round:

* ``new``: one new TLS connection per request (``Connection: close``): full handshakes, as a public
  endpoint sees them;
* ``keepalive``: ``--requests`` requests per connection, one after the other: the record path.

Rounds are interleaved over the servers so that machine drift hits them alike. The figures are requests per
second (median of the rounds) with their ratio to the ``ssl`` server, and the p50 and p99 latency of a
request (for ``new``, connect and handshake included) over every request of every round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tlsapi

from .cases import PLAIN_SSL, new_context
from .sockets import ROOT, pki_files

REFERENCE = PLAIN_SSL
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n"
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n%s\r\n"
LOADS = ("new", "keepalive")


def server_context(name: str, directory: Path) -> ssl.SSLContext:
    """The server context of backend ``name`` (or of plain ``ssl``), with that engine's defaults."""
    certfile = pki_files(directory)[1]
    context = new_context(ssl.PROTOCOL_TLS_SERVER, name)
    context.load_cert_chain(certfile)
    return context


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve HTTP/1.1 requests on one connection until the client closes it or asks to."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            if b"Connection: close" in head:
                await writer.drain()
                break
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _serve(name: str, directory: Path) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", 0, ssl=server_context(name, directory), backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


@dataclass
class Result:
    """One server under one load: requests per second per round, and every request's latency (seconds)."""

    server: str
    load: str
    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, close: bool) -> None:
    writer.write(REQUEST % (b"Connection: close\r\n" if close else b""))
    await reader.readuntil(b"\r\n\r\n")
    await reader.readexactly(len(RESPONSE) - RESPONSE.index(b"\r\n\r\n") - 4)


async def _load(port: int, client: ssl.SSLContext, load: str, duration: float, concurrency: int,
                per_connection: int) -> tuple[int, list[float]]:
    """Drive the server on ``port`` for ``duration`` seconds; the number of requests and their latencies."""
    deadline = time.perf_counter() + duration
    latencies: list[float] = []

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client,
                                                          server_hostname="localhost")
            try:
                count = 1 if load == "new" else per_connection
                for index in range(count):
                    await _request(reader, writer, close=index == count - 1)
                    now = time.perf_counter()
                    latencies.append(now - started)
                    started = now
                    if now >= deadline:
                        break
            finally:
                writer.close()
                with contextlib.suppress(ConnectionError, ssl.SSLError):
                    await writer.wait_closed()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies


def in_process(client: ssl.SSLContext, server: ssl.SSLContext, load: str, requests: int = 100) -> Callable[[], int]:
    """For ``python -m bench.instructions``: the server and a client of the same engine in one event loop of
    this process; one unit is a new connection with one request (``new``), or ``requests`` requests on one
    open connection (``keepalive``). Returns the unit function (it keeps its loop and connection)."""
    loop = asyncio.new_event_loop()
    listener = loop.run_until_complete(asyncio.start_server(_answer, "127.0.0.1", 0, ssl=server))
    port = listener.sockets[0].getsockname()[1]

    def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return loop.run_until_complete(asyncio.open_connection("127.0.0.1", port, ssl=client,
                                                              server_hostname="localhost"))

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost")
        await _request(reader, writer, close=True)
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()

    if load == "new":
        return lambda: loop.run_until_complete(one_connection()) or 1
    reader, writer = connect()

    async def keepalive() -> int:
        for _ in range(requests):
            await _request(reader, writer, close=False)
        return requests

    return lambda: loop.run_until_complete(keepalive())


def _start(name: str, directory: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "--serve", name, "--pki", str(directory)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise RuntimeError(f"the {name} server did not start")
    return process, int(line)


def measure(names: Sequence[str], directory: Path, *, rounds: int, duration: float, concurrency: int,
            per_connection: int) -> list[Result]:
    """Interleaved rounds of every load against every server; one ``Result`` per (server, load)."""
    client = ssl.create_default_context(cafile=str(pki_files(directory)[0]))
    servers = {name: _start(name, directory) for name in names}
    results = {(name, load): Result(name, load) for load in LOADS for name in names}
    try:
        for index in range(rounds):
            order = list(names[index % len(names):]) + list(names[:index % len(names)])
            for load in LOADS:
                for name in order:
                    started = time.perf_counter()
                    count, latencies = asyncio.run(_load(servers[name][1], client, load, duration, concurrency,
                                                         per_connection))
                    result = results[name, load]
                    result.rates.append(count / (time.perf_counter() - started))
                    result.latencies.extend(latencies)
    finally:
        for process, _ in servers.values():
            process.kill()
            process.wait()
    return list(results.values())


def render(results: list[Result]) -> str:
    reference = {r.load: r.median for r in results if r.server == REFERENCE}
    lines = [f"{'load':<10}{'server':<12}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"]
    for load in LOADS:
        for r in (r for r in results if r.load == load):
            ratio = r.median / reference[load] if reference.get(load) else 0.0
            lines.append(f"{load:<10}{r.server:<12}{r.median:>10.1f}{ratio:>7.2f}x"
                         f"{r.percentile(0.5) * 1000:>9.2f}{r.percentile(0.99) * 1000:>9.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", help="backends to serve with (default: every available one)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load per round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections in flight (default 8)")
    parser.add_argument("--requests", type=int, default=100, help="requests per keep-alive connection")
    parser.add_argument("--pki", type=Path, default=Path("/tmp/tlsapi-bench-pki"), help="PKI directory")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve, args.pki))
        return 0
    names = [REFERENCE, *(args.backends or [b.name for b in tlsapi.backends() if b.is_available()])]
    results = measure(names, args.pki, rounds=args.rounds, duration=args.duration, concurrency=args.concurrency,
                      per_connection=args.requests)
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "median": r.median, "p50": r.percentile(0.5),
                                          "p99": r.percentile(0.99)} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
